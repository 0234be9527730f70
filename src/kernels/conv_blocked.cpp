// A register-blocked direct kernel for the transposed-convolution forward,
// phase by phase (conv_phases.h): a tile of MR output channels x NV vectors
// of output positions accumulates in registers over (tap, input channel),
// reading copies of the input rows it needs (zero-padded at the edges, a few
// KB per output row), so there is no column buffer and no product call.
// Compiled once per instruction set like conv_direct.cpp; the AVX2 code also
// serves AVX-512 machines.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <numeric>
#include <vector>

#include "conv_blocked.h"
#include "conv_phases.h"
#include "conv_segments.h"

#include "isa_target.h"

#if LUCID_ISA_LEVEL >= 1
#include <immintrin.h>

LUCID_ISA_BEGIN
#include "blocked_tile.h"

namespace lucid::kernels::LUCID_ISA {
namespace {

struct Tap {
  std::int64_t rt;    // which input row (of the row phase's packed rows) it reads
  std::int64_t off2;  // its offset along the last axis
  std::int64_t kf;    // its flat index in the kernel
};

// MR output channels x NV vectors of positions per tile.
//
// Work items are (group, chunk of rows, block group): a block group is as
// many MR-channel blocks as have packed weights (all taps) in 16-64 KB. An
// item walks its rows (sample, qa, qb) and, for each, every row phase: the
// input rows their taps read are copied, all channels, into contiguous
// zero-padded slots (kept while the next row still needs them), so every
// block, phase and tap reads them from cache with plain loads (input channels
// a power of two apart would otherwise share cache sets).
//
// R = 2 (AVX-512: rows of phases one pair wide, NV = 2, or a pair and a
// half, NV = 3) runs two rows of an (n, qa) at a time, the next in order
// with it where that lies `step` further: tile_two_rows for each phase one
// pair wide, tile_two_rows with Half for a pair and a half, each weight it
// loads serving both rows (the other row reading a slot of zeros for a tap
// only one of them meets), the phases of other widths and rows alone as
// with R = 1. Where its slots would pass a tenth of the output, it runs in
// passes over the taps along axis 0 (see below), and declines (false,
// having done nothing) where those would too.
//
// `flipped`: w holds the weights of the gather whose forward this is
// (conv_gather_as_forward), [g.Cy][g.Cx / groups][K], taps reversed.
// `spare` (or null): memory of w's size, not w, that weights packed once
// for all threads may take where they fit.
template <class T, int MR, int NV, int R = 1, int MT = MR>
bool scatter_tiles(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool flipped, T* spare) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int NR = NV * VT::W;
  const std::vector<AxisPhase> ax[3] = {axis_phases(g, 0), axis_phases(g, 1), axis_phases(g, 2)};
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), Yw = g.y[2], Xw = g.x[2];
  const ChannelBlocks<MR, MT> cb(cyg);
  const std::int64_t coblocks = cb.blocks;
  // The span of input columns any tile reads: [iw_lo, iw_lo + L).
  const ColumnSpan span = ColumnSpan::of<T>(g, ax[2], NR);
  const std::int64_t iw_lo = span.lo, L = span.L, c_lo = span.c_lo, c_hi = span.c_hi, stage = span.stage;
  // A row phase (phases along the first two axes) holds every phase along the
  // last axis, so that each output row is assembled whole and written once.
  struct WPhase {
    const AxisPhase* a2;
    std::vector<Tap> taps;
    std::int64_t wofs;  // offset of its packed weights within a block one channel wide
    std::int64_t sofs;  // offset of its staged values within one output row
  };
  struct RowPhase {
    const AxisPhase *a0, *a1;
    std::vector<WPhase> wph;
    std::int64_t rt0;  // its first input row among the slots of one output row
  };
  std::vector<RowPhase> rows;
  std::int64_t wblock = 0, nslot = 0, QA = 0, QB = 0, ntap_max = 1;
  for (const auto& a0 : ax[0])
    for (const auto& a1 : ax[1]) {
      if (a0.Q * a1.Q == 0) continue;
      RowPhase rp{&a0, &a1, {}, nslot};
      const std::int64_t n1 = static_cast<std::int64_t>(a1.k.size());
      nslot += static_cast<std::int64_t>(a0.k.size()) * n1;
      QA = std::max(QA, a0.Q);
      QB = std::max(QB, a1.Q);
      for (std::size_t p = 0; p < ax[2].size(); ++p) {
        const AxisPhase& a2 = ax[2][p];
        WPhase wp{&a2, {}, wblock, span.sofs[p]};
        for (std::size_t t0 = 0; t0 < a0.k.size(); ++t0)
          for (std::size_t t1 = 0; t1 < a1.k.size(); ++t1)
            for (std::size_t t2 = 0; t2 < a2.k.size(); ++t2)
              wp.taps.push_back({rp.rt0 + static_cast<std::int64_t>(t0) * n1 + static_cast<std::int64_t>(t1), a2.off[t2],
                                 (a0.k[t0] * g.k[1] + a1.k[t1]) * g.k[2] + a2.k[t2]});
        wblock += static_cast<std::int64_t>(wp.taps.size()) * cxg;
        ntap_max = std::max(ntap_max, static_cast<std::int64_t>(wp.taps.size()));
        rp.wph.push_back(std::move(wp));
      }
      rows.push_back(std::move(rp));
    }
  if (rows.empty() || g.N == 0) return true;
  wblock = std::max<std::int64_t>(wblock, 1);  // per channel of a block: block b's weights at first(b) * wblock
  const double out_bytes = static_cast<double>(g.N * g.Cy * Y) * sizeof(T);
  const std::int64_t plane = g.x[0] * g.x[1];  // input rows per channel
  const std::int64_t nrows = g.N * QA * QB;
  // Rows qb apart by a multiple of `step` (the spacing of the taps' input
  // rows along axis 1: the dilation, for stride 1) read overlapping input
  // rows, so they run one after another: qb = order[j].
  std::int64_t step = 0;
  for (const auto& a1 : ax[1])
    for (std::int64_t off : a1.off) step = std::gcd(step, off - a1.off[0]);
  if (step <= 0 || step >= QB) step = 1;
  std::vector<std::int64_t> order;
  for (std::int64_t res = 0; res < step; ++res)
    for (std::int64_t qb = res; qb < QB; qb += step) order.push_back(qb);
  // Weights that pack into 128 KB, or into up to 1 MB and a twentieth of the
  // output, are packed once for all threads, and every item serves all
  // blocks of its group: each input row is then copied into the slots once
  // per sweep instead of once per block group, and the weights packed once
  // instead of once per item (D1's forward 15-25% faster, F1's 8%). Larger
  // ones are packed per item, a block group's worth, so that they stay in
  // cache while the item's rows pass.
  const std::int64_t per_group_size = cb.first(coblocks) * wblock;
  const double all_bytes = static_cast<double>(g.groups * per_group_size) * sizeof(T);
  const bool shared = all_bytes <= 128.0 * 1024 || (all_bytes <= 1024.0 * 1024 && all_bytes <= 0.05 * out_bytes);
  const BlockedSplit sp(g, coblocks, shared ? 0 : MR * wblock * static_cast<std::int64_t>(sizeof(T)), out_bytes, nrows);
  const std::int64_t per_group = sp.per_group, bgroups = sp.bgroups, chunks = sp.chunks, items = sp.items;
  // Packed weights [group][block][row phase][w-phase][tap][ci][width] (zero-padded channels).
  const auto weight = [&](std::int64_t grp, std::int64_t ci, std::int64_t co, std::int64_t kf) {
    return flipped ? w[((grp * cyg + co) * cxg + ci) * K + K - 1 - kf] : w[((grp * cxg + ci) * cyg + co) * K + kf];
  };
  const auto pack = [&](T* dst, std::int64_t grp, std::int64_t b) {
    const std::int64_t co0 = cb.first(b), wd = cb.width(b), mr = std::min<std::int64_t>(wd, cyg - co0);
    for (const RowPhase& rp : rows)
      for (const WPhase& ph : rp.wph)
        for (std::size_t t = 0; t < ph.taps.size(); ++t)
          for (std::int64_t ci = 0; ci < cxg; ++ci)
            for (std::int64_t m = 0; m < wd; ++m)
              dst[(ph.wofs + static_cast<std::int64_t>(t) * cxg + ci) * wd + m] =
                  m < mr ? weight(grp, ci, co0 + m, ph.taps[t].kf) : T(0);
  };
  // Streaming stores for outputs beyond the caches (streams()): U2's
  // forward (32 MB) 5.9-6.6 -> 3.9-4.3 ms, U1's (8 MB) 2.0-2.2 -> 1.8-2.0,
  // V1's (17 MB) 14.1-14.9 -> 13.5-14.2, K1's (4.2 MB) level
  // (build/bench/kernel_time, two threads, alternating builds, minima),
  // against a threshold of 64 MB; U2's measured level on the AMD EPYC Zen 4.
  const bool stream = streams(out_bytes, Yw, y);
  // With one phase along the last axis (stride 1), whole blocks of channels
  // and tiles that end where the row does, the tiles store straight into y:
  // no staged rows, no copy.
  const bool direct = !stream && g.s[2] == 1 && cb.first(coblocks) == cyg && stage == Yw;
  const std::int64_t staged = direct ? 0 : MR * stage;
  // The slots one unit of rows holds at once (its distinct input rows: the
  // rows along axis 0, times those along axis 1 of each of its rows), and
  // for two rows a slot of zeros after them. Two rows pair only `step`
  // apart (the next in order, within a residue): their rows along axis 1
  // are those of one, and of one `step` further (`shift`).
  // Only the `only`-th tap of each phase where it is 0 or more.
  const auto distinct = [](const std::vector<AxisPhase>& a, std::int64_t shift, std::int64_t only = -1) {
    std::vector<std::int64_t> v;
    for (const AxisPhase& p : a)
      if (p.Q > 0)
        for (std::size_t t = 0; t < p.off.size(); ++t)
          if (only < 0 || static_cast<std::int64_t>(t) == only)
            v.push_back(p.q0 - p.off[t]), v.push_back(p.q0 - p.off[t] + shift);
    std::sort(v.begin(), v.end());
    return static_cast<std::int64_t>(std::unique(v.begin(), v.end()) - v.begin());
  };
  std::int64_t nheld =
      std::min(R * nslot, distinct(ax[0], 0) * distinct(ax[1], R == 2 ? step : 0)) + (R == 2 ? 1 : 0);
  std::int64_t npass = 1;
  // The weights packed once go to spare where they fit, else to scratch.
  const std::int64_t wall_size = g.groups * per_group_size;
  const bool in_spare = spare && wall_size <= g.Cx * cyg * K;
  // Two rows at once hold more slots: only within a tenth of the output
  // (counted for two threads, whatever the count). Where they would pass
  // it, passes over the taps along axis 0 (pass t: the t-th of each row
  // phase) hold only the rows of their taps, each pass continuing the sums
  // the one before left in y (tiles from_out: the bits are those of one
  // pass); these need tiles that store straight into y and phase rows a
  // pair and a half wide (tile_two_rows with Half, tile_half). D1's forward
  // would take 11.6% in one pass and takes about 8% in three: 2.47-2.62 ->
  // 2.28-2.46 ms (build/bench/kernel_time 1 32 32 24 3 1 2 0 2 1 float32
  // fwd 20, two threads, alternating builds, minima of five), against one
  // row at a time with a third of its multiply-adds half wide. Else false,
  // having done nothing (the caller runs one row at a time).
  if constexpr (R == 2) {
    const std::int64_t own_max = shared ? 0 : cb.first(std::min(per_group, coblocks)) * wblock;
    const auto fits = [&](std::int64_t held) {
      const double scratch = 2.0 * static_cast<double>(own_max + R * staged + held * cxg * L) +
                             (shared && !in_spare ? static_cast<double>(wall_size) : 0.0);
      return scratch * sizeof(T) <= 0.1 * out_bytes;
    };
    if (!fits(nheld)) {
      bool can = direct && NV == 3;
      for (const AxisPhase& a2 : ax[2]) can = can && a2.Q > 2 * VT::W && a2.Q <= NR;
      for (const AxisPhase& a0 : ax[0])
        if (a0.Q > 0) npass = std::max<std::int64_t>(npass, static_cast<std::int64_t>(a0.k.size()));
      if (!can || npass < 2) return false;
      // the slots of the pass whose taps meet the most rows along axis 0
      std::int64_t most = 0;
      for (std::int64_t t = 0; t < npass; ++t) most = std::max(most, distinct(ax[0], 0, t));
      nheld = most * distinct(ax[1], step) + 1;
      if (!fits(nheld)) return false;
    }
  }
  T* wall = !shared ? nullptr : in_spare ? spare : thread_scratch<T>(static_cast<std::size_t>(wall_size), 1);
  if (shared)
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
      for (std::int64_t b = 0; b < coblocks; ++b) pack(wall + grp * per_group_size + cb.first(b) * wblock, grp, b);
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < items; ++it) {
    const std::int64_t bg = it % bgroups, ch = (it / bgroups) % chunks, grp = it / (bgroups * chunks);
    const std::int64_t b0 = bg * per_group, nb = std::min(per_group, coblocks - b0);
    // Scratch: the item's packed weights (unless shared), R * MR staged
    // rows, then the input slots [slot][ci][L].
    const std::int64_t own = shared ? 0 : (cb.first(b0 + nb) - cb.first(b0)) * wblock;
    T* st = thread_scratch<T>(static_cast<std::size_t>(own + R * staged + nheld * cxg * L), 0);
    T* wp = shared ? wall + grp * per_group_size + cb.first(b0) * wblock : st;  // block b0's
    st += own;
    T* xp = st + R * staged;
    T* zero = R == 2 ? xp + (nheld - 1) * cxg * L : nullptr;
    if (zero) std::fill(zero, zero + cxg * L, T(0));
    if (!shared)
      for (std::int64_t b = 0; b < nb; ++b) pack(wp + (cb.first(b0 + b) - cb.first(b0)) * wblock, grp, b0 + b);
    // input rows (n * X0 + id) * X1 + ih, [row of the unit][tap row]
    RowSlots slots(R * nslot);
    // Per phase along the last axis: its live taps' input rows (xs: [phase][row of the unit][tap]) and
    // their indices (tix: [phase][tap]), the same for every block.
    const std::int64_t nph = g.s[2];
    std::vector<const T*> phrow(static_cast<std::size_t>(nph)), xs(static_cast<std::size_t>(nph * R * ntap_max)),
        ws(static_cast<std::size_t>(ntap_max));
    std::vector<std::int64_t> tix(static_cast<std::size_t>(nph * ntap_max)), ntl(static_cast<std::size_t>(nph));
    const std::int64_t r0 = nrows * ch / chunks, r1 = nrows * (ch + 1) / chunks;
    // The item's rows once, or (two rows whose slots would not fit) once
    // per pass over the taps along axis 0, each pass's slots filled afresh.
    for (std::int64_t pass = 0; pass < npass; ++pass) {
      if (pass > 0) slots = RowSlots(R * nslot);
      for (std::int64_t row = r0, nr = 0; row < r1; row += nr) {
        // rows run over (sample, qa, qb): each item's packed weights serve
        // every sample; with R = 2 the next row of the same (n, qa) joins
        nr = R == 2 && row + 1 < r1 && row % QB + 1 < QB &&
                     order[static_cast<std::size_t>((row + 1) % QB)] == order[static_cast<std::size_t>(row % QB)] + step
                 ? 2
                 : 1;
        const std::int64_t n = row / (QA * QB), qa = row / QB % QA;
        std::int64_t qbs[R];
        for (std::int64_t u = 0; u < R; ++u) qbs[u] = u < nr ? order[static_cast<std::size_t>((row + u) % QB)] : QB;
        // The input rows of this unit's taps, over every row phase.
        for (std::int64_t u = 0; u < R; ++u)
          for (const RowPhase& rp : rows) {
            const AxisPhase &a0 = *rp.a0, &a1 = *rp.a1;
            const std::int64_t qb = qbs[u];
            const std::int64_t n1 = static_cast<std::int64_t>(a1.k.size()), nrt = static_cast<std::int64_t>(a0.k.size()) * n1;
            for (std::int64_t r = 0; r < nrt; ++r) {
              const std::int64_t id = a0.q0 + qa - a0.off[static_cast<std::size_t>(r / n1)];
              const std::int64_t ih = a1.q0 + qb - a1.off[static_cast<std::size_t>(r % n1)];
              const bool ok = qa < a0.Q && qb < a1.Q && id >= 0 && id < g.x[0] && ih >= 0 && ih < g.x[1] &&
                              (npass == 1 || r / n1 == pass);
              slots.want[static_cast<std::size_t>(u * nslot + rp.rt0 + r)] = ok ? n * plane + id * g.x[1] + ih : -1;
            }
          }
        slots.assign([&](std::int64_t sl, std::int64_t key) {
          assert(sl < nheld - (R == 2 ? 1 : 0));  // the unit's rows fit the slots (the zero slot last)
          const T* src = x + ((key / plane) * g.Cx + grp * cxg) * X + (key % plane) * Xw + iw_lo;
          for (std::int64_t ci = 0; ci < cxg; ++ci) {
            T* dst = xp + (sl * cxg + ci) * L;
            pad_row(dst, src + ci * X, L, c_lo, c_hi);
            // the next unit in order wants the input row `step` further per
            // row of this one: start fetching it
            if (key % plane + nr * step < plane)
              for (std::int64_t c = c_lo; c < c_hi; c += 64 / static_cast<std::int64_t>(sizeof(T)))
                _mm_prefetch(reinterpret_cast<const char*>(src + ci * X + nr * step * Xw + c), _MM_HINT_T0);
          }
        });
        for (const RowPhase& rp : rows) {
          const AxisPhase &a0 = *rp.a0, &a1 = *rp.a1;
          // the unit's rows this row phase has: live[0, nlive)
          std::int64_t live[R], nlive = 0;
          for (std::int64_t u = 0; u < nr; ++u)
            if (qa < a0.Q && qbs[u] < a1.Q) live[nlive++] = u;
          if (nlive == 0) continue;
          const std::int64_t od = a0.o(a0.q0 + qa, g.s[0], g.pad[0]);
          T* yrow[R];
          for (std::int64_t u = 0; u < R; ++u)
            yrow[u] = u < nr ? y + (n * g.Cy + grp * cyg) * Y + (od * g.y[1] + a1.o(a1.q0 + qbs[u], g.s[1], g.pad[1])) * Yw
                             : nullptr;
          // The live taps: where their input rows are. Two rows take a tap
          // either meets, the other reading zeros.
          for (std::size_t p = 0; p < rp.wph.size(); ++p) {
            const WPhase& ph = rp.wph[p];
            const std::int64_t nt = static_cast<std::int64_t>(ph.taps.size());
            const T** px = xs.data() + static_cast<std::int64_t>(p) * R * ntap_max;
            std::int64_t* ti = tix.data() + static_cast<std::int64_t>(p) * ntap_max;
            std::int64_t nl = 0;
            for (std::int64_t t = 0; t < nt; ++t) {
              const Tap& tp = ph.taps[static_cast<std::size_t>(t)];
              bool any = false;
              for (std::int64_t j = 0; j < nlive; ++j)
                any = any || slots.slot_of[static_cast<std::size_t>(live[j] * nslot + tp.rt)] >= 0;
              if (!any) continue;
              // column c reads iw = q0 + c - off2, packed at iw - iw_lo
              for (std::int64_t j = 0; j < nlive; ++j) {
                const std::int64_t sl = slots.slot_of[static_cast<std::size_t>(live[j] * nslot + tp.rt)];
                px[j * ntap_max + nl] = (sl >= 0 ? xp + sl * cxg * L : zero) + (ph.a2->q0 - tp.off2 - iw_lo);
              }
              ti[nl++] = t;
            }
            ntl[p] = nl;
          }
          for (std::int64_t b = 0; b < nb; ++b) cb.with_width(b0 + b, [&](auto wd) {
            constexpr int M = wd();
            const std::int64_t co0 = cb.first(b0 + b), mr = std::min<std::int64_t>(M, cyg - co0);
            const T* wb = wp + (co0 - cb.first(b0)) * wblock;  // the block's weights
            V bv[M];
            for (int m = 0; m < M; ++m) {
              const T bm = (bias && m < mr) ? bias[grp * cyg + co0 + m] : T(0);
              bv[m] = VT::bcast(&bm);
            }
            for (std::size_t p = 0; p < rp.wph.size(); ++p) {
              const WPhase& ph = rp.wph[p];
              const AxisPhase& a2 = *ph.a2;
              const T* const* xsp = xs.data() + static_cast<std::int64_t>(p) * R * ntap_max;
              const std::int64_t* ti = tix.data() + static_cast<std::int64_t>(p) * ntap_max;
              const std::int64_t nl = ntl[p];
              if (pass > 0 && nl == 0) continue;  // y holds its sums
              for (std::int64_t i = 0; i < nl; ++i) ws[static_cast<std::size_t>(i)] = wb + (ph.wofs + ti[i] * cxg) * M;
              const std::int64_t ld = direct ? Y : stage;
              const auto out = [&](std::int64_t u) { return direct ? yrow[u] + co0 * Y : st + u * staged + ph.sofs; };
#if LUCID_ISA_LEVEL == 2
              if constexpr (R == 2)
                if (nlive == 2 && VT::W < a2.Q && a2.Q <= NR) {
                  if (a2.Q <= 2 * VT::W)
                    tile_two_rows<T, M, false>(xsp, xsp + ntap_max, ws.data(), nl, cxg, L, bv, out(live[0]),
                                               out(live[1]), ld, nullptr, pass > 0);
                  else
                    tile_two_rows<T, M, false, true>(xsp, xsp + ntap_max, ws.data(), nl, cxg, L, bv,
                                                     out(live[0]), out(live[1]), ld, nullptr, pass > 0);
                  continue;
                }
#endif
              for (std::int64_t j = 0; j < nlive; ++j) {
                const T* const* xr = xsp + j * ntap_max;
                T* o = out(live[j]);
                std::int64_t c0 = 0;
                for (; c0 + VT::W < a2.Q; c0 += NR)
                  tile<T, M, NV>(xr, ws.data(), nl, c0, cxg, L, bv, o, ld, nullptr, pass > 0);
                // a last tile of one vector or less
                if (c0 < a2.Q) tile<T, M, 1>(xr, ws.data(), nl, c0, cxg, L, bv, o, ld, nullptr, pass > 0);
              }
            }
            if (direct) return;
            for (std::int64_t j = 0; j < nlive; ++j)
              for (int m = 0; m < mr; ++m) {
                // phase p along the last axis is wph[p] (contiguous stores: indexed
                // by a2->r the compiler scatters them, and write_row stalls on them)
                for (std::size_t p = 0; p < rp.wph.size(); ++p) phrow[p] = st + live[j] * staged + m * stage + rp.wph[p].sofs;
                write_row(g, ax[2], phrow.data(), yrow[live[j]] + (co0 + m) * Y, stream);
              }
          });
        }
      }
    }
    if (stream) _mm_sfence();
  }
  return true;
}

// d[i] += s[i] for i < n: whole vectors, then (float) a half vector, then one by one.
template <class T>
void add_run(T* d, const T* s, std::int64_t n) {
  using VT = Vec<T>;
  std::int64_t i = 0;
  for (; i + VT::W <= n; i += VT::W) VT::store(d + i, VT::add(VT::load(d + i), VT::load(s + i)));
  if constexpr (std::is_same_v<T, float>)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(d + i, _mm_add_ps(_mm_loadu_ps(d + i), _mm_loadu_ps(s + i)));
  for (; i < n; ++i) d[i] += s[i];
}

// The forward as products of (output channel, tap) rows of the weights with
// the input, for rows of y too short to fill the tiles above: a tile of MR
// such rows x NV vectors of input positions accumulates over the input
// channels, and its rows are added while still in cache into a staged copy
// of the item's output channels for one sample, split by phase along the
// last axis (so that a tap's row of inputs adds into contiguous staged
// values, whole vectors at a time: the rows are padded so that positions
// whose output lies outside y land in the padding), then the staged rows are
// written into y (write_row), phases interleaved. No product matrix is kept.
// Items are (group, block of output channels) with their weights packed once
// ([panel][ci][MR], 16-128 KB) and used for every sample; y's channels
// belong to one item, so each output element is summed by one thread in a
// fixed order.
template <class T, int MR, int NV>
void taps_tiles(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int NR = NV * VT::W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), s2 = g.s[2];
  // Tap kf adds input iw of a row into element iw + shift[kf] of phase row
  // prow[kf]; a phase row holds elements [jlo, jhi) (j = q - q0 of its phase).
  const std::vector<AxisPhase> a2 = axis_phases(g, 2);
  std::vector<std::int64_t> prow(static_cast<std::size_t>(K)), shift(static_cast<std::size_t>(K));
  std::int64_t jlo = 0, jhi = 1;
  for (const AxisPhase& p : a2) {
    jhi = std::max(jhi, p.Q);
    for (std::size_t t = 0; t < p.k.size(); ++t)
      for (std::int64_t kf = p.k[t]; kf < K; kf += g.k[2]) {
        prow[static_cast<std::size_t>(kf)] = p.r;
        shift[static_cast<std::size_t>(kf)] = p.off[t] - p.q0;
        jlo = std::min(jlo, p.off[t] - p.q0);
        jhi = std::max(jhi, g.x[2] + p.off[t] - p.q0);
      }
  }
  const std::int64_t Ls = jhi - jlo, pitch = s2 * Ls, Sc = g.y[0] * g.y[1] * pitch;  // per (od, oh); per channel
  const std::int64_t per_co = K * cxg * static_cast<std::int64_t>(sizeof(T));
  const double out_bytes = static_cast<double>(g.N * g.Cy * Y) * sizeof(T);
  // Channels per item: packed weights within budget, staged outputs within 256 KB.
  const std::int64_t cb = std::clamp<std::int64_t>(
      std::min(packed_budget(out_bytes, 128 << 10) / std::max<std::int64_t>(per_co, 1),
               (256 << 10) / (Sc * static_cast<std::int64_t>(sizeof(T)))),
      1, cyg);
  const std::int64_t nblocks = (cyg + cb - 1) / cb, items = g.groups * nblocks;
  const std::int64_t panels_max = (cb * K + MR - 1) / MR;
  // Per tap: where input row (a, b) adds, a * s0 * Y1 + b * s1 rows of
  // `pitch` from `base` (within its channel); it meets y for a in [alo, ahi),
  // b in [blo, bhi) and positions along the last axis in [lo2, hi2).
  struct TapAdd {
    std::int64_t base, alo, ahi, blo, bhi, lo2, hi2;
    bool meets(const Segment& sg) const {
      return sg.a >= alo && sg.a < ahi && sg.b >= blo && sg.b < bhi && sg.c1 > lo2 && sg.c0 < hi2;
    }
  };
  std::vector<TapAdd> adds;
  for (const TapPlace& tp : tap_places(g)) {
    const std::size_t kf = adds.size();
    adds.push_back({(tp.o0 * g.y[1] + tp.o1) * pitch + prow[kf] * Ls + shift[kf] - jlo, ceil_div(-tp.o0, g.s[0]),
                    ceil_div(g.y[0] - tp.o0, g.s[0]), ceil_div(-tp.o1, g.s[1]), ceil_div(g.y[1] - tp.o1, g.s[1]),
                    tp.lo2, tp.hi2});
  }
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < items; ++it) {
    const std::int64_t grp = it / nblocks, co0 = (it % nblocks) * cb, ncb = std::min(cb, cyg - co0);
    const std::int64_t rows = ncb * K, panels = (rows + MR - 1) / MR;
    // Scratch: packed weights, a tile's rows, the input's last positions
    // zero-padded, the staged outputs.
    T* wp = thread_scratch<T>(static_cast<std::size_t>(panels_max * cxg * MR + MR * NR + cxg * NR + cb * Sc), 0);
    T* st = wp + panels_max * cxg * MR;
    T* xt = st + MR * NR;
    T* S = xt + cxg * NR;
    // Row r is (channel co0 + r / K, tap r % K): for each input channel the
    // block's rows lie contiguous in w, so they are read in order.
    for (std::int64_t ci = 0; ci < cxg; ++ci) {
      const T* src = w + ((grp * cxg + ci) * cyg + co0) * K;
      for (std::int64_t p = 0; p < panels; ++p) {
        T* dst = wp + (p * cxg + ci) * MR;
        const std::int64_t r0 = p * MR, nr = std::min<std::int64_t>(MR, rows - r0);
        for (int m = 0; m < MR; ++m) dst[m] = m < nr ? src[r0 + m] : T(0);
      }
    }
    V zero[MR];
    for (int m = 0; m < MR; ++m) zero[m] = VT::zero();
    std::vector<Segment> segs;
    std::vector<const T*> ph(static_cast<std::size_t>(s2));
    for (std::int64_t n = 0; n < g.N; ++n) {
      for (std::int64_t c = 0; c < ncb; ++c) std::fill(S + c * Sc, S + (c + 1) * Sc, bias ? bias[grp * cyg + co0 + c] : T(0));
      const T* xn = x + (n * g.Cx + grp * cxg) * X;
      for (std::int64_t c0 = 0; c0 < X; c0 += NR) {
        const std::int64_t len = std::min<std::int64_t>(NR, X - c0);
        const T* xs = xn + c0;
        std::int64_t L = X;
        if (len < NR) {  // the last positions: a zero-padded copy, so that the tile reads no further
          for (std::int64_t ci = 0; ci < cxg; ++ci) pad_row(xt + ci * NR, xn + ci * X + c0, NR, 0, len);
          xs = xt, L = NR;
        }
        segments(g.x[1], g.x[2], c0, c0 + len, segs);
        for (std::int64_t p = 0; p < panels; ++p) {
          // A panel none of whose taps reaches y from these positions (the
          // first or last input plane of an edge tap) is skipped.
          bool live = false;
          for (std::int64_t r = p * MR; r < std::min(rows, (p + 1) * MR) && !live; ++r)
            for (const Segment& sg : segs) live = live || adds[static_cast<std::size_t>(r % K)].meets(sg);
          if (!live) continue;
          const T* wpp = wp + p * cxg * MR;
          if (len <= VT::W) tile<T, MR, 1>(&xs, &wpp, 1, 0, cxg, L, zero, st, NR);
          else tile<T, MR, NV>(&xs, &wpp, 1, 0, cxg, L, zero, st, NR);
          for (int m = 0; m < MR && p * MR + m < rows; ++m) {
            const std::int64_t r = p * MR + m;
            const TapAdd& ta = adds[static_cast<std::size_t>(r % K)];
            T* Sr = S + (r / K) * Sc + ta.base;
            const T* src = st + m * NR;
            for (const Segment& sg : segs)
              if (ta.meets(sg))
                add_run(Sr + (sg.a * g.s[0] * g.y[1] + sg.b * g.s[1]) * pitch + sg.c0, src + sg.j0, sg.c1 - sg.c0);
          }
        }
      }
      for (std::int64_t c = 0; c < ncb; ++c)
        for (std::int64_t o = 0; o < g.y[0] * g.y[1]; ++o) {
          for (std::int64_t r = 0; r < s2; ++r) ph[static_cast<std::size_t>(r)] = S + c * Sc + o * pitch + r * Ls - jlo;
          write_row(g, a2, ph.data(), y + (n * g.Cy + grp * cyg + co0 + c) * Y + o * g.y[2], false);
        }
    }
  }
}

// Tiles sized to the problem: as many channels as there are (up to 6), one
// vector of positions when the phase rows are that short; otherwise the
// least wasteful wide tile (with_wide_tile: 6 x 2 or 4 x 3 with AVX2; with
// AVX-512 16 x one pair of vectors, 8 x two pairs, 8 x a pair and a vector
// or 8 x one). One output
// channel (a decoder's last layer) takes tiles of one channel and four
// vectors: the 2 x 2 tiles spent half their work on a padded channel and
// broadcast two weights per input vector (one thread, 32 -> 1 channel at
// 32^3, 3^3 taps: 4.32 -> 2.81 ms, float64 7.34 -> 4.78; 16 -> 1, 2^3 taps
// at stride 2: 0.54 -> 0.38).
// `flipped` and `spare` as scatter_tiles.
template <class T>
void scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool flipped, T* spare) {
  const std::int64_t cyg = g.cy_per_group();
  const bool short_rows = (g.y[2] + g.s[2] - 1) / g.s[2] <= Vec<T>::W;
  const auto run = [&](auto mr, auto nv) { scatter_tiles<T, mr(), nv()>(g, x, w, bias, y, flipped, spare); };
  using std::integral_constant;
  using I1 = integral_constant<int, 1>;
  using I2 = integral_constant<int, 2>;
  using I4 = integral_constant<int, 4>;
  if (cyg == 1) return short_rows ? run(I1{}, I1{}) : run(I1{}, I4{});
  if (cyg <= 2) return short_rows ? run(I2{}, I1{}) : run(I2{}, I2{});
  if (cyg <= 4) return short_rows ? run(I4{}, I1{}) : run(I4{}, I2{});
  if (short_rows) return run(integral_constant<int, 6>{}, I1{});
  std::vector<std::int64_t> rows;
  for (const AxisPhase& p : axis_phases(g, 2)) rows.push_back(p.Q);
  with_wide_tile<T>(rows, cyg, [&](auto mr, auto nv) {
#if LUCID_ISA_LEVEL == 2
    // Phase rows one pair wide that would take 16 channels x one pair run
    // two rows at a time, 8 channels x one pair of each: 10 loads per 16
    // multiply-adds instead of 17, each weight serving two rows. Those and
    // 8 x two pairs, and 8 x a pair and a half (tile_half), take blocks of
    // 14 or 12 channels before blocks of 8 (with_wide_blocks: 24 or 28
    // sums in registers; D1's forward 2.90 -> 2.74 ms and its gather, as
    // this forward, 2.85 -> 2.68, minima of five). Against blocks of 8
    // (build/bench/kernel_time, two threads, alternating builds, minima of
    // four): U1's forward 1.96 -> 1.77 ms, V1's 13.2 -> 13.1, K1's 5.74 ->
    // 5.70 and its gather (as this forward) 5.71 -> 5.47, F1's 28.7 ->
    // 28.2. The tiles are not inlined (tile, tile_two_rows): inlined here,
    // 12 x two rows kept sums on the stack, and V1's forward took 17 ms.
    // Phase rows a pair and a half wide run two rows at a time too, 8
    // channels x a pair of each and a pair joining their last halves
    // (tile_two_rows with Half), where their scratch keeps within a tenth of
    // the output.
    const std::int64_t widest = *std::max_element(rows.begin(), rows.end());
    if constexpr (mr() == 16 && nv() == 2)
      if (widest <= 2 * Vec<T>::W) {
        bool done = false;
        with_wide_blocks(cyg, [&](auto wide) { done = scatter_tiles<T, wide(), 2, 2, 8>(g, x, w, bias, y, flipped, spare); });
        if (done) return;
      }
    if constexpr (mr() == 8 && nv() == 3)
      if (widest <= 3 * Vec<T>::W && scatter_tiles<T, 8, 3, 2>(g, x, w, bias, y, flipped, spare)) return;
    if constexpr (mr() == 8 && (nv() == 4 || nv() == 3))
      return with_wide_blocks(cyg, [&](auto wide) { scatter_tiles<T, wide(), nv(), 1, 8>(g, x, w, bias, y, flipped, spare); });
#else
    if constexpr (mr() == 6)
      return with_tail_blocks(cyg, 0.05, [&](auto mt) { scatter_tiles<T, 6, nv(), 1, mt()>(g, x, w, bias, y, flipped, spare); });
#endif
    run(mr, nv);
  });
}

}  // namespace

