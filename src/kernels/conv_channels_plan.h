// How the channels backward (conv_channels_grad.cpp) cuts x into chunks,
// and what one chunk's copies take, and the scratch budgets of both channels
// kernels; shared with the dispatcher, which sends a shape there only where
// the chunks come out large enough and the scratch fits; and how the
// channels forward groups its outputs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "conv_geometry.h"
#include "conv_phases.h"

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

// Outputs per tile of the channels forward (conv_channels_forward.cpp),
// each two vectors of output channels: 6 with AVX2 (12 of its 16
// registers); with AVX-512, 12 on AMD's cores and 9 elsewhere. Zen 4 runs
// 512-bit multiply-adds as two 256-bit halves, and V2's forward took 6.3 ms
// there with 12 against 7.4 with 8. On the Intel Xeon, which has two 512-bit
// multiply-add units, a tile of 12 keeps some of its 12 pointers into x
// on the stack and waits on loads (15 per 12 multiply-adds): one thread,
// V2's forward 16.5-16.6 ms with 12, 15.2-15.3 with 10, 14.3 with 9, 14.9
// with 8 (two threads 9.2-9.3, 8.6, 8.1-8.2, 8.4).
inline int channels_forward_rows(bool avx512) {
  if (!avx512) return 6;
  static const int rows = __builtin_cpu_is("amd") ? 12 : 9;
  return rows;
}

// The budget of one thread's scratch in the channels forward
// (conv_channels_forward.cpp: one chunk's packed weights and its work
// item's sums): 4.5% of its output (9% on two threads), in elements. Fixed,
// not divided by the thread count, which would change how the input
// channels are chunked and so the rounding.
inline double channels_forward_budget(const ConvGeom& g) {
  return 0.045 * static_cast<double>(g.N * g.Cy * g.y_spatial());
}

// The channels forward's outputs, by stride phase (a residue of o + pad per
// axis, conv_phases.h) and, within a phase, by class: along each axis, the
// outputs the same taps of the phase reach x from (all of them in the
// middle, fewer near the edges). A 3-D class is one class per axis: its
// outputs are the product of theirs, and so are its taps.
struct AxisClass {
  std::int64_t tlo = 0, thi = 0;       // taps [tlo, thi) of the phase's list (none: tlo == thi)
  std::vector<std::int64_t> o, ibase;  // the outputs, and the input tap tlo reads for each
};
struct AxisPlan {
  AxisPhase ph;
  std::vector<AxisClass> classes;
};
struct ForwardClass {
  const AxisClass* c[3];
  std::int64_t size() const { return static_cast<std::int64_t>(c[0]->o.size() * c[1]->o.size() * c[2]->o.size()); }
  std::int64_t ntaps() const { return (c[0]->thi - c[0]->tlo) * (c[1]->thi - c[1]->tlo) * (c[2]->thi - c[2]->tlo); }
};
struct ForwardPhase {
  const AxisPlan* p[3];
  std::vector<ForwardClass> classes;
  std::int64_t ntaps() const {
    return static_cast<std::int64_t>(p[0]->ph.k.size() * p[1]->ph.k.size() * p[2]->ph.k.size());
  }
};

struct ForwardClasses {
  std::vector<AxisPlan> axes[3];
  std::vector<ForwardPhase> phases;  // those with outputs

  explicit ForwardClasses(const ConvGeom& g) {
    for (int a = 0; a < 3; ++a)
      for (AxisPhase& ph : axis_phases(g, a)) axes[a].push_back(axis_plan(g, a, std::move(ph)));
    for (const AxisPlan& pd : axes[0])
      for (const AxisPlan& ph : axes[1])
        for (const AxisPlan& pw : axes[2]) {
          ForwardPhase P{{&pd, &ph, &pw}, {}};
          for (const AxisClass& cd : pd.classes)
            for (const AxisClass& ch : ph.classes)
              for (const AxisClass& cw : pw.classes) P.classes.push_back({{&cd, &ch, &cw}});
          if (!P.classes.empty()) phases.push_back(std::move(P));
        }
  }
  ForwardClasses(const ForwardClasses&) = delete;  // (phases point into axes)

  // The share of the slots of tiles of R outputs of one class (over every
  // sample) that hold an output, weighted by the class's taps.
  double fill(const ConvGeom& g, std::int64_t R) const {
    double used = 0, slots = 0;
    for (const ForwardPhase& P : phases)
      for (const ForwardClass& c : P.classes) {
        const double n = static_cast<double>(g.N * c.size()), t = static_cast<double>(std::max<std::int64_t>(1, c.ntaps()));
        used += n * t;
        slots += static_cast<double>((g.N * c.size() + R - 1) / R * R) * t;
      }
    return slots > 0 ? used / slots : 0;
  }

 private:
  static AxisPlan axis_plan(const ConvGeom& g, int a, AxisPhase ph) {
    AxisPlan p{std::move(ph), {}};
    const AxisPhase& f = p.ph;
    const std::int64_t nt = static_cast<std::int64_t>(f.k.size());
    for (std::int64_t q = f.q0; q < f.q0 + f.Q; ++q) {
      std::int64_t lo = nt, hi = 0;
      for (std::int64_t t = 0; t < nt; ++t)
        if (q - f.off[t] >= 0 && q - f.off[t] < g.x[a]) {
          lo = std::min(lo, t);
          hi = std::max(hi, t + 1);
        }
      if (lo >= hi) lo = hi = 0;
      auto it = std::find_if(p.classes.begin(), p.classes.end(),
                             [&](const AxisClass& c) { return c.tlo == lo && c.thi == hi; });
      if (it == p.classes.end()) it = p.classes.insert(p.classes.end(), AxisClass{lo, hi, {}, {}});
      it->o.push_back(f.o(q, g.s[a], g.pad[a]));
      it->ibase.push_back(lo < hi ? q - f.off[lo] : 0);
    }
    return p;
  }
};

}  // namespace lucid::kernels
