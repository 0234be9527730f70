// How the channels backward (conv_channels_grad.cpp) cuts x into chunks,
// and what one chunk's copies take; shared with the dispatcher, which sends
// a shape there only where the chunks come out large enough.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "conv_geometry.h"

namespace lucid::kernels {

// One chunk of x positions: samples [n0, n0 + ns), planes [d0, d0 + ds),
// rows [h0, h0 + hs), every column; position e (natural order) is
// ((nn * ds + id - d0) * hs + ih - h0) * Xw + iw.
struct Chunk {
  std::int64_t n0, ns, d0, ds, h0, hs;
  std::int64_t entries(const ConvGeom& g) const { return ns * ds * hs * g.x[2]; }
};

// The y rows (a = 1) or planes (a = 0) that x positions [i0, i0 + n) reach
// along axis a: [lo, lo + count).
inline std::int64_t y_lo(const ConvGeom& g, int a, std::int64_t i0) {
  return std::max<std::int64_t>(0, i0 * g.s[a] - g.pad[a]);
}
inline std::int64_t y_count(const ConvGeom& g, int a, std::int64_t i0, std::int64_t n) {
  const std::int64_t hi = std::min(g.y[a], (i0 + n - 1) * g.s[a] - g.pad[a] + (g.k[a] - 1) * g.d[a] + 1);
  return std::max<std::int64_t>(0, hi - y_lo(g, a, i0));
}

// How the backward cuts x into chunks, and what one chunk's copies take.
struct ChunkPlan {
  std::int64_t ns = 1, ds = 1, hs = 1;  // samples, planes and rows per chunk
  std::int64_t pd = 1, pr = 1;          // y planes and rows packed per sample (at most)
  std::int64_t entries = 1;             // positions per chunk

  // Elements of scratch one chunk needs: the packed y values (and a row of
  // zeros), the gathered gradient or x channel-last (one buffer: each pass
  // uses one of them), and the table of where each (position, tap) pair's y
  // values start.
  std::int64_t packed(const ConvGeom& g) const { return ns * pd * pr * g.y[2] * g.cy_per_group() + g.cy_per_group(); }
  std::int64_t table_ints(const ConvGeom& g) const { return 3 * entries * g.taps() + g.taps() + 1 + 7 * entries; }
  std::int64_t scratch(const ConvGeom& g, std::size_t elem) const {
    const std::int64_t e = static_cast<std::int64_t>(elem);
    return packed(g) + entries * g.cx_per_group() + (table_ints(g) * 4 + e - 1) / e;
  }
  // As large as fits in `budget` elements: every row of a plane, then every
  // plane of a sample, then as many samples; fewer rows only where one
  // plane of one sample does not fit.
  ChunkPlan(const ConvGeom& g, std::size_t elem, double budget) {
    auto set = [&](std::int64_t n, std::int64_t d, std::int64_t h) {
      ns = n;
      ds = d;
      hs = h;
      pd = std::min(g.y[0], (d - 1) * g.s[0] + (g.k[0] - 1) * g.d[0] + 1);
      pr = std::min(g.y[1], (h - 1) * g.s[1] + (g.k[1] - 1) * g.d[1] + 1);
      entries = n * d * h * g.x[2];
    };
    auto fits = [&] { return static_cast<double>(scratch(g, elem)) <= budget; };
    set(1, 1, g.x[1]);
    while (hs > 1 && !fits()) set(1, 1, (hs + 1) / 2);
    if (hs < g.x[1]) return;
    auto grow = [&](auto next) {  // next() takes one step, or returns false at the end
      for (;;) {
        const ChunkPlan keep = *this;
        if (!next()) return;
        if (!fits()) {
          *this = keep;
          return;
        }
      }
    };
    grow([&] { return ds < g.x[0] ? (set(1, ds + 1, hs), true) : false; });
    if (ds == g.x[0]) grow([&] { return ns < g.N ? (set(ns + 1, ds, hs), true) : false; });
  }
};

// The budget of the channels backward's scratch: 9% of what the backward
// produces (x's and w's gradients), in elements.
inline double channels_budget(const ConvGeom& g) {
  return 0.09 * static_cast<double>(g.N * g.Cx * g.x_spatial() + g.Cx * g.cy_per_group() * g.taps());
}

}  // namespace lucid::kernels