template <class T>
void conv_scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  scatter_blocked<T>(g, x, w, bias, y, false, nullptr);
}

// The gather (x = conv(y, w) + b) at stride 1 is the forward of a
// transposed convolution from y to x with the taps reversed, the channels'
// roles exchanged and padding d (k - 1) - p: the blocked forward runs it,
// reading w in the gather's layout as it packs (measured in
// conv_blocked_grad.cpp, conv_gather_blocked_reusing). False, having done nothing, at
// other strides and where the padding passes the taps' span. `spare` (or
// null) as scatter_tiles: in the backward, the weight gradient's memory.
template <class T>
bool conv_gather_as_forward(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x, T* spare) {
  ConvGeom f = g;
  for (int a = 0; a < 3; ++a) {
    if (g.s[a] != 1 || g.d[a] * (g.k[a] - 1) < g.pad[a]) return false;
    f.x[a] = g.y[a];
    f.y[a] = g.x[a];
    f.pad[a] = g.d[a] * (g.k[a] - 1) - g.pad[a];
  }
  f.Cx = g.Cy;
  f.Cy = g.Cx;
  scatter_blocked<T>(f, y, w, bias, x, true, spare);
  return true;
}
template bool conv_gather_as_forward<float>(const ConvGeom&, const float*, const float*, const float*, float*, float*);
template bool conv_gather_as_forward<double>(const ConvGeom&, const double*, const double*, const double*, double*,
                                             double*);

