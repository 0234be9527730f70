// Direct kernels for convolutions with one or two channel pairs per group
// (depthwise, and the like), one copy per instruction set
// (conv_depthwise.cpp): memory-bound, so they read each element once per
// call from a packed copy in cache and write each result once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "conv_geometry.h"
#include "conv_phases.h"

namespace lucid::kernels {

#define LUCID_DECLARE_DEPTHWISE(ns)                                                             \
  namespace ns {                                                                                \
  template <class T>                                                                            \
  void conv_scatter_depthwise(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);  \
  template <class T>                                                                            \
  void conv_gather_depthwise(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x);   \
  template <class T>                                                                            \
  void conv_weight_grad_depthwise(const ConvGeom& g, const T* x, const T* y, T* w);             \
  template <class T>                                                                            \
  void conv_backward_depthwise(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb); \
  template <class T>                                                                            \
  void conv_backward_depthwise_bands(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb, \
                                     std::int64_t band);                                        \
  }
LUCID_DECLARE_DEPTHWISE(avx512)
LUCID_DECLARE_DEPTHWISE(avx2)
LUCID_DECLARE_DEPTHWISE(base)
#undef LUCID_DECLARE_DEPTHWISE

// The gradients' packed y rows (conv_depthwise.cpp), for vectors of W
// values: a phase row of Lp values (x's row in whole vectors, and the taps'
// reach along the last axis: y_phase_reach), a packed y row of prow values (every
// phase of every channel of the group); rows of x meet `reach` y rows, from
// pt rows above y to pb rows below it, and planes of x nwin y planes.
struct DepthwiseGradRows {
  std::int64_t Lp, prow, reach, pt, pb, nwin;
  DepthwiseGradRows(const ConvGeom& g, std::int64_t W) {
    Lp = (g.x[2] + W - 1) / W * W + y_phase_reach(g);
    prow = g.cy_per_group() * g.s[2] * Lp;
    reach = (g.k[1] - 1) * g.d[1] + 1;
    pt = std::max<std::int64_t>(0, g.pad[1]);
    pb = std::max<std::int64_t>(0, (g.x[1] - 1) * g.s[1] - g.pad[1] + reach - g.y[1]);
    nwin = (g.k[0] - 1) * g.d[0] + 1;
  }
  // A whole packed plane, padding rows included.
  std::int64_t plane(const ConvGeom& g) const { return (pt + g.y[1] + pb) * prow; }
};

// The gradients' packed y rows held: whole planes in a ring (0) where the
// threads' rings keep within 7% of what the backward produces, otherwise
// bands of this many rows of x (large planes, few of them: a 2-D problem's
// ring would be a whole channel of y, four times the x channel it produces
// at stride 2). conv_backward_depthwise_bands takes the band as given (the
// baseline build, with no packed rows, ignores it).
inline std::int64_t depthwise_backward_band(const ConvGeom& g, std::size_t elem) {
  const DepthwiseGradRows lay(g, static_cast<std::int64_t>(32 / elem));  // 256-bit vectors
  // Values per thread: 7% of what the backward produces over the threads
  // that run (two where the problem is worth them).
  const double budget = 0.07 / (g.worth_threads() ? 2.0 : 1.0) *
                        static_cast<double>(g.N * g.Cx * g.x_spatial() + g.Cx * g.cy_per_group() * g.taps());
  if (static_cast<double>(lay.nwin * lay.plane(g)) <= budget) return 0;
  const std::int64_t rows = static_cast<std::int64_t>(budget) / (g.k[0] * lay.prow);  // y rows a band may hold
  return std::clamp<std::int64_t>((rows - lay.reach) / g.s[1] + 1, 1, std::max<std::int64_t>(g.x[1], 1));
}

}  // namespace lucid::kernels
