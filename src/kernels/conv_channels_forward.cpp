// The forward of a transposed convolution whose output rows are too short
// for the row-vectorised kernels (a few positions per phase row, many
// channels: the deep end of a decoder), with vectors over output channels.
//
//   y[n, co, o] = b[co] + sum over taps t, ci of w[ci, co, t] * x[n, ci, i(o, t)]
//
// Each stride phase (a residue of o + pad per axis, conv_phases.h) meets
// only its own taps, and along each axis its outputs fall into classes by
// which of those taps reach x: the middle ones all, the ones near the edges
// fewer. A class's outputs share one list of taps, so a tile of R outputs
// of one class (over every sample) x NV vectors of output channels sums in
// registers over exactly the taps that reach x and a chunk of input
// channels: no multiply-add meets an inserted zero or an edge (a third of
// them in a 4^3 input with 4 taps, stride 2 and padding 1). x is read in
// place (a tile's R values of one input channel are broadcast from it).
//
// Work items are (group, block of output channels, run of sets of phases,
// range of their outputs), each on one thread; a set is the phases that
// differ only along w, or one phase where their sums do not fit the
// budget, and a run the sets that share their phase along d. An
// item runs its input channels in chunks: it packs one chunk's weights
// [tap][ci][co] for every tap of the set (16 KiB at most, so they stay in L1 while its tiles pass, with the
// chunk's x values), and each tile adds the chunk's products to the sums
// of its outputs, which the item keeps in its scratch ([output][co], both
// within the budget) and writes, plus the bias, to y after the last
// chunk. Each output element is so summed in a fixed order whatever the
// number of threads. On the Intel Xeon, V2's forward (8 256 128 4 4 2 1 0
// 1 1) took 13.5-14.1 ms on one thread and 7.2-7.7 on two this way,
// against 15.2-15.4 and 8.8-8.9 with the weights of all input channels
// packed for up to 5 taps (16 co) and read from L2, the taps in groups each
// adding its sums to y. (Items shared by both threads, with one packed
// copy between them, needed two barriers each: on a busy machine, where a
// thread is often descheduled, V2's forward took 500 ms instead of 20.) Compiled once per
// instruction set like conv_blocked.cpp.
#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include "conv_blocked.h"
#include "conv_channels_plan.h"
#include "conv_phases.h"

#include "isa_target.h"

#if LUCID_ISA_LEVEL >= 1
#include <immintrin.h>

LUCID_ISA_BEGIN
#include "blocked_tile.h"

namespace lucid::kernels::LUCID_ISA {
namespace {

// Outputs per tile: channels_forward_rows (conv_channels_plan.h), which
// the dispatcher's fill check uses too.
// y for R outputs (x values of tap 0 at xr[r]; tap j's at xr[r] - taps[2j + 1])
// x NV vectors of output channels, summed over ntaps >= 1 taps (weights at
// wp + taps[2j], [ci][2 * W]) and cxg >= 1 input channels X apart in x,
// added to the sums at init (none: from zero); stored [r][NV * W] at out.
template <class T, int NV, int R>
void forward_tile(const T* const* xr, const std::int64_t* taps, std::int64_t ntaps, const T* wp, std::int64_t cxg,
                  std::int64_t X, const T* init, T* out) {
  using VT = typename Pairs<T, NV>::VT;  // the registers the NV vectors sit in
  using V = typename VT::V;
  constexpr int NP = Pairs<T, NV>::N;
  constexpr int BW = NV * Vec<T>::W, pitch = 2 * Vec<T>::W;
  V acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NP; ++v) acc[r][v] = init ? VT::load(init + r * BW + v * VT::W) : VT::zero();
  // (loops that may run zero times make GCC keep acc on the stack as well)
  const std::int64_t* const end = taps + 2 * ntaps;
  do {
    const T* wt = wp + taps[0];
    const T* xp[R];
    for (int r = 0; r < R; ++r) xp[r] = xr[r] - taps[1];
    std::int64_t ci = 0;
    do {
      V wv[NP];
      for (int v = 0; v < NP; ++v) wv[v] = VT::load(wt + v * VT::W);
      for (int r = 0; r < R; ++r) {
        const V b = VT::bcast(xp[r] + ci * X);
        for (int v = 0; v < NP; ++v) acc[r][v] = VT::fma(b, wv[v], acc[r][v]);
      }
      wt += pitch;
    } while (++ci != cxg);
    taps += 2;
  } while (taps != end);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NP; ++v) VT::store(out + r * BW + v * VT::W, acc[r][v]);
}

// Bytes of one chunk's packed weights (every tap of a set of phases, a chunk of
// input channels, one block of output channels): small enough to stay in
// L1 while the item's tiles pass, with the x values of the chunk.
constexpr std::int64_t kChunkBytes = 16384;

template <class T, int R>
void scatter_channels(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  constexpr std::int64_t W = Vec<T>::W, BW = 2 * W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();
  if (g.N == 0) return;
  const ForwardClasses fc(g);
  const double budget = channels_forward_budget(g);
  // The phases in sets: those next to each other that differ only along w
  // (their taps lie in the same lines of w, which a set's chunk reads once),
  // where every set's sums and its weights for 8 input channels fit in the
  // budget; otherwise one phase each. V2's forward (two phases a set,
  // chunks of 16 input channels) on the Intel Xeon, alternating runs: one
  // thread 12.0-12.9 ms against 12.1-13.4 with one phase each, two threads
  // 6.5-7.0 against 7.0-7.1.
  const std::int64_t nphases = static_cast<std::int64_t>(fc.phases.size());
  std::vector<std::int64_t> set_start{0};  // the sets' first phases, and nphases
  for (std::int64_t pi = 1; pi < nphases; ++pi) {
    const ForwardPhase &P = fc.phases[static_cast<std::size_t>(pi)], &Q = fc.phases[static_cast<std::size_t>(pi - 1)];
    if (P.p[0] != Q.p[0] || P.p[1] != Q.p[1]) set_start.push_back(pi);
  }
  set_start.push_back(nphases);
  // A set's outputs (over every sample) and taps.
  const auto set_size = [&](std::int64_t si) {
    std::int64_t n = 0, nt = 0;
    for (std::int64_t pi = set_start[static_cast<std::size_t>(si)]; pi < set_start[static_cast<std::size_t>(si) + 1]; ++pi) {
      const ForwardPhase& P = fc.phases[static_cast<std::size_t>(pi)];
      for (const ForwardClass& c : P.classes) n += g.N * c.size();
      nt += P.ntaps();
    }
    return std::array<std::int64_t, 2>{n, nt};
  };
  bool sets = true;
  for (std::int64_t si = 0; si + 1 < static_cast<std::int64_t>(set_start.size()); ++si) {
    const auto [n, nt] = set_size(si);
    sets = sets && static_cast<double>((n + nt * std::min<std::int64_t>(cxg, 8)) * BW) <= budget;
  }
  if (!sets) {
    set_start.resize(static_cast<std::size_t>(nphases) + 1);
    std::iota(set_start.begin(), set_start.end(), 0);
  }
  const std::int64_t nsets = static_cast<std::int64_t>(set_start.size()) - 1;
  // Input channels per chunk: every tap of the largest set within
  // kChunkBytes, and within what the sums leave of the budget (half of it
  // where phases are alone and their outputs may run in ranges).
  std::int64_t max_taps = 1, max_outputs = 1;
  for (std::int64_t si = 0; si < nsets; ++si) {
    const auto [n, nt] = set_size(si);
    max_taps = std::max(max_taps, nt);
    max_outputs = std::max(max_outputs, n);
  }
  const std::int64_t cc = std::clamp<std::int64_t>(
      std::min<std::int64_t>(kChunkBytes / (max_taps * BW * static_cast<std::int64_t>(sizeof(T))),
                             static_cast<std::int64_t>(sets ? budget - static_cast<double>(max_outputs * BW) : budget / 2) /
                                 (max_taps * BW)),
      1, cxg);
  const std::int64_t per_tap = cc * BW, packed = max_taps * per_tap;
  // Outputs per work item: their sums over the chunks in the rest of the budget.
  const std::int64_t cap = std::max<std::int64_t>(R, static_cast<std::int64_t>(budget - static_cast<double>(packed)) / BW);

  // Per set, its phases' kernel taps (w's last index) one after the other,
  // and per class of each phase its taps (weight offset, x offset).
  struct ClassTaps {
    const ForwardClass* c;
    std::vector<std::int64_t> taps;
  };
  struct SetTaps {
    std::vector<std::int64_t> t;
    std::vector<ClassTaps> cls;
    std::int64_t outputs = 0;  // over every sample
  };
  std::vector<SetTaps> set_taps(static_cast<std::size_t>(nsets));
  for (std::int64_t si = 0; si < nsets; ++si) {
    SetTaps& pt = set_taps[static_cast<std::size_t>(si)];
    for (std::int64_t pi = set_start[static_cast<std::size_t>(si)]; pi < set_start[static_cast<std::size_t>(si) + 1]; ++pi) {
      const ForwardPhase& P = fc.phases[static_cast<std::size_t>(pi)];
      const std::int64_t nt = P.ntaps(), n1 = P.p[1]->ph.k.size(), n2 = P.p[2]->ph.k.size();
      const std::int64_t j0 = static_cast<std::int64_t>(pt.t.size());
      for (std::int64_t j = 0; j < nt; ++j) {
        const std::int64_t td = j / (n1 * n2), th = j / n2 % n1, tw = j % n2;
        pt.t.push_back((P.p[0]->ph.k[td] * g.k[1] + P.p[1]->ph.k[th]) * g.k[2] + P.p[2]->ph.k[tw]);
      }
      for (const ForwardClass& c : P.classes) {
        ClassTaps ct{&c, {}};
        const AxisClass &cd = *c.c[0], &ch = *c.c[1], &cw = *c.c[2];
        const AxisPhase &pd = P.p[0]->ph, &ph = P.p[1]->ph, &pw = P.p[2]->ph;
        for (std::int64_t td = cd.tlo; td < cd.thi; ++td)
          for (std::int64_t th = ch.tlo; th < ch.thi; ++th)
            for (std::int64_t tw = cw.tlo; tw < cw.thi; ++tw) {
              const std::int64_t j = (td * n1 + th) * n2 + tw;
              const std::int64_t dx = ((pd.off[td] - pd.off[cd.tlo]) * g.x[1] + ph.off[th] - ph.off[ch.tlo]) * g.x[2] +
                                      pw.off[tw] - pw.off[cw.tlo];
              ct.taps.push_back((j0 + j) * per_tap);
              ct.taps.push_back(dx);
            }
        pt.outputs += g.N * c.size();
        pt.cls.push_back(std::move(ct));
      }
    }
  }
  // Work items: (group, block of output channels, run of sets, range of
  // their outputs), the outputs cut into as many ranges as give 8 items or
  // more and keep each range within cap (fixed by the problem, not the
  // thread count). A run is the sets whose phases share their phase along
  // d, and so the lines of w their chunks read: one item takes them in
  // turn, the second finding those lines in its core's L2 where the
  // first left them, where 8 items or more remain. V2's forward on the
  // Intel Xeon (a loaded machine), alternating builds, minima: two threads
  // 7.07-7.39 ms -> 6.66-7.38 (four of five pairs faster), one thread
  // 14.4-15.0 -> 14.1-14.6.
  const std::int64_t cblocks = (cyg + BW - 1) / BW;
  std::vector<std::int64_t> run_start{0};  // the runs' first sets, and nsets
  for (std::int64_t si = 1; si < nsets; ++si)
    if (fc.phases[static_cast<std::size_t>(set_start[static_cast<std::size_t>(si)])].p[0] !=
        fc.phases[static_cast<std::size_t>(set_start[static_cast<std::size_t>(si) - 1])].p[0])
      run_start.push_back(si);
  if (g.groups * cblocks * static_cast<std::int64_t>(run_start.size()) < 8) {
    run_start.resize(static_cast<std::size_t>(nsets));
    std::iota(run_start.begin(), run_start.end(), 0);
  }
  run_start.push_back(nsets);
  const std::int64_t nruns = static_cast<std::int64_t>(run_start.size()) - 1;
  const std::int64_t base = g.groups * cblocks * nruns;
  const std::int64_t ranges = std::min(std::max((8 + base - 1) / std::max<std::int64_t>(base, 1), (max_outputs + cap - 1) / cap),
                                       (max_outputs + R - 1) / R);
  const std::int64_t sums_len = std::min(cap, (max_outputs + ranges - 1) / ranges);
  const bool threads = g.worth_threads();

#pragma omp parallel if (threads)
  {
    T* wp = thread_scratch<T>(static_cast<std::size_t>(packed + sums_len * BW), 1);
    T* sums = wp + packed;  // [output of the item][ld]
    struct Tile {
      const ClassTaps* ct;
      std::int64_t nr, at;  // outputs, and where their sums start
      const T* xr[R];
    };
    std::vector<Tile> tiles;
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t item = 0; item < base * ranges; ++item) {
      const std::int64_t grp = item / (cblocks * nruns * ranges), b = item / (nruns * ranges) % cblocks;
      const std::int64_t ri = item / ranges % nruns, rg = item % ranges;
      for (std::int64_t pi = run_start[static_cast<std::size_t>(ri)]; pi < run_start[static_cast<std::size_t>(ri) + 1];
           ++pi) {
        const SetTaps& pt = set_taps[static_cast<std::size_t>(pi)];
        const std::int64_t lo = rg * pt.outputs / ranges, hi = (rg + 1) * pt.outputs / ranges;
        const std::int64_t co0 = b * BW, bw = std::min(BW, cyg - co0), NVb = bw / W, ld = NVb * W;
        const T* xg = x + grp * cxg * X;
        T* yg = y + (grp * cyg + co0) * Y;
        const T* bg = bias ? bias + grp * cyg + co0 : nullptr;
        // The item's tiles: outputs [lo, hi) of the set, in order of phase, class,
        // then sample, then position in the class.
        tiles.clear();
        std::int64_t first = 0;  // the set's first output of the class
        for (const ClassTaps& ct : pt.cls) {
          const ForwardClass& c = *ct.c;
          const std::int64_t size = c.size(), nh = c.c[1]->o.size(), nw = c.c[2]->o.size();
          const std::int64_t k1 = std::min(hi, first + g.N * size) - first;
          for (std::int64_t k0 = std::max<std::int64_t>(lo - first, 0); k0 < k1; k0 += R) {
            Tile t{&ct, std::min<std::int64_t>(R, k1 - k0), first + k0 - lo, {}};
            for (std::int64_t r = 0; r < R; ++r) {
              const std::int64_t k = k0 + std::min(r, t.nr - 1), n = k / size, e = k % size;
              const std::size_t jd = static_cast<std::size_t>(e / (nh * nw)), jh = static_cast<std::size_t>(e / nw % nh),
                                jw = static_cast<std::size_t>(e % nw);
              t.xr[r] = xg + n * g.Cx * X + (c.c[0]->ibase[jd] * g.x[1] + c.c[1]->ibase[jh]) * g.x[2] + c.c[2]->ibase[jw];
            }
            tiles.push_back(t);
          }
          first += g.N * size;
        }
        for (std::int64_t c0 = 0; c0 < cxg; c0 += cc) {
          const std::int64_t cl = std::min(cc, cxg - c0);
          // The chunk's weights: wp[j][ci - c0][c] = w[ci][co0 + c][tap j] (c < bw, rows of BW),
          // each row of w (one output channel's taps) read whole before the
          // next: read a tap at a time, each value came from a line of its
          // own (V2's forward 7.09 -> 6.72, 7.00 -> 6.33 and 6.83 -> 6.66 ms
          // in three alternations, build/bench/kernel_time 8 256 128 4 4 2 1
          // 0 1 1 float32 fwd 10, two threads, minima of six to eight;
          // float64 and AVX2 level).
          for (std::int64_t ci = c0; ci < c0 + cl; ++ci) {
            const T* src = w + ((grp * cxg + ci) * cyg + co0) * K;
            T* dst = wp + (ci - c0) * BW;
            const std::size_t nt = pt.t.size();
            for (std::int64_t c = 0; c < bw; ++c) {
              const T* row = src + c * K;
              for (std::size_t j = 0; j < nt; ++j) dst[static_cast<std::int64_t>(j) * per_tap + c] = row[pt.t[j]];
            }
          }
          for (const Tile& t : tiles) {
            const std::int64_t nt = static_cast<std::int64_t>(t.ct->taps.size()) / 2;
            T* s = sums + t.at * ld;
            if (nt == 0) {
              if (c0 == 0) std::fill(s, s + t.nr * ld, T(0));
              continue;
            }
            const T* xr[R];
            for (int r = 0; r < R; ++r) xr[r] = t.xr[r] + c0 * X;
            alignas(64) T part[R * BW];
            T* out = t.nr == R ? s : part;
            if (c0 > 0 && out == part) std::copy(s, s + t.nr * ld, part);
            const T* init = c0 == 0 ? nullptr : out;
            if (NVb == 2) forward_tile<T, 2, R>(xr, t.ct->taps.data(), nt, wp, cl, X, init, out);
            else forward_tile<T, 1, R>(xr, t.ct->taps.data(), nt, wp, cl, X, init, out);
            if (out == part) std::copy(part, part + t.nr * ld, s);
          }
        }
        // The sums, plus the bias, into y.
        first = 0;
        for (const ClassTaps& ct : pt.cls) {
          const ForwardClass& c = *ct.c;
          const std::int64_t size = c.size(), nh = c.c[1]->o.size(), nw = c.c[2]->o.size();
          const std::int64_t k1 = std::min(hi, first + g.N * size) - first;
          for (std::int64_t k = std::max<std::int64_t>(lo - first, 0); k < k1; ++k) {
            const std::int64_t n = k / size, e = k % size;
            const std::size_t jd = static_cast<std::size_t>(e / (nh * nw)), jh = static_cast<std::size_t>(e / nw % nh),
                              jw = static_cast<std::size_t>(e % nw);
            T* dst = yg + n * g.Cy * Y + (c.c[0]->o[jd] * g.y[1] + c.c[1]->o[jh]) * g.y[2] + c.c[2]->o[jw];
            const T* s = sums + (first + k - lo) * ld;
            for (std::int64_t cc2 = 0; cc2 < bw; ++cc2) dst[cc2 * Y] = s[cc2] + (bg ? bg[cc2] : T(0));
          }
          first += g.N * size;
        }
      }
    }
  }
}

}  // namespace

template <class T>
void conv_scatter_channels(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, int rows) {
  if (rows == 0) rows = channels_forward_rows(LUCID_ISA_LEVEL == 2);
  if constexpr (LUCID_ISA_LEVEL == 2) {
    if (rows == 12) return scatter_channels<T, 12>(g, x, w, bias, y);
    return scatter_channels<T, 9>(g, x, w, bias, y);
  } else {
    return scatter_channels<T, 6>(g, x, w, bias, y);
  }
}

}  // namespace lucid::kernels::LUCID_ISA

#else  // no AVX2: the direct loops serve

#include "conv_direct.h"

LUCID_ISA_BEGIN

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_scatter_channels(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, int) {
  conv_scatter_direct<T>(g, x, w, bias, y);
}
}  // namespace lucid::kernels::LUCID_ISA

#endif

namespace lucid::kernels::LUCID_ISA {
template void conv_scatter_channels<float>(const ConvGeom&, const float*, const float*, const float*, float*, int);
template void conv_scatter_channels<double>(const ConvGeom&, const double*, const double*, const double*, double*,
                                            int);
}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
