// Flat ranges of input positions cut into rows, and adding one (channel,
// tap) row of products into the output: shared by the taps products
// (conv_gemm.cpp) and their register-tiled twin (conv_blocked.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_geometry.h"
#include "conv_phases.h"

namespace lucid::kernels {

// Row segments of a flat range [p0, p1) over a grid of rows (A x B) of C columns.
struct Segment {
  std::int64_t a, b, c0, c1, j0;
};

inline void segments(std::int64_t B, std::int64_t C, std::int64_t p0, std::int64_t p1, std::vector<Segment>& out) {
  out.clear();
  for (std::int64_t p = p0; p < p1;) {
    const std::int64_t row = p / C, c0 = p % C, c1 = std::min(C, c0 + (p1 - p));
    out.push_back({row / B, row % B, c0, c1, p - p0});
    p += c1 - c0;
  }
}

// Where tap kf puts input position i: o = i * s - pad + k * d per axis,
// the offsets (-pad + k * d) and, along the last axis, the inputs that land
// inside y ([lo2, hi2)). One per tap, computed once per call.
struct TapPlace {
  std::int64_t o0, o1, o2, lo2, hi2;
};

inline std::vector<TapPlace> tap_places(const ConvGeom& g) {
  std::vector<TapPlace> out;
  for (std::int64_t kf = 0; kf < g.taps(); ++kf) {
    const std::int64_t k0 = kf / (g.k[1] * g.k[2]), k1 = (kf / g.k[2]) % g.k[1], k2 = kf % g.k[2];
    TapPlace p{-g.pad[0] + k0 * g.d[0], -g.pad[1] + k1 * g.d[1], -g.pad[2] + k2 * g.d[2], 0, 0};
    valid_inputs(g.x[2], g.y[2], g.s[2], g.pad[2], k2 * g.d[2], p.lo2, p.hi2);
    out.push_back(p);
  }
  return out;
}

// yc[o(i, tap)] += src[j] for the input positions i of `segs` (src[j0 + c - c0]
// holds position c of a segment's row): one output channel, one tap.
template <class T>
void add_tap_row(const ConvGeom& g, const TapPlace& tp, const T* src, const std::vector<Segment>& segs, T* yc) {
  const std::int64_t sw = g.s[2];
  for (const Segment& sg : segs) {
    const std::int64_t od = sg.a * g.s[0] + tp.o0, oh = sg.b * g.s[1] + tp.o1;
    if (od < 0 || od >= g.y[0] || oh < 0 || oh >= g.y[1]) continue;
    T* yr = yc + (od * g.y[1] + oh) * g.y[2] + tp.o2;
    const T* s = src + sg.j0 - sg.c0;
    const std::int64_t lo = std::clamp(tp.lo2, sg.c0, sg.c1), hi = std::clamp(tp.hi2, lo, sg.c1);
    if (sw == 1) {
      for (std::int64_t iw = lo; iw < hi; ++iw) yr[iw] += s[iw];
    } else {
      for (std::int64_t iw = lo; iw < hi; ++iw) yr[iw * sw] += s[iw];
    }
  }
}

}  // namespace lucid::kernels
