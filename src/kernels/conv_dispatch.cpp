// Chooses the kernel behind each convolution entry point.
#include "conv.h"

namespace lucid::kernels {

template <class T>
void conv_scatter(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  conv_scatter_reference(g, x, w, bias, y);
}
template <class T>
void conv_gather(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  conv_gather_reference(g, y, w, bias, x);
}
template <class T>
void conv_weight_grad(const ConvGeom& g, const T* x, const T* y, T* w) {
  conv_weight_grad_reference(g, x, y, w);
}

#define LUCID_INSTANTIATE(T)                                                         \
  template void conv_scatter<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad<T>(const ConvGeom&, const T*, const T*, T*);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels
