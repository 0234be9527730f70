// Matrix-product convolution kernels (see conv_gemm.cpp) and their limits.
#pragma once

#include "conv_geometry.h"

namespace lucid::kernels {

// True when the sizes fit the BLAS interface (else use another kernel).
bool gemm_supported(const ConvGeom& g);

template <class T>
void conv_scatter_gemm(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
// The forward as one product per block of output channels, rows (channel,
// tap) against the input itself, then a scatter-add of each row into y.
template <class T>
void conv_scatter_taps(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv_gather_gemm(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x);
template <class T>
void conv_weight_grad_gemm(const ConvGeom& g, const T* x, const T* y, T* w);
// weight_grad into gw and, when gx is not null, gather (without bias) into gx,
// sharing the column chunks of y.
template <class T>
void conv_backward_gemm(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw);
// The same from two fixed halves of the positions, each on one thread, with
// one extra copy of the weight gradient; where halves_fit says that copy and
// the halves' column chunks keep within a tenth of the result (x and w).
template <class T>
void conv_backward_halves(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw);
bool halves_fit(const ConvGeom& g, std::size_t elem);
// The bytes conv_backward_halves takes beyond its results (for two threads).
double halves_scratch(const ConvGeom& g, std::size_t elem);
// One tap, stride 1, no padding (y position i is x position i): the
// columns are y itself, and conv_backward_halves reads it in place.
bool pointwise(const ConvGeom& g);
// The same from chunks of column rows (output channel, tap) over all
// positions of the batch, writing each part of the weight gradient once;
// when rows_fit says the input gradient is the smaller of the two (fewer
// positions than rows), so that it is what each chunk adds to.
template <class T>
void conv_backward_rows(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw);
bool rows_fit(const ConvGeom& g);

}  // namespace lucid::kernels
