// Direct kernels for convolutions with one or two channel pairs per group
// (depthwise, and the like), one copy per instruction set
// (conv_depthwise.cpp): memory-bound, so they read each element once per
// call from a packed copy in cache and write each result once.
#pragma once

#include "conv_geometry.h"

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
  }
LUCID_DECLARE_DEPTHWISE(avx512)
LUCID_DECLARE_DEPTHWISE(avx2)
LUCID_DECLARE_DEPTHWISE(base)
#undef LUCID_DECLARE_DEPTHWISE

}  // namespace lucid::kernels