// Rows of (channel, tap) pairs number in the hundreds: 8 of them per tile
// where the registers hold 8 x 2 accumulators (AVX-512), else 6.
template <class T>
void conv_scatter_taps_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  if constexpr (kVecRegs >= 32) taps_tiles<T, 8, 2>(g, x, w, bias, y);
  else taps_tiles<T, 6, 2>(g, x, w, bias, y);
}

}  // namespace lucid::kernels::LUCID_ISA

#else  // no AVX2: the direct loops and the matrix products serve

#include "conv_direct.h"
#include "conv_gemm.h"

LUCID_ISA_BEGIN

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  conv_scatter_direct<T>(g, x, w, bias, y);
}
template <class T>
void conv_scatter_taps_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  conv_scatter_taps<T>(g, x, w, bias, y);
}
}  // namespace lucid::kernels::LUCID_ISA

#endif

namespace lucid::kernels::LUCID_ISA {
template void conv_scatter_blocked<float>(const ConvGeom&, const float*, const float*, const float*, float*);
template void conv_scatter_blocked<double>(const ConvGeom&, const double*, const double*, const double*, double*);
template void conv_scatter_taps_blocked<float>(const ConvGeom&, const float*, const float*, const float*, float*);
template void conv_scatter_taps_blocked<double>(const ConvGeom&, const double*, const double*, const double*, double*);
}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
