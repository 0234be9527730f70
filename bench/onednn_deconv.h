// oneDNN 2.6 transposed convolution (its "deconvolution"), forward and
// backward, in the plain NCDHW layout or in its preferred blocked layouts
// with the reorders a framework needs counted in.
#pragma once

#include <cstdint>
#include <memory>

struct DeconvShape {
  std::int64_t N, Cin, Cout, groups, I, O, k, s, p, op, d;
};

class OneDnnDeconv {
 public:
  // blocked: let oneDNN pick layouts (format any) and reorder around the call.
  OneDnnDeconv(const DeconvShape& shape, bool blocked);
  ~OneDnnDeconv();
  // Plain-layout buffers: x (N,Cin,I^3), w (Cin,Cout/g,k^3), b (Cout), y (N,Cout,O^3).
  void forward(const float* x, const float* w, const float* b, float* y);
  // gx, gw, gb from gy (and x, w).
  void backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
