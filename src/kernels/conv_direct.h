// Direct convolution kernels, one copy per instruction set (conv_direct.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

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
// The direct forward's blocks of x rows hold, per x row, one row of results
// per tap along the last axis (four taps at a time), within 9% of y (9%/8
// per thread with threads): what conv_forward_direct keeps, and what the
// dispatcher checks before choosing it.
inline std::int64_t direct_forward_held(const ConvGeom& g) { return std::min<std::int64_t>(g.k[2], 4); }
inline double direct_forward_budget(const ConvGeom& g, std::size_t elem, bool threads) {
  return (threads ? 0.09 / 8 : 0.09) * static_cast<double>(g.N * g.Cy * g.y_spatial()) * static_cast<double>(elem);
}

LUCID_DECLARE_DIRECT(avx512)
LUCID_DECLARE_DIRECT(avx2)
LUCID_DECLARE_DIRECT(base)
#undef LUCID_DECLARE_DIRECT

}  // namespace lucid::kernels
