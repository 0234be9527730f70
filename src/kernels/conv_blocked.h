// The register-blocked direct forward kernel, one copy per instruction set
// (conv_blocked.cpp).
#pragma once

#include "conv_geometry.h"

namespace lucid::kernels {

#define LUCID_DECLARE_BLOCKED(ns)                                                           \
  namespace ns {                                                                            \
  template <class T>                                                                        \
  void conv_scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y); \
  }
LUCID_DECLARE_BLOCKED(avx512)
LUCID_DECLARE_BLOCKED(avx2)
LUCID_DECLARE_BLOCKED(base)
#undef LUCID_DECLARE_BLOCKED

}  // namespace lucid::kernels
