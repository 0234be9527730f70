// The plain geometry every convolution kernel takes.
//
// Kernels see every convolution as 3-D: a 1-D or 2-D problem has leading
// axes of size 1 (kernel 1, stride 1, dilation 1, padding 0). Two sides:
//   x side: (N, Cx, X0, X1, X2)   the transposed conv's input
//   y side: (N, Cy, Y0, Y1, Y2)   the transposed conv's output
//   weight: (Cx, Cy/groups, K0, K1, K2)
// An x element at i and a tap at k meet the y element at o = i*s - pad + k*d
// (per axis) when 0 <= o < Y. The same struct describes a forward conv with
// the sides swapped: its input lives on the y side, its output on the x side.
#pragma once

#include <cstdint>

namespace lucid::kernels {

struct ConvGeom {
  std::int64_t N = 1;
  std::int64_t Cx = 1;
  std::int64_t Cy = 1;
  std::int64_t groups = 1;
  std::int64_t x[3] = {1, 1, 1};
  std::int64_t y[3] = {1, 1, 1};
  std::int64_t k[3] = {1, 1, 1};
  std::int64_t s[3] = {1, 1, 1};
  std::int64_t d[3] = {1, 1, 1};
  std::int64_t pad[3] = {0, 0, 0};  // low padding (elements cropped at the start of y)

  std::int64_t x_spatial() const { return x[0] * x[1] * x[2]; }
  std::int64_t y_spatial() const { return y[0] * y[1] * y[2]; }
  std::int64_t taps() const { return k[0] * k[1] * k[2]; }
  std::int64_t cx_per_group() const { return Cx / groups; }
  // Multiply-adds of one direction (every x element meets every tap of its group's y channels).
  double macs() const {
    return static_cast<double>(N) * static_cast<double>(Cx) * static_cast<double>(Cy / groups) *
           static_cast<double>(x[0] * x[1] * x[2]) * static_cast<double>(k[0] * k[1] * k[2]);
  }
  // Below this much work a parallel region costs more than it saves (and a
  // preempted helper thread would stall the call), so kernels run serially.
  bool worth_threads() const { return macs() > 2.0e6; }
  std::int64_t cy_per_group() const { return Cy / groups; }
};

}  // namespace lucid::kernels
