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
// registers over exactly the taps that reach x and every input channel:
// no multiply-add meets an inserted zero or an edge (a third of them in a
// 4^3 input with 4 taps, stride 2 and padding 1). x is read in place (a
// tile's R values of one input channel are broadcast from it).
//
// Work items are (group, block of output channels, phase, range of
// samples), each on one thread, which packs the item's weights
// [tap][ci][co] within its budget (where a phase's taps do not fit, they
// run in groups: the first stores its sums plus the bias, the later ones
// add to them), so each output element is summed in a fixed order whatever
// the number of threads. (Items shared by both threads, with one packed
// copy between them, needed two barriers each: on a busy machine, where a
// thread is often descheduled, V2's forward took 500 ms instead of 20.) Compiled once per
// instruction set like conv_blocked.cpp.
#include <algorithm>
#include <cstdint>
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
// wp + taps[2j], [ci][2 * W]) and cxg >= 1 input channels X apart in x;
// stored [r][NV * W] at out.
template <class T, int NV, int R>
void forward_tile(const T* const* xr, const std::int64_t* taps, std::int64_t ntaps, const T* wp, std::int64_t cxg,
                  std::int64_t X, T* out) {
  using VT = typename Pairs<T, NV>::VT;  // the registers the NV vectors sit in
  using V = typename VT::V;
  constexpr int NP = Pairs<T, NV>::N;
  constexpr int BW = NV * Vec<T>::W, pitch = 2 * Vec<T>::W;
  V acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NP; ++v) acc[r][v] = VT::zero();
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

template <class T, int R>
void scatter_channels(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  constexpr std::int64_t W = Vec<T>::W, BW = 2 * W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();
  if (g.N == 0) return;
  const ForwardClasses fc(g);
  // Taps per group: one thread's packed weights within its budget.
  std::int64_t max_taps = 1;
  for (const ForwardPhase& P : fc.phases) max_taps = std::max(max_taps, P.ntaps());
  const std::int64_t per_tap = cxg * BW;
  const std::int64_t fit =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(channels_forward_budget(g)) / per_tap, 1, max_taps);

  // Per phase, its tap groups; per tap group and class, the taps (weight
  // offset, x offset) in the group.
  struct ClassTaps {
    const ForwardClass* c;
    std::vector<std::int64_t> taps;
  };
  struct TapGroup {
    std::int64_t j0, j1;          // the phase's taps [j0, j1)
    std::vector<std::int64_t> t;  // their kernel taps (w's last index)
    std::vector<ClassTaps> cls;
  };
  std::vector<std::vector<TapGroup>> groups_of(fc.phases.size());
  for (std::size_t pi = 0; pi < fc.phases.size(); ++pi) {
    const ForwardPhase& P = fc.phases[pi];
    const std::int64_t nt = P.ntaps(), ngroups = std::max<std::int64_t>(1, (nt + fit - 1) / fit);
    const std::int64_t n1 = P.p[1]->ph.k.size(), n2 = P.p[2]->ph.k.size();
    for (std::int64_t tg = 0; tg < ngroups; ++tg) {
      TapGroup tgp{tg * nt / ngroups, (tg + 1) * nt / ngroups, {}, {}};
      for (std::int64_t j = tgp.j0; j < tgp.j1; ++j) {
        const std::int64_t td = j / (n1 * n2), th = j / n2 % n1, tw = j % n2;
        tgp.t.push_back((P.p[0]->ph.k[td] * g.k[1] + P.p[1]->ph.k[th]) * g.k[2] + P.p[2]->ph.k[tw]);
      }
      for (const ForwardClass& c : P.classes) {
        ClassTaps ct{&c, {}};
        const AxisClass &cd = *c.c[0], &ch = *c.c[1], &cw = *c.c[2];
        const AxisPhase &pd = P.p[0]->ph, &ph = P.p[1]->ph, &pw = P.p[2]->ph;
        for (std::int64_t td = cd.tlo; td < cd.thi; ++td)
          for (std::int64_t th = ch.tlo; th < ch.thi; ++th)
            for (std::int64_t tw = cw.tlo; tw < cw.thi; ++tw) {
              const std::int64_t j = (td * n1 + th) * n2 + tw;
              if (j < tgp.j0 || j >= tgp.j1) continue;
              const std::int64_t dx = ((pd.off[td] - pd.off[cd.tlo]) * g.x[1] + ph.off[th] - ph.off[ch.tlo]) * g.x[2] +
                                      pw.off[tw] - pw.off[cw.tlo];
              ct.taps.push_back((j - tgp.j0) * per_tap);
              ct.taps.push_back(dx);
            }
        if (ct.taps.empty() && tg > 0) continue;  // nothing to add
        tgp.cls.push_back(std::move(ct));
      }
      groups_of[pi].push_back(std::move(tgp));
    }
  }
  // Work items: (group, block of output channels, phase, range of samples),
  // the samples cut into as many ranges as give 8 items or more (fixed by
  // the problem, not the thread count).
  const std::int64_t cblocks = (cyg + BW - 1) / BW, nphases = static_cast<std::int64_t>(fc.phases.size());
  const std::int64_t base = g.groups * cblocks * nphases;
  const std::int64_t ranges = std::clamp<std::int64_t>((8 + base - 1) / std::max<std::int64_t>(base, 1), 1, g.N);
  const bool threads = g.worth_threads();

#pragma omp parallel if (threads)
  {
    T* wp = thread_scratch<T>(static_cast<std::size_t>(fit * per_tap), 1);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t item = 0; item < base * ranges; ++item) {
      const std::int64_t grp = item / (cblocks * nphases * ranges), b = item / (nphases * ranges) % cblocks;
      const std::int64_t pi = item / ranges % nphases, rg = item % ranges;
      const std::int64_t n0 = rg * g.N / ranges, nend = (rg + 1) * g.N / ranges;
      const std::int64_t co0 = b * BW, bw = std::min(BW, cyg - co0), NVb = bw / W, ld = NVb * W;
      const T* xg = x + grp * cxg * X;
      T* yg = y + (grp * cyg + co0) * Y;
      const T* bg = bias ? bias + grp * cyg + co0 : nullptr;
      bool first = true;
      for (const TapGroup& tg : groups_of[static_cast<std::size_t>(pi)]) {
        // The weights: wp[j - j0][ci][c] = w[ci][co0 + c][tap j] (c < bw, rows of BW).
        for (std::int64_t ci = 0; ci < cxg; ++ci) {
          const T* src = w + ((grp * cxg + ci) * cyg + co0) * K;
          for (std::size_t j = 0; j < tg.t.size(); ++j) {
            T* dst = wp + (static_cast<std::int64_t>(j) * cxg + ci) * BW;
            for (std::int64_t c = 0; c < bw; ++c) dst[c] = src[c * K + tg.t[j]];
          }
        }
        for (const ClassTaps& ct : tg.cls) {
          const ForwardClass& c = *ct.c;
          const std::int64_t size = c.size(), end = nend * size, nh = c.c[1]->o.size(), nw = c.c[2]->o.size();
          const std::int64_t nt = static_cast<std::int64_t>(ct.taps.size()) / 2;
          for (std::int64_t k0 = n0 * size; k0 < end; k0 += R) {
            const std::int64_t nr = std::min<std::int64_t>(R, end - k0);
            const T* xr[R];
            std::int64_t yo[R];
            for (std::int64_t r = 0; r < R; ++r) {
              const std::int64_t k = k0 + std::min(r, nr - 1), n = k / size, e = k % size;
              const std::size_t jd = static_cast<std::size_t>(e / (nh * nw)), jh = static_cast<std::size_t>(e / nw % nh),
                                jw = static_cast<std::size_t>(e % nw);
              xr[r] = xg + n * g.Cx * X + (c.c[0]->ibase[jd] * g.x[1] + c.c[1]->ibase[jh]) * g.x[2] + c.c[2]->ibase[jw];
              yo[r] = n * g.Cy * Y + (c.c[0]->o[jd] * g.y[1] + c.c[1]->o[jh]) * g.y[2] + c.c[2]->o[jw];
            }
            alignas(64) T out[R * BW];
            if (nt == 0) std::fill(out, out + R * BW, T(0));
            else if (NVb == 2) forward_tile<T, 2, R>(xr, ct.taps.data(), nt, wp, cxg, X, out);
            else forward_tile<T, 1, R>(xr, ct.taps.data(), nt, wp, cxg, X, out);
            for (std::int64_t r = 0; r < nr; ++r)
              for (std::int64_t cc = 0; cc < bw; ++cc) {
                T& dst = yg[yo[r] + cc * Y];
                if (first) dst = out[r * ld + cc] + (bg ? bg[cc] : T(0));
                else dst += out[r * ld + cc];
              }
          }
        }
        first = false;
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
