// Direct convolution kernels, one copy per instruction set (conv_direct.cpp).
#pragma once

#include "conv_geometry.h"

namespace lucid::kernels {

#define LUCID_DECLARE_DIRECT(ns)                                                         \
  namespace ns {                                                                         \
  template <class T>                                                                     \
  void conv_scatter_direct(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y); \
  template <class T>                                                                     \
  void conv_gather_direct(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x);  \
  template <class T>                                                                     \
  void conv_weight_grad_direct(const ConvGeom& g, const T* x, const T* y, T* w);         \
  template <class T>                                                                     \
  void conv_backward_direct(const ConvGeom& g, const T* x, const T* w, const T* y, const T* bx, T* gx, T* gw); \
  template <class T>                                                                     \
  void conv_forward_direct(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y); \
  }
LUCID_DECLARE_DIRECT(avx512)
LUCID_DECLARE_DIRECT(avx2)
LUCID_DECLARE_DIRECT(base)
#undef LUCID_DECLARE_DIRECT

}  // namespace lucid::kernels
