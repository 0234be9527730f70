// The register-blocked direct kernels, one copy per instruction set: the
// transposed convolution's forward, by output rows and by (channel, tap)
// rows (conv_blocked.cpp), the gather, its input gradient, and the weight
// gradient (conv_blocked_grad.cpp), and, for short rows, the forward and
// both gradients vectorised over channels (conv_channels_forward.cpp,
// conv_channels_grad.cpp).
#pragma once

#include "conv_geometry.h"

namespace lucid::kernels {

#define LUCID_DECLARE_BLOCKED(ns)                                                           \
  namespace ns {                                                                            \
  template <class T>                                                                        \
  void conv_scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y); \
  template <class T>                                                                        \
  void conv_scatter_taps_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y); \
  /* the gather at stride 1 as the blocked forward (false, having done nothing, elsewhere: */ \
  /* another stride or padding beyond the taps' span; AVX2 and up only, where the blocked */  \
  /* gather calls it), free to use `spare` (w's size, not w; or null) for its packed weights */ \
  template <class T>                                                                        \
  bool conv_gather_as_forward(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x, T* spare = nullptr); \
  template <class T>                                                                        \
  void conv_gather_blocked(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x);  \
  /* the same, free to use `spare` (w's size, not w) as scratch */                           \
  template <class T>                                                                        \
  void conv_gather_blocked_reusing(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x, T* spare); \
  template <class T>                                                                        \
  void conv_weight_grad_blocked(const ConvGeom& g, const T* x, const T* y, T* w);            \
  /* the same and (gb, or null) the bias gradient: from its copies of y rows where those */ \
  /* hold every y value, else in a pass of its own */                                      \
  template <class T>                                                                        \
  void conv_weight_bias_grad_blocked(const ConvGeom& g, const T* x, const T* y, T* w, T* gb); \
  /* both gradients and the bias gradient in one pass, where it serves (k = s) and its */   \
  /* scratch keeps within `share` of what the backward produces */                         \
  template <class T>                                                                        \
  bool conv_backward_blocked_onepass(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb, \
                                     double share);                                         \
  /* rows: outputs per tile, 0 for channels_forward_rows (AVX-512: 9 or 12) */             \
  template <class T>                                                                        \
  void conv_scatter_channels(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, int rows = 0); \
  template <class T>                                                                        \
  void conv_backward_channels(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw); \
  }
LUCID_DECLARE_BLOCKED(avx512)
LUCID_DECLARE_BLOCKED(avx2)
LUCID_DECLARE_BLOCKED(base)
#undef LUCID_DECLARE_BLOCKED

}  // namespace lucid::kernels
