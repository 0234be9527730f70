// Convolution kernels. Three kernels serve the six convolution operations:
//
//   scatter      y = conv_transpose(x, w) + b     (= conv input-grad, without b)
//   gather       x = conv(y, w) + b               (= conv_transpose input-grad, without b)
//   weight_grad  w = sum_n sum_i x[i] * y[o(i,k)] (both weight gradients)
//   channel_sum  b[c] = sum over batch and positions (both bias gradients)
//
// Raw pointers, contiguous NC(DHW) layout; `bias` may be null. Preconditions
// (a valid geometry, buffers of the right size) are asserted, never thrown.
// Each has a plain-loop *_reference twin, kept forever as the test oracle.
// Every output element is computed by one thread in a fixed order, so
// results do not depend on the thread count.
#pragma once

#include <cstddef>

#include "conv_geometry.h"

namespace lucid::kernels {

template <class T>
void conv_scatter(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv_gather(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x);
template <class T>
void conv_weight_grad(const ConvGeom& g, const T* x, const T* y, T* w);
// The gradients of a transposed convolution from y (= its output gradient):
// gx = gather(y, w) without bias, gw = weight_grad(x, y) and the bias
// gradient gb = channel_sum(y); any pointer may be null. Shares work (and
// passes over y) between them where the kernel allows.
template <class T>
void conv_transpose_backward(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb = nullptr);
// out[c] = sum over n and s of in[n, c, s] for an (N, C, S) array.
template <class T>
void channel_sum(std::int64_t N, std::int64_t C, std::int64_t S, const T* in, T* out);

// The instruction set the direct kernels run in: "avx512", "avx2" or "base".
// LUCID_ISA=avx2 or LUCID_ISA=base in the environment narrows it.
const char* kernel_isa();
// The per-thread scratch the fast kernels keep between calls, in bytes.
std::size_t scratch_bytes();
// Releases that scratch (each thread frees its part on its next kernel call);
// scratch_bytes() counts again from zero.
void release_scratch();

template <class T>
void conv_scatter_reference(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv_gather_reference(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x);
template <class T>
void conv_weight_grad_reference(const ConvGeom& g, const T* x, const T* y, T* w);
template <class T>
void channel_sum_reference(std::int64_t N, std::int64_t C, std::int64_t S, const T* in, T* out);

}  // namespace lucid::kernels
