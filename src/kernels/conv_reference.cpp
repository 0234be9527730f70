// Plain-loop convolution kernels and channel sum: the definition, written
// out. Slow, exact (every sum accumulates in double), and the oracle every
// fast kernel is tested against.
#include <cassert>
#include <vector>

#include "conv.h"

namespace lucid::kernels {
namespace {

// Calls f(o_flat, i_flat, k_flat) for every (x position i, tap k) pair that
// lands inside y, in a fixed order.
template <class F>
inline void for_each_pair(const ConvGeom& g, F&& f) {
  for (std::int64_t i0 = 0; i0 < g.x[0]; ++i0)
    for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0) {
      const std::int64_t o0 = i0 * g.s[0] - g.pad[0] + k0 * g.d[0];
      if (o0 < 0 || o0 >= g.y[0]) continue;
      for (std::int64_t i1 = 0; i1 < g.x[1]; ++i1)
        for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1) {
          const std::int64_t o1 = i1 * g.s[1] - g.pad[1] + k1 * g.d[1];
          if (o1 < 0 || o1 >= g.y[1]) continue;
          for (std::int64_t i2 = 0; i2 < g.x[2]; ++i2)
            for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) {
              const std::int64_t o2 = i2 * g.s[2] - g.pad[2] + k2 * g.d[2];
              if (o2 < 0 || o2 >= g.y[2]) continue;
              f((o0 * g.y[1] + o1) * g.y[2] + o2, (i0 * g.x[1] + i1) * g.x[2] + i2,
                (k0 * g.k[1] + k1) * g.k[2] + k2);
            }
        }
    }
}

}  // namespace

template <class T>
void conv_scatter_reference(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  assert(g.Cx % g.groups == 0 && g.Cy % g.groups == 0);
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), K = g.taps();
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t cy = 0; cy < g.Cy; ++cy) {
      std::vector<double> acc(static_cast<std::size_t>(Y), bias ? double(bias[cy]) : 0.0);
      const std::int64_t grp = cy / cyg, cyl = cy % cyg;
      for (std::int64_t cx = grp * cxg; cx < (grp + 1) * cxg; ++cx) {
        const T* xr = x + (n * g.Cx + cx) * X;
        const T* wr = w + (cx * cyg + cyl) * K;
        for_each_pair(g, [&](std::int64_t o, std::int64_t i, std::int64_t k) {
          acc[static_cast<std::size_t>(o)] += double(xr[i]) * double(wr[k]);
        });
      }
      T* yr = y + (n * g.Cy + cy) * Y;
      for (std::int64_t o = 0; o < Y; ++o) yr[o] = static_cast<T>(acc[static_cast<std::size_t>(o)]);
    }
}

template <class T>
void conv_gather_reference(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  assert(g.Cx % g.groups == 0 && g.Cy % g.groups == 0);
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), K = g.taps();
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t cx = 0; cx < g.Cx; ++cx) {
      std::vector<double> acc(static_cast<std::size_t>(X), bias ? double(bias[cx]) : 0.0);
      const std::int64_t grp = cx / cxg;
      for (std::int64_t cyl = 0; cyl < cyg; ++cyl) {
        const T* yr = y + (n * g.Cy + grp * cyg + cyl) * Y;
        const T* wr = w + (cx * cyg + cyl) * K;
        for_each_pair(g, [&](std::int64_t o, std::int64_t i, std::int64_t k) {
          acc[static_cast<std::size_t>(i)] += double(yr[o]) * double(wr[k]);
        });
      }
      T* xr = x + (n * g.Cx + cx) * X;
      for (std::int64_t i = 0; i < X; ++i) xr[i] = static_cast<T>(acc[static_cast<std::size_t>(i)]);
    }
}

template <class T>
void conv_weight_grad_reference(const ConvGeom& g, const T* x, const T* y, T* w) {
  assert(g.Cx % g.groups == 0 && g.Cy % g.groups == 0);
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), K = g.taps();
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t cx = 0; cx < g.Cx; ++cx)
    for (std::int64_t cyl = 0; cyl < cyg; ++cyl) {
      std::vector<double> acc(static_cast<std::size_t>(K), 0.0);
      const std::int64_t cy = (cx / cxg) * cyg + cyl;
      for (std::int64_t n = 0; n < g.N; ++n) {
        const T* xr = x + (n * g.Cx + cx) * X;
        const T* yr = y + (n * g.Cy + cy) * Y;
        for_each_pair(g, [&](std::int64_t o, std::int64_t i, std::int64_t k) {
          acc[static_cast<std::size_t>(k)] += double(xr[i]) * double(yr[o]);
        });
      }
      T* wr = w + (cx * cyg + cyl) * K;
      for (std::int64_t k = 0; k < K; ++k) wr[k] = static_cast<T>(acc[static_cast<std::size_t>(k)]);
    }
}

template <class T>
void channel_sum_reference(std::int64_t N, std::int64_t C, std::int64_t S, const T* in, T* out) {
  for (std::int64_t c = 0; c < C; ++c) {
    double acc = 0;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t i = 0; i < S; ++i) acc += double(in[(n * C + c) * S + i]);
    out[c] = static_cast<T>(acc);
  }
}

#define LUCID_INSTANTIATE(T)                                                                   \
  template void conv_scatter_reference<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather_reference<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad_reference<T>(const ConvGeom&, const T*, const T*, T*);        \
  template void channel_sum_reference<T>(std::int64_t, std::int64_t, std::int64_t, const T*, T*);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels
