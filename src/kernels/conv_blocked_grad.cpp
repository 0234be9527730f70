// The register-blocked gather: x = conv(y, w) + b, the input gradient of the
// transposed convolution and the forward of the ordinary one. A tile of MR
// x-side channels x NV vectors of positions along a row of x (with AVX-512,
// for rows one pair wide, of two rows) accumulates in registers over (tap,
// y-side channel), from weights packed once per call. The y rows a row of x reads are
// copied, all channels, into slots split by phase along the last axis (so a
// strided read becomes a contiguous one) and zero-padded at the edges; the
// slots are kept while the next row still needs them. No column buffer, no
// product call. Also the register-blocked weight gradient, and the one-pass
// backward that runs both (with the bias gradient) over one read of y where
// k = s. Compiled once per instruction set like conv_blocked.cpp.
#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <vector>

#include <omp.h>

#include "conv.h"
#include "conv_blocked.h"
#include "conv_phases.h"
#include "partial_sums.h"

#include "isa_target.h"

#if LUCID_ISA_LEVEL >= 1
#include <immintrin.h>

LUCID_ISA_BEGIN
#include "blocked_tile.h"

namespace lucid::kernels::LUCID_ISA {
namespace {

// The gather's packed weights: per group and block of x channels
// [tap][co][width] (zero-padded channels), the first `main` blocks MR
// channels wide and the rest MT (ChannelBlocks; MT = MR: all alike). Given
// spare memory of w's size, the blocks without padded channels go there
// (they fill at most w's size), the others to `rest` (rest_size() values).
template <class T, int MR, int MT = MR>
struct GatherWeights : ChannelBlocks<MR, MT> {
  using ChannelBlocks<MR, MT>::first, ChannelBlocks<MR, MT>::width, ChannelBlocks<MR, MT>::blocks;
  std::int64_t full = 0, per_tap, groups;
  T* spare = nullptr;
  T* rest = nullptr;
  GatherWeights(const ConvGeom& g, T* spare_w)
      : ChannelBlocks<MR, MT>(g.cx_per_group()), per_tap(g.taps() * g.cy_per_group()), groups(g.groups),
        spare(spare_w) {
    while (spare_w && full < blocks && first(full) + width(full) <= g.cx_per_group()) ++full;
  }
  std::int64_t rest_size() const { return groups * (first(blocks) - first(full)) * per_tap; }
  T* at(std::int64_t grp, std::int64_t b) const {
    return b < full ? spare + (grp * first(full) + first(b)) * per_tap
                    : rest + (grp * (first(blocks) - first(full)) + first(b) - first(full)) * per_tap;
  }
  void pack(const ConvGeom& g, const T* w) const {
    const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
    for (std::int64_t grp = 0; grp < groups; ++grp)
      for (std::int64_t b = 0; b < blocks; ++b) {
        const std::int64_t ci0 = first(b), wd = width(b), mr = std::min<std::int64_t>(wd, cxg - ci0);
        T* dst = at(grp, b);
        for (std::int64_t kf = 0; kf < K; ++kf)
          for (std::int64_t co = 0; co < cyg; ++co)
            for (std::int64_t m = 0; m < wd; ++m)
              dst[(kf * cyg + co) * wd + m] = m < mr ? w[((grp * cxg + ci0 + m) * cyg + co) * K + kf] : T(0);
      }
  }
};

// One row of x from the y rows held in slots (yp: [slot][co][phase][Lp],
// `pitch` = s2 * Lp per channel): every block of MR x channels, in tiles of
// NV vectors along the row staged in st (MR rows of Xr), then copied to
// xrow (channel c of the group at xrow + c * X; with `stream`, by
// streaming stores). xs, ws: room for every tap. The tiles step pf (as
// prefetch_next_row paces it).
template <class T, int MR, int NV, int MT>
void gather_row(const ConvGeom& g, const YRows& yr, const RowSlots& slots, const T* yp, std::int64_t Lp,
                const GatherWeights<T, MR, MT>& pw, std::int64_t grp, const T* bias, T* st, std::int64_t Xr, T* xrow,
                const T** xs, const T** ws, PacedPrefetch& pf, bool stream) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int NR = NV * VT::W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Xw = g.x[2], pitch = g.s[2] * Lp;
  for (std::int64_t b = 0; b < pw.blocks; ++b)
    pw.with_width(b, [&](auto wd) {
      constexpr int M = wd();
      const std::int64_t ci0 = pw.first(b), mr = std::min<std::int64_t>(M, cxg - ci0);
      V bv[M];
      for (int m = 0; m < M; ++m) {
        const T bm = (bias && m < mr) ? bias[grp * cxg + ci0 + m] : T(0);
        bv[m] = VT::bcast(&bm);
      }
      const T* wb = pw.at(grp, b);
      std::int64_t nl = 0;  // the live taps: where their y row and weights are
      for (std::int64_t kf = 0; kf < K; ++kf) {
        const std::int64_t sl = slots.slot_of[static_cast<std::size_t>(kf / g.k[2])];
        if (sl < 0) continue;
        const std::size_t k2 = static_cast<std::size_t>(kf % g.k[2]);
        xs[nl] = yp + sl * cyg * pitch + yr.r[k2] * Lp + yr.c[k2];
        ws[nl++] = wb + kf * cyg * M;
      }
      std::int64_t c0 = 0;
      for (; c0 + VT::W < Xw; c0 += NR) tile<T, M, NV, true>(xs, ws, nl, c0, cyg, pitch, bv, st, Xr, &pf);
      if (c0 < Xw) tile<T, M, 1, true>(xs, ws, nl, c0, cyg, pitch, bv, st, Xr, &pf);
      for (int m = 0; m < mr; ++m) copy_short(xrow + (ci0 + m) * X, st + m * Xr, Xw, stream);
    });
}

#if LUCID_ISA_LEVEL == 2
// Two rows of x at once (rows one pair wide), A's y rows named in
// slots.slot_of[0, nslot), B's in [nslot, 2 * nslot): tile_two_rows over
// every tap either row meets, the other reading `zero` (a slot of zeros)
// where it meets none. Each row's sums are those gather_row<T, MR, 2> gives
// it alone, with products of zero added. xa, xb, ws: room for every tap.
template <class T, int MR, int MT>
void gather_two_rows(const ConvGeom& g, const YRows& yr, const RowSlots& slots, const T* yp, const T* zero,
                     std::int64_t Lp, const GatherWeights<T, MR, MT>& pw, std::int64_t grp, const T* bias, T* st,
                     std::int64_t Xr, T* xrow_a, T* xrow_b, const T** xa, const T** xb, const T** ws,
                     PacedPrefetch& pf, bool stream) {
  using VT = Vec<T>;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps(), nslot = g.k[0] * g.k[1];
  const std::int64_t X = g.x_spatial(), Xw = g.x[2], pitch = g.s[2] * Lp;
  for (std::int64_t b = 0; b < pw.blocks; ++b)
    pw.with_width(b, [&](auto wd) {
      constexpr int M = wd();
      const std::int64_t ci0 = pw.first(b), mr = std::min<std::int64_t>(M, cxg - ci0);
      typename VT::V bv[M];
      for (int m = 0; m < M; ++m) {
        const T bm = (bias && m < mr) ? bias[grp * cxg + ci0 + m] : T(0);
        bv[m] = VT::bcast(&bm);
      }
      const T* wb = pw.at(grp, b);
      std::int64_t nl = 0;
      for (std::int64_t kf = 0; kf < K; ++kf) {
        const std::size_t k01 = static_cast<std::size_t>(kf / g.k[2]), k2 = static_cast<std::size_t>(kf % g.k[2]);
        const std::int64_t sa = slots.slot_of[k01], sb = slots.slot_of[static_cast<std::size_t>(nslot) + k01];
        if (sa < 0 && sb < 0) continue;
        const std::int64_t off = yr.r[k2] * Lp + yr.c[k2];
        xa[nl] = (sa >= 0 ? yp + sa * cyg * pitch : zero) + off;
        xb[nl] = (sb >= 0 ? yp + sb * cyg * pitch : zero) + off;
        ws[nl++] = wb + kf * cyg * M;
      }
      tile_two_rows<T, M, true>(xa, xb, ws, nl, cyg, pitch, bv, st, st + MR * Xr, Xr, &pf);
      for (int m = 0; m < mr; ++m) {
        copy_short(xrow_a + (ci0 + m) * X, st + m * Xr, Xw, stream);
        copy_short(xrow_b + (ci0 + m) * X, st + (MR + m) * Xr, Xw, stream);
      }
    });
}
#endif

// Where row `row` of x (n, d, h: the rows YRows places) starts: group grp's
// first channel.
inline std::int64_t x_row_at(const ConvGeom& g, const YRows& yr, std::int64_t grp, std::int64_t row) {
  const auto [n, id, ih] = yr.place(row);
  return (n * g.Cx + grp * g.cx_per_group()) * g.x_spatial() + (id * g.x[1] + ih) * g.x[2];
}

// Readies pf for gather_row<T, MR, NV> on the row of x whose y rows slots
// holds (or gather_two_rows on two): the y rows of the next row or rows
// (next, where there are any) that slots does not hold, and the rows of x-side channels named in `also` (each the
// group's channels of one row, X apart), paced over the steps the row's
// tiles take.
template <class T, int MR, int NV>
void prefetch_next_row(const ConvGeom& g, const YRows& yr, const T* y, std::int64_t grp, const RowSlots& slots,
                       const RowSlots* next, std::int64_t blocks, PacedPrefetch& pf,
                       const std::array<const T*, 2>& also = {}) {
  pf.clear();
  if (next) yr.prefetch_missing(y, grp, next->want, slots, pf);
  const std::int64_t sz = static_cast<std::int64_t>(sizeof(T));
  for (const T* row : also)  // a row of x or of its gradient: the group's channels
    if (row) pf.add(row, g.x[2] * sz, g.cx_per_group(), g.x_spatial() * sz);
  const std::int64_t NR = NV * Vec<T>::W, Xw = g.x[2];
  std::int64_t tiles = 0, c0 = 0, nl = 0;  // as gather_row walks the row, and its live taps
  for (; c0 + Vec<T>::W < Xw; c0 += NR) ++tiles;
  if (c0 < Xw) ++tiles;
  const std::size_t nslot = static_cast<std::size_t>(g.k[0] * g.k[1]);  // slots may name two rows' y rows
  for (std::size_t k01 = 0; k01 < nslot; ++k01) {
    bool live = false;
    for (std::size_t r = k01; r < slots.slot_of.size(); r += nslot) live = live || slots.slot_of[r] >= 0;
    nl += live ? g.k[2] : 0;
  }
  pf.pace(blocks * tiles * nl * ceil_div(g.cy_per_group(), kPrefetchChannels));
}

// How many rows of x gather_tiles<..., 2> runs at once from row `row` (r1:
// the end of its rows): two where the next row lies in the same plane and
// `yr.step` further along it (so that the two meet k0 * y_rows_of_two(g, yr)
// y rows at most), else one.
inline std::int64_t unit_rows(const YRows& yr, std::int64_t row, std::int64_t r1) {
  if (row + 1 >= r1) return 1;
  const auto a = yr.place(row), b = yr.place(row + 1);
  return a.n == b.n && a.id == b.id && b.ih == a.ih + yr.step ? 2 : 1;
}
inline std::int64_t y_rows_of_two(const ConvGeom& g, const YRows& yr) {
  std::vector<std::int64_t> oh;  // the offsets along axis 1 two such rows meet
  for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1) oh.push_back(k1 * g.d[1]), oh.push_back(yr.step * g.s[1] + k1 * g.d[1]);
  std::sort(oh.begin(), oh.end());
  return std::unique(oh.begin(), oh.end()) - oh.begin();
}

// The gather, one row of x at a time (R = 1) or, with AVX-512 and rows one
// pair wide, two at a time where unit_rows allows (R = 2: gather_two_rows,
// NV = 2; a row alone takes gather_row). Blocks of x channels MR wide, then
// MT (ChannelBlocks).
template <class T, int MR, int NV, int R = 1, int MT = MR>
void gather_tiles(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x, T* spare) {
  constexpr int NR = NV * Vec<T>::W;
  const std::int64_t cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Xw = g.x[2], s2 = g.s[2];
  const YRows yr(g);
  const std::int64_t Xr = (Xw + NR - 1) / NR * NR;  // staged row
  const std::int64_t Lp = Xr + yr.cmax, pitch = s2 * Lp;  // a phase row; one channel
  const std::int64_t nslot = g.k[0] * g.k[1];         // the y rows of one x row
  // The slots held at once, and for two rows a slot of zeros after them.
  const std::int64_t nheld = R == 1 ? nslot : g.k[0] * y_rows_of_two(g, yr) + 1;
  if (g.N == 0) return;
  const double out_bytes = static_cast<double>(g.N * g.Cx * X) * sizeof(T);
  const std::int64_t nrows = g.N * g.x[0] * g.x[1];
  // The weights, packed once for all threads.
  GatherWeights<T, MR, MT> pw(g, spare);
  pw.rest = thread_scratch<T>(static_cast<std::size_t>(pw.rest_size()), 1);
  pw.pack(g, w);
  // Items are (group, chunk of rows): with no per-item weights, one block
  // group holds every block. Where neighbouring planes of x meet common y
  // planes, chunks span 8 planes or more (while each thread still gets two
  // or more): a thread's next plane then finds those y planes in its cache.
  // In chunks of two planes a thread's chunks lay apart and read y from
  // memory half as often again (V1's gather 16.5-17.6 ms in 32 chunks,
  // 15.6-16.0 in 8).
  std::int64_t chunks = BlockedSplit(g, pw.blocks, 0, out_bytes, nrows).chunks;
  if ((g.k[0] - 1) * g.d[0] >= g.s[0])
    chunks = std::min(chunks, std::max<std::int64_t>(2 * omp_get_max_threads(), nrows / (8 * g.x[1])));
  // Two rows' slots go to the thread's other buffer where the weights need
  // no room there (every block in spare): the weight gradient's share of
  // the gradient fills it in the same backward (V1's backward kept 10.5% of
  // what it produces with them after the staged rows, 9.4% apart; the 128
  // -> 64 U-Net up-convolution's 11.9% and 9.0%).
  const bool apart = R == 2 && pw.rest_size() == 0;
  // x beyond the caches: streaming stores (streams()), and no fetching of
  // the rows of x the tiles will write.
  const bool stream = streams(out_bytes, Xw, x);
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < g.groups * chunks; ++it) {
    const std::int64_t ch = it % chunks, grp = it / chunks;
    // Scratch: R * MR staged rows, then the y slots [slot][co][phase][Lp]
    // (apart: in the thread's other buffer).
    T* st = thread_scratch<T>(static_cast<std::size_t>(R * MR * Xr + (apart ? 0 : nheld * cyg * pitch)), 0);
    T* yp = apart ? thread_scratch<T>(static_cast<std::size_t>(nheld * cyg * pitch), 1) : st + R * MR * Xr;
    T* zero = R == 2 ? yp + (nheld - 1) * cyg * pitch : nullptr;
    if (zero) std::fill(zero, zero + cyg * pitch, T(0));
    // y rows (n * Y0 + od) * Y1 + oh, [row of the unit][pair]; next: the next unit's
    RowSlots slots(R * nslot), next(R * nslot);
    std::vector<const T*> xs(static_cast<std::size_t>(R * K)), ws(static_cast<std::size_t>(K));
    PacedPrefetch pf;
    const std::int64_t r0 = nrows * ch / chunks, r1 = nrows * (ch + 1) / chunks;
    const auto want = [&](std::int64_t row, std::int64_t nr, RowSlots& sl) {
      for (std::int64_t r = 0; r < R; ++r)
        if (r < nr) yr.want(row + r, 0, nslot, sl, r * nslot);
        else std::fill(sl.want.begin() + r * nslot, sl.want.begin() + (r + 1) * nslot, -1);
    };
    for (std::int64_t row = r0, nr = 0; row < r1; row += nr) {
      nr = R == 2 ? unit_rows(yr, row, r1) : 1;
      want(row, nr, slots);
      slots.assign([&](std::int64_t sl, std::int64_t key) { yr.pack(y, grp, key, Lp, yp + sl * cyg * pitch, pitch, Lp, false); });
      // The next unit's y rows, read from memory while this unit's tiles run,
      // and its rows of x, which its tiles will write.
      const std::int64_t row1 = row + nr, nr1 = row1 < r1 ? (R == 2 ? unit_rows(yr, row1, r1) : 1) : 0;
      if (nr1 > 0) want(row1, nr1, next);
      std::array<const T*, 2> also{};
      for (std::int64_t r = 0; r < nr1 && !stream; ++r) also[static_cast<std::size_t>(r)] = x + x_row_at(g, yr, grp, row1 + r);
      prefetch_next_row<T, MR, NV>(g, yr, y, grp, slots, nr1 > 0 ? &next : nullptr, pw.blocks, pf, also);
      T* xrow = x + x_row_at(g, yr, grp, row);
#if LUCID_ISA_LEVEL == 2
      if constexpr (R == 2)
        if (nr == 2) {
          gather_two_rows<T, MR>(g, yr, slots, yp, zero, Lp, pw, grp, bias, st, Xr, xrow,
                                 x + x_row_at(g, yr, grp, row + 1), xs.data(), xs.data() + K, ws.data(), pf, stream);
          continue;
        }
#endif
      gather_row<T, MR, NV>(g, yr, slots, yp, Lp, pw, grp, bias, st, Xr, xrow, xs.data(), ws.data(), pf, stream);
    }
    if (stream) _mm_sfence();
  }
}

// What the backward produces (x and w), in bytes: the scale of the bounds on
// the weight gradient's scratch.
template <class T>
double wgrad_produced(const ConvGeom& g) {
  return static_cast<double>(g.N * g.Cx * g.x_spatial() + g.Cx * g.cy_per_group() * g.taps()) * sizeof(T);
}

// Tap pairs (k0, k1) per set of the weight gradient, its output channels
// padded to cyp. Items are (half, group, set); a set's share of the
// gradient, summed in a buffer of the thread's, is kept within 256 KB (so
// it stays in a 1 MB cache while the rows pass) and 3% of what the
// backward produces. Sets hold whole k0 planes where they can (a y row
// serves the taps k1 of neighbouring x rows: kept together, it is packed
// once for them) and are made even. Fewer sets also mean fewer copies of
// each x row: F1's weight gradient (four k1 taps of 64 KB each) took 49-50
// ms in 8 sets of 2 pairs under a 128 KB bound, 44-46 ms in 4 sets of whole
// planes; with 8 samples 115 ms against 95.
template <class T>
std::int64_t wgrad_pairs_per_set(const ConvGeom& g, std::int64_t cyp) {
  const std::int64_t npair = g.k[0] * g.k[1];
  const std::int64_t pair_bytes = g.k[2] * g.cx_per_group() * cyp * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t share_bytes = std::min<std::int64_t>(256 << 10, static_cast<std::int64_t>(0.03 * wgrad_produced<T>(g)));
  const std::int64_t most = std::clamp<std::int64_t>(share_bytes / pair_bytes, 1, npair);
  const std::int64_t unit = most >= g.k[1] ? g.k[1] : 1, units = npair / unit;
  return ceil_div(units, ceil_div(units, most / unit)) * unit;
}

#if LUCID_ISA_LEVEL == 2
// The weight gradient's tile shape with AVX-512 (32 registers, pairs of
// vectors in each), for more than 4 x channels: 8 of them where they pad
// no more than 6 do, and 4 vectors of y channels (two pairs: 16
// accumulators) where the y channels fill them about as well as 2 do.
inline bool wgrad_eight_channels(std::int64_t cxg) { return (cxg + 7) / 8 * 8 <= (cxg + 5) / 6 * 6; }
template <class T>
bool wgrad_four_vectors(std::int64_t cyg) {
  const std::int64_t W = Vec<T>::W;
  return static_cast<double>(ceil_div(cyg, 4 * W) * 4 * W) <= 1.15 * static_cast<double>(ceil_div(cyg, 2 * W) * 2 * W);
}
#endif

// Calls f(MR, NV), each as a std::integral_constant, with the weight
// gradient's tile shape: MR channels broadcast (`rows` of them) by NV
// vectors of the other side's channels (`cols`). 6 by 2 vectors; with
// AVX-512 8 where they pad no more than 6 do, and 4 vectors where the
// channels fill them about as well as 2 do; 4 where there are no more, and
// one vector where the channels fit in one (two would spend half their
// multiply-adds on padding).
template <class T, class F>
void with_wgrad_tile(std::int64_t rows, std::int64_t cols, F&& f) {
  using std::integral_constant;
  const bool few_out = cols <= Vec<T>::W;
  if (rows <= 4)
    return few_out ? f(integral_constant<int, 4>{}, integral_constant<int, 1>{})
                   : f(integral_constant<int, 4>{}, integral_constant<int, 2>{});
#if LUCID_ISA_LEVEL == 2
  if (wgrad_eight_channels(rows)) {
    if (few_out) return f(integral_constant<int, 8>{}, integral_constant<int, 1>{});
    return wgrad_four_vectors<T>(cols) ? f(integral_constant<int, 8>{}, integral_constant<int, 4>{})
                                      : f(integral_constant<int, 8>{}, integral_constant<int, 2>{});
  }
#endif
  return few_out ? f(integral_constant<int, 6>{}, integral_constant<int, 1>{})
                 : f(integral_constant<int, 6>{}, integral_constant<int, 2>{});
}

// x row xrow (cxg channels X apart) channel-last into dst: position i's
// channels at dst + i * cxp, zeros from cxg to cxp (whole tiles).
template <class T>
void pack_x_row(const T* xrow, std::int64_t X, std::int64_t cxg, std::int64_t Xw, T* dst, std::int64_t cxp) {
  copy_transposed(xrow, X, cxg, Xw, dst, cxp);
  for (std::int64_t i = 0; i < Xw; ++i) std::fill(dst + i * cxp + cxg, dst + (i + 1) * cxp, T(0));
}

// Adds to Gt (one tap's share of the weight gradient, [ci][cyp]) the
// products of `live` rows of x (xts[r]: channel ci at + ci * xm, position i
// at + i * xi) with the y values their tap meets (yts[r]: channel-last,
// position i at + i * cyp), in tiles of MR x channels x NV vectors of y
// channels summed in registers over the Xw positions of every row.
template <class T, int MR, int NV, int MT>
void wgrad_tap(const ChannelBlocks<MR, MT>& cb, const T* const* yts, const T* const* xts, std::int64_t live,
               std::int64_t Xw, std::int64_t cxg, std::int64_t cyp, std::int64_t xm, std::int64_t xi, T* Gt) {
  using PT = typename Pairs<T, NV>::VT;  // the registers the NV vectors sit in
  using PV = typename PT::V;
  constexpr int NP = Pairs<T, NV>::N;
  constexpr int NC = NV * Vec<T>::W;  // output channels per tile
  for (std::int64_t b = 0; b < cb.blocks; ++b)
    cb.with_width(b, [&](auto wd) {
      constexpr int M = wd();
      const std::int64_t ci0 = cb.first(b), mr = std::min<std::int64_t>(M, cxg - ci0);
      T* Gb = Gt + ci0 * cyp;
      for (std::int64_t c0 = 0; c0 < cyp; c0 += NC) {
        PV acc[M][NP];
        LUCID_UNROLL for (int m = 0; m < M; ++m)
          LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = PT::zero();
        for (std::int64_t r = 0; r < live; ++r) {
          const T* yt = yts[r] + c0;
          const T* xt = xts[r] + ci0 * xm;
          for (std::int64_t i = 0; i < Xw; ++i, yt += cyp, xt += xi) {
            PV yv[NP];
            LUCID_UNROLL for (int v = 0; v < NP; ++v) yv[v] = PT::load(yt + v * PT::W);
            LUCID_UNROLL for (int m = 0; m < M; ++m) {
              const PV xv = PT::bcast(xt + m * xm);
              LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = PT::fma(xv, yv[v], acc[m][v]);
            }
          }
        }
        LUCID_UNROLL for (int m = 0; m < M; ++m)  // (a constant bound keeps acc in registers)
          if (m < mr)
            LUCID_UNROLL for (int v = 0; v < NP; ++v) {
              T* p = Gb + m * cyp + c0 + v * PT::W;
              PT::store(p, PT::add(PT::load(p), acc[m][v]));
            }
      }
    });
}

// Adds to Gt (one tap's share of the weight gradient, [co][cxp]) the
// products of the y rows the tap meets (channel co's Xw values at y + co *
// pitch, read in place and broadcast) with a row of x laid out channel-last
// (position i's channels at xt + i * cxp, cxp whole tiles), in tiles of MR
// y channels (cb's blocks of the cyg channels) x NV vectors of x channels
// summed in registers over the row.
template <class T, int MR, int NV, int MT>
void wgrad_rows(const ChannelBlocks<MR, MT>& cb, const T* y, std::int64_t pitch, std::int64_t cyg, const T* xt,
                std::int64_t cxp, std::int64_t Xw, T* Gt) {
  using PT = typename Pairs<T, NV>::VT;
  using PV = typename PT::V;
  constexpr int NP = Pairs<T, NV>::N;
  constexpr int NC = NV * Vec<T>::W;  // x channels per tile
  for (std::int64_t b = 0; b < cb.blocks; ++b) cb.with_width(b, [&](auto wd) {
    constexpr int M = wd();
    const std::int64_t co0 = cb.first(b), mr = std::min<std::int64_t>(M, cyg - co0);
    const T* yr[M];  // rows past the last channel read the last again (their sums are dropped)
    LUCID_UNROLL for (int m = 0; m < M; ++m) yr[m] = y + (co0 + std::min<std::int64_t>(m, mr - 1)) * pitch;
    for (std::int64_t c0 = 0; c0 < cxp; c0 += NC) {
      PV acc[M][NP];
      LUCID_UNROLL for (int m = 0; m < M; ++m)
        LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = PT::zero();
      const T* xp = xt + c0;
      for (std::int64_t i = 0; i < Xw; ++i, xp += cxp) {
        PV xv[NP];
        LUCID_UNROLL for (int v = 0; v < NP; ++v) xv[v] = PT::load(xp + v * PT::W);
        LUCID_UNROLL for (int m = 0; m < M; ++m) {
          const PV yv = PT::bcast(yr[m] + i);
          LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = PT::fma(yv, xv[v], acc[m][v]);
        }
      }
      LUCID_UNROLL for (int m = 0; m < M; ++m)
        if (m < mr)
          LUCID_UNROLL for (int v = 0; v < NP; ++v) {
            T* p = Gt + (co0 + m) * cxp + c0 + v * PT::W;
            PT::store(p, PT::add(PT::load(p), acc[m][v]));
          }
    }
  });
}

// Which tap pair (k0, k1) copies each y row for the bias gradient: of the
// x rows and pairs that meet row (od, oh), the pair with the least k0,
// then k1 (k0[od], k1[oh]; -1 where none meets it). `whole` where every y
// row is met and a channel-last copy (Lp elements a phase) holds every
// value of its row: then each y value is summed once, from the copy of its
// row the weight gradient makes for that pair, and the bias gradient needs
// no pass over y of its own.
struct BiasRows {
  std::vector<std::int64_t> k0, k1;
  bool whole = true;
  BiasRows(const ConvGeom& g, const YRows& yr, std::int64_t Lp) {
    const auto first = [&](int a, std::vector<std::int64_t>& by) {
      by.assign(static_cast<std::size_t>(g.y[a]), -1);
      for (std::int64_t o = 0; o < g.y[a]; ++o)
        for (std::int64_t k = 0; k < g.k[a] && by[static_cast<std::size_t>(o)] < 0; ++k) {
          const std::int64_t e = o + g.pad[a] - k * g.d[a];  // = i * s
          if (e >= 0 && e % g.s[a] == 0 && e / g.s[a] < g.x[a]) by[static_cast<std::size_t>(o)] = k;
        }
      whole = whole && std::find(by.begin(), by.end(), -1) == by.end();
    };
    first(0, k0);
    first(1, k1);
    whole = whole && (Lp - yr.B) * g.s[2] >= g.y[2];
  }
  // Whether pair p (k0 * K1 + k1) is the one that sums y row `key` ((n *
  // Y0 + od) * Y1 + oh).
  bool sums(const ConvGeom& g, std::int64_t key, std::int64_t p) const {
    return k0[static_cast<std::size_t>(key / g.y[1] % g.y[0])] == p / g.k[1] &&
           k1[static_cast<std::size_t>(key % g.y[1])] == p % g.k[1];
  }
};

// Adds to acc[co] (co < cyg) every value of a channel-last copy of a y row
// (`rows` positions of cs channels, cs whole vectors; zeros where nothing
// was copied): a vector of channels at a time, four positions' sums side
// by side in registers. (Summed into acc row by row, each addition waited
// on the one before through memory, and U2's backward gained nothing.)
template <class T>
void add_channel_last(const T* src, std::int64_t rows, std::int64_t cs, std::int64_t cyg, double* acc) {
  constexpr std::int64_t W = Vec<T>::W;
  for (std::int64_t c0 = 0; c0 < cyg; c0 += W) {
    double a[4][W] = {};
    const T* p = src + c0;
    std::int64_t j = 0;
    for (; j + 4 <= rows; j += 4, p += 4 * cs)
      for (int u = 0; u < 4; ++u)
        for (std::int64_t l = 0; l < W; ++l) a[u][l] += static_cast<double>(p[u * cs + l]);
    for (; j < rows; ++j, p += cs)
      for (std::int64_t l = 0; l < W; ++l) a[0][l] += static_cast<double>(p[l]);
    for (std::int64_t l = 0; l < std::min(W, cyg - c0); ++l) acc[c0 + l] += (a[0][l] + a[1][l]) + (a[2][l] + a[3][l]);
  }
}

// The weight gradient w[ci, co, k] = sum over (n, positions i) of
// x[n, ci, i] * y[n, co, o(i, k)]. A tile of MR input channels x NV vectors
// of output channels accumulates over the positions of a group of rows of x
// (enough for about 64 positions), reading those rows (in place, or copies
// laid out position by position: MR channels side by side, broadcast) and
// copies of the y rows their taps meet, laid out channel-last (a vector
// holds consecutive output channels) and split by phase along the last
// axis; only then does it add into its share of the gradient. Items are
// (half of the rows, set of per_set tap pairs (k0, k1)): each sums its
// set's share of the gradient (laid out [tap][ci][co], small enough to stay
// in cache) in a buffer of its thread's, then, under the set's lock, stores
// it into w or, if the other half got there first, adds it to what is
// there. Two partial sums added in either order give the same bits, so the
// result does not depend on the thread count; and no copy of the whole
// gradient is kept.
template <class T, int MR, int NV, int MT, bool InPlace>
void wgrad_tiles(const ConvGeom& g, const T* x, const T* y, T* w, T* gb, std::int64_t per_set) {
  constexpr int NC = NV * Vec<T>::W;  // output channels per tile
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Xw = g.x[2], s2 = g.s[2];
  const ChannelBlocks<MR, MT> cb(cxg);
  const std::int64_t cyp = (cyg + NC - 1) / NC * NC, cxp = cb.first(cb.blocks);
  const YRows yr(g);
  const std::int64_t Lp = Xw + yr.cmax, slot = s2 * Lp * cyp;  // one packed y row: [phase][j][co]
  const std::int64_t npair = g.k[0] * g.k[1];
  const std::int64_t nrows = g.N * g.x[0] * g.x[1];
  const double produced = wgrad_produced<T>(g);
  const std::int64_t pair_bytes = g.k[2] * cxg * cyp * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t sets = ceil_div(npair, per_set);
  // Rows of x summed per tile: about 64 positions, as far as the packed y
  // rows of a group stay within 2% per thread of what the backward produces,
  // and with the copies of those x rows (if made) and the gradient share
  // within 5% per thread (a tenth for the two: U1's backward 11.1% -> 9.7%
  // while it copied).
  const double group_bytes = static_cast<double>(per_set * slot) * sizeof(T);
  const double row_bytes = group_bytes + (InPlace ? 0.0 : static_cast<double>(Xw * cxp) * sizeof(T));
  const double share = static_cast<double>(per_set * pair_bytes);
  const std::int64_t RB = std::clamp<std::int64_t>(
      std::min<std::int64_t>({(64 + Xw - 1) / Xw, static_cast<std::int64_t>(0.02 * produced / group_bytes),
                              static_cast<std::int64_t>((0.05 * produced - share) / row_bytes)}),
      1, 8);
  const std::int64_t items = 2 * g.groups * sets;
  std::vector<std::mutex> locks(static_cast<std::size_t>(g.groups * sets));
  std::vector<char> stored(static_cast<std::size_t>(g.groups * sets), 0);
  // The bias gradient (gb), summed per item from the y rows its pairs copy
  // (BiasRows), the items' sums then added in item order; or, where the
  // copies miss some y values, in a pass of its own.
  const BiasRows brows(g, yr, Lp);
  if (gb && !brows.whole) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
  const bool bias = gb && brows.whole;
  std::vector<double> bsum(bias ? static_cast<std::size_t>(items * cyg) : 0, 0.0);
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < items; ++it) {
    const std::int64_t set = it % sets, grp = (it / sets) % g.groups, h = it / (sets * g.groups);
    const std::int64_t p0 = set * per_set, np = std::min(per_set, npair - p0);
    // This item's share of the gradient: [tap of the set][ci][co].
    const std::int64_t kf0 = p0 * g.k[2], nk = np * g.k[2];
    T* G = thread_scratch<T>(static_cast<std::size_t>(nk * cxg * cyp), 1);
    std::fill(G, G + nk * cxg * cyp, T(0));
    // Scratch: the packed y rows of a group of x rows, then (unless x is
    // read in place) copies of those x rows, [row][position][channel]
    // (channels zero-padded to whole tiles).
    T* yp = thread_scratch<T>(static_cast<std::size_t>(RB * np * slot + (InPlace ? 0 : RB * Xw * cxp)), 0);
    T* xpk = yp + RB * np * slot;
    const T* xrows[8];  // the group's x rows (or their copies), RB <= 8
    RowSlots slots(RB * np);  // y rows (n * Y0 + od) * Y1 + oh, [row in group][pair]
    const std::int64_t xm = InPlace ? X : 1, xi = InPlace ? 1 : cxp;  // strides of x: channel, position
    const std::int64_t h0 = nrows * h / 2, h1 = nrows * (h + 1) / 2;
    for (std::int64_t r0 = h0; r0 < h1; r0 += RB) {
      const std::int64_t nr = std::min(RB, h1 - r0);
      for (std::int64_t r = 0; r < RB; ++r) {
        if (r >= nr) {
          for (std::int64_t t = 0; t < np; ++t) slots.want[static_cast<std::size_t>(r * np + t)] = -1;
          continue;
        }
        const auto [n, id, ih] = yr.place(r0 + r);
        yr.want(r0 + r, p0, np, slots, r * np);
        const T* xrow = x + (n * g.Cx + grp * cxg) * X + (id * g.x[1] + ih) * Xw;
        if constexpr (InPlace) {
          xrows[r] = xrow;  // channels lie X apart
        } else {
          T* xr = xpk + r * Xw * cxp;
          pack_x_row(xrow, X, cxg, Xw, xr, cxp);
          xrows[r] = xr;
        }
      }
      slots.assign([&](std::int64_t sl, std::int64_t key) {
        yr.pack_channel_last(y, grp, key, Lp, yp + sl * slot, Lp * cyp, cyp);
      });
      if (bias)
        for (std::int64_t r = 0; r < nr; ++r)
          for (std::int64_t t = 0; t < np; ++t) {
            const std::size_t at = static_cast<std::size_t>(r * np + t);
            if (slots.want[at] >= 0 && brows.sums(g, slots.want[at], p0 + t))
              add_channel_last(yp + slots.slot_of[at] * slot, s2 * Lp, cyp, cyg, bsum.data() + it * cyg);
          }
      for (std::int64_t t = 0; t < np; ++t)
        for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) {
          const std::int64_t kf = (p0 + t) * g.k[2] + k2;
          const std::size_t kk = static_cast<std::size_t>(k2);
          // the rows of the group whose y row exists: where their taps' y values start
          const T* yts[8];
          const T* xts[8];
          std::int64_t live = 0;
          for (std::int64_t r = 0; r < nr; ++r) {
            const std::int64_t sl = slots.slot_of[static_cast<std::size_t>(r * np + t)];
            if (sl < 0) continue;
            yts[live] = yp + sl * slot + (yr.r[kk] * Lp + yr.c[kk]) * cyp;  // position i at + i * cyp
            xts[live++] = xrows[r];
          }
          if (live == 0) continue;
          wgrad_tap<T, MR, NV, MT>(cb, yts, xts, live, Xw, cxg, cyp, xm, xi, G + (kf - kf0) * cxg * cyp);
        }
    }
    // Into w[ci, co, k]: the first half to finish stores, the second adds
    // (each input channel's block transposed through registers, the taps
    // becoming the last axis).
    const std::size_t lk = static_cast<std::size_t>(grp * sets + set);
    const std::lock_guard<std::mutex> hold(locks[lk]);
    const bool add = stored[lk] != 0;
    std::vector<T> tr(add ? static_cast<std::size_t>(cyg * nk) : 0);  // one channel's block, transposed
    for (std::int64_t ci = 0; ci < cxg; ++ci) {
      T* wr = w + (grp * cxg + ci) * cyg * K + kf0;
      if (!add) {
        copy_transposed(G + ci * cyp, cxg * cyp, nk, cyg, wr, K);
        continue;
      }
      copy_transposed(G + ci * cyp, cxg * cyp, nk, cyg, tr.data(), nk);
      for (std::int64_t co = 0; co < cyg; ++co)
        for (std::int64_t t = 0; t < nk; ++t) wr[co * K + t] += tr[static_cast<std::size_t>(co * nk + t)];
    }
    stored[lk] = 1;
  }
  if (bias)  // items (h, group, set): each group's in order
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
      for (std::int64_t co = 0; co < cyg; ++co) {
        double v = 0;
        for (std::int64_t h = 0; h < 2; ++h)
          for (std::int64_t set = 0; set < sets; ++set)
            v += bsum[static_cast<std::size_t>(((h * g.groups + grp) * sets + set) * cyg + co)];
        gb[grp * cyg + co] = static_cast<T>(v);
      }
}

// x is read in place where its channels fill whole tiles and a set holds
// at most 8 taps; elsewhere from copies of its rows. A copy pays for itself
// over many taps: in place, the tile's channels lie X apart and a power of
// two X puts them in one cache set. Copies against in place, one thread
// (min of 6-8 alternated runs each, float32 unless named): with 8 taps a
// set U1 8.2 against 7.3 ms, L1 40.5 against 38.2, L1 float64 73.9 against
// 69.6, U2 15.9 against 15.5; with 16-32 V1 47.8 against 47.6, K1 18.3
// against 18.3, F1 87.2 against 89.9; V2 (4 taps of 4 positions) 33.0
// against 33.1.
template <class T, int MR, int NV, int MT = MR>
void wgrad_tiles(const ConvGeom& g, const T* x, const T* y, T* w, T* gb) {
  const std::int64_t NC = NV * Vec<T>::W, cyp = ceil_div(g.cy_per_group(), NC) * NC;
  const std::int64_t per_set = wgrad_pairs_per_set<T>(g, cyp);
  const ChannelBlocks<MR, MT> cb(g.cx_per_group());
  if (cb.first(cb.blocks) == g.cx_per_group() && per_set * g.k[2] <= 8)
    return wgrad_tiles<T, MR, NV, MT, true>(g, x, y, w, gb, per_set);
  wgrad_tiles<T, MR, NV, MT, false>(g, x, y, w, gb, per_set);
}


// Every y element belongs to exactly one x position and tap (k = s, no
// dilation, padding or output padding along any axis): each y row is then
// copied once in the one-pass backward, which sums the bias gradient from it.
bool y_partitioned(const ConvGeom& g) {
  for (int a = 0; a < 3; ++a)
    if (g.k[a] != g.s[a] || g.d[a] != 1 || g.pad[a] != 0 || g.y[a] != g.x[a] * g.s[a]) return false;
  return true;
}

// Both gradients, and the bias gradient, in one pass over y (k = s). For
// each row of x, its y rows are read from memory once and copied (split by
// phase, channel-major), and the row of x is copied channel-last. The
// gather's tiles then make the row of the input gradient from the y copy,
// and the weight gradient's tiles (wgrad_rows: y values broadcast, vectors
// of x channels) add the row's products into the item's sum, while the
// bias gradient sums the y rows, still in cache. Apart, the gather, the
// weight gradient and the bias gradient each read all of y from memory.
// Items are (group, part of the rows), `parts` of them fixed by the
// problem, each summing its own copy of the weight gradient ([tap][co][ci],
// ci padded to cxp) and bias partial sums; the copies are added in part
// order at the end, so the result does not depend on the thread count. The
// gather's weights are packed in gw, which is written only at the end.
// Returns false, having done nothing, where its scratch would exceed `share`
// of what the backward produces (counted for two threads, whatever the
// count: the choice must not depend on it).
template <class T, int MRg, int NVg, int MRw, int NVw, int MTw = MRw, int MTg = MRg>
bool backward_onepass(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb, double share) {
  constexpr int NRg = NVg * Vec<T>::W, NC = NVw * Vec<T>::W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), Xw = g.x[2], Yw = g.y[2], s2 = g.s[2];
  const std::int64_t nslot = g.k[0] * g.k[1], nrows = g.N * g.x[0] * g.x[1];
  const YRows yr(g);
  const std::int64_t Xr = ceil_div(Xw, NRg) * NRg, Lp = Xr + yr.cmax, pitch = s2 * Lp;  // the gather's slots
  const std::int64_t cxp = ceil_div(cxg, NC) * NC;        // the x row's channels, whole tiles
  const std::int64_t ng = K * cyg * cxp, nw = g.groups * ng;  // one part's weight gradient
  GatherWeights<T, MRg, MTg> pw(g, gw);
  const ChannelBlocks<MRw, MTw> wb(cyg);  // the weight gradient's blocks of y channels
  // Parts: with threads, as many as fit in 4% of what the backward
  // produces, from 2 to 8, and even (dynamic items balance a loaded
  // machine; an odd count leaves one of two threads idle for a part's time
  // at the end: with 5 parts, U2's backward took 9.6 ms, with 4 8.1).
  const double produced = wgrad_produced<T>(g), part_bytes = static_cast<double>(nw) * sizeof(T);
  const std::int64_t parts = std::min<std::int64_t>(
      std::max<std::int64_t>(nrows, 1),
      g.worth_threads() ? std::clamp<std::int64_t>(static_cast<std::int64_t>(0.04 * produced / part_bytes), 2, 8) / 2 * 2 : 1);
  const std::int64_t per_thread = MRg * Xr + nslot * cyg * pitch + Xw * cxp;
  const double scratch = (static_cast<double>(parts * nw + pw.rest_size() + 2 * per_thread)) * sizeof(T);
  if (g.N == 0 || scratch > share * produced) return false;
  T* sums = thread_scratch<T>(static_cast<std::size_t>(parts * nw + pw.rest_size()), 1);
  pw.rest = sums + parts * nw;
  pw.pack(g, w);
  std::vector<PartialSums> bsum(gb ? static_cast<std::size_t>(parts * g.Cy) : 0);
  // x's gradient beyond the caches: streaming stores (streams()), and no
  // fetching of its rows before the tiles write them.
  const bool stream = streams(static_cast<double>(g.N * g.Cx * X) * sizeof(T), Xw, gx);
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < g.groups * parts; ++it) {
    const std::int64_t grp = it / parts, part = it % parts;
    T* G = sums + part * nw + grp * ng;
    std::fill(G, G + ng, T(0));
    PartialSums* bs = gb ? bsum.data() + part * g.Cy + grp * cyg : nullptr;
    // Scratch: MRg staged rows, the y slots, the x row channel-last.
    T* st = thread_scratch<T>(static_cast<std::size_t>(per_thread), 0);
    T* yp = st + MRg * Xr;
    T* xt = yp + nslot * cyg * pitch;
    RowSlots slots(nslot), next(nslot);  // next: the next row's y rows
    PacedPrefetch pf;
    std::vector<const T*> xs(static_cast<std::size_t>(K)), ws(static_cast<std::size_t>(K));
    const std::int64_t r1 = nrows * (part + 1) / parts;
    for (std::int64_t row = nrows * part / parts; row < r1; ++row) {
      yr.want(row, 0, nslot, slots);
      slots.assign([&](std::int64_t sl, std::int64_t key) {
        yr.pack(y, grp, key, Lp, yp + sl * cyg * pitch, pitch, Lp, false);
        if (bs) {  // from the row just read, in cache
          const T* src = yr.row_of(y, grp, key);
          for (std::int64_t co = 0; co < cyg; ++co) bs[co].add_long(src + co * Y, Yw);
        }
      });
      const std::int64_t at = x_row_at(g, yr, grp, row);
      // The next row's y rows, read from memory while this row's gather runs.
      if (row + 1 < r1) yr.want(row + 1, 0, nslot, next);
      // and the next row of x (copied then) and of its gradient (written).
      std::array<const T*, 2> also{};
      if (row + 1 < r1) {
        const std::int64_t at1 = x_row_at(g, yr, grp, row + 1);
        also[0] = x + at1, also[1] = stream ? nullptr : gx + at1;
      }
      prefetch_next_row<T, MRg, NVg>(g, yr, y, grp, slots, row + 1 < r1 ? &next : nullptr, pw.blocks, pf, also);
      gather_row<T, MRg, NVg>(g, yr, slots, yp, Lp, pw, grp, nullptr, st, Xr, gx + at, xs.data(), ws.data(), pf, stream);
      pack_x_row(x + at, X, cxg, Xw, xt, cxp);
      for (std::int64_t kf = 0; kf < K; ++kf) {
        const std::int64_t sl = slots.slot_of[static_cast<std::size_t>(kf / g.k[2])];
        if (sl < 0) continue;
        const std::size_t k2 = static_cast<std::size_t>(kf % g.k[2]);
        const T* yk = yp + sl * cyg * pitch + yr.r[k2] * Lp + yr.c[k2];  // the tap's row of channel 0
        wgrad_rows<T, MRw, NVw>(wb, yk, pitch, cyg, xt, cxp, Xw, G + kf * cyg * cxp);
      }
    }
    if (stream) _mm_sfence();
  }
  // Into w[ci, co, k], the parts added in order.
  for (std::int64_t grp = 0; grp < g.groups; ++grp)
    for (std::int64_t kf = 0; kf < K; ++kf)
      for (std::int64_t ci = 0; ci < cxg; ++ci)
        for (std::int64_t co = 0; co < cyg; ++co) {
          const std::int64_t i = grp * ng + (kf * cyg + co) * cxp + ci;
          T v = sums[i];
          for (std::int64_t part = 1; part < parts; ++part) v += sums[part * nw + i];
          gw[((grp * cxg + ci) * cyg + co) * K + kf] = v;
        }
  if (gb)
    for (std::int64_t c = 0; c < g.Cy; ++c) {
      double v = 0;
      for (std::int64_t part = 0; part < parts; ++part) v += bsum[static_cast<std::size_t>(part * g.Cy + c)].total();
      gb[c] = static_cast<T>(v);
    }
  return true;
}

// The one-pass backward with the gather's tile shape (MRg x NVg) and the
// weight gradient's: y channels broadcast, vectors of x channels; with
// AVX2, y channels in blocks of 6 then 4 where 6 alone pads more than a
// twentieth (with_tail_blocks), and so the gather's x channels. On the AMD
// EPYC Zen 3, build/bench/kernel_time, two threads, alternating builds,
// minima of five to eight: the weight gradient's blocks took U2's
// backward from 16.4-16.8 to 15.7-16.1 ms and L1's from 35.8-36.6 to
// 34.3-34.8; the gather's then L1's 34.6 -> 33.3-33.6 and 32 -> 32
// channels at 32^3 in two samples 18.1 -> 17.5 (16 -> 32 at 48^3 level).
template <class T, int MRg, int NVg>
bool onepass_tiles(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb, double share) {
  bool done = false;
  with_wgrad_tile<T>(g.cy_per_group(), g.cx_per_group(), [&](auto mr, auto nv) {
#if LUCID_ISA_LEVEL != 2
    if constexpr (mr() == 6)
      return with_tail_blocks(g.cy_per_group(), 0.05, [&](auto mt) {
        if constexpr (MRg == 6)
          return with_tail_blocks(g.cx_per_group(), 0.05, [&](auto mtg) {
            done = backward_onepass<T, MRg, NVg, 6, nv(), mt(), mtg()>(g, x, w, y, gx, gw, gb, share);
          });
        done = backward_onepass<T, MRg, NVg, 6, nv(), mt()>(g, x, w, y, gx, gw, gb, share);
      });
#endif
    done = backward_onepass<T, MRg, NVg, mr(), nv()>(g, x, w, y, gx, gw, gb, share);
  });
  return done;
}

}  // namespace

// Tiles as in the forward: as many channels as there are (up to 6; one
// input channel, a network's first layer, takes one channel by four
// vectors: one thread, 1 -> 16 channels at 32^3, 3^3 taps, 2.62 -> 1.62
// ms; 1 -> 32 5.08 -> 3.09), one vector of positions for short rows,
// otherwise the least wasteful wide tile. At stride 1 (padding within the
// taps' span) the blocked forward runs it instead (conv_gather_as_forward,
// its packed weights in `spare` where given): K1's gather
// (build/bench/kernel_time 1 32 32 32 3 1 1 0 1 1 float32 gather 10, two
// threads, alternating builds, minima) 6.21-6.68 -> 6.05-6.23 ms, D1's
// 2.87-3.06 -> 2.86-2.94; K1's backward 12.1-12.9 -> 11.4-12.0, D1's
// 5.6-5.9 -> 5.2-5.5; with AVX2 D1's gather 3.72-3.86 -> 3.50-3.58 and
// K1's level; K1's in float64 14.5 -> 13.5.
template <class T>
void conv_gather_blocked_reusing(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x, T* spare) {
  if (conv_gather_as_forward<T>(g, y, w, bias, x, spare)) return;
  const std::int64_t cxg = g.cx_per_group();
  const bool short_rows = g.x[2] <= Vec<T>::W;
  if (cxg == 1)
    return short_rows ? gather_tiles<T, 1, 1>(g, y, w, bias, x, spare) : gather_tiles<T, 1, 4>(g, y, w, bias, x, spare);
  if (cxg <= 2)
    return short_rows ? gather_tiles<T, 2, 1>(g, y, w, bias, x, spare) : gather_tiles<T, 2, 2>(g, y, w, bias, x, spare);
  if (cxg <= 4)
    return short_rows ? gather_tiles<T, 4, 1>(g, y, w, bias, x, spare) : gather_tiles<T, 4, 2>(g, y, w, bias, x, spare);
  if (short_rows) return gather_tiles<T, 6, 1>(g, y, w, bias, x, spare);
  with_wide_tile<T>({g.x[2]}, cxg, [&](auto mr, auto nv) {
    // Rows one pair wide that would take 16 channels x one pair run in
    // pairs of rows, MR channels x one pair of each: 2 + MR loads per 2 MR
    // multiply-adds instead of 17 per 16, each weight serving two rows. V1's
    // gather on the Intel Xeon (build/bench/kernel_time 4 64 32 16 4 2 1 0
    // 1 1 float32 gather 10, alternating builds, minima), with 8 channels
    // against 16 x one pair: 17.4-18.5 -> 16.6-17.2 ms on two threads,
    // 34.0-37.2 -> 32.8-35.3 on one. Blocks of 14 or 12 channels then 8
    // (with_wide_blocks) hold more sums: see wide_block_cost. So do 8 x
    // two pairs (rows of 17 to 32 floats): U2's gather 4.40 -> 4.23 ms,
    // F1's 33.4 -> 29.6, their backward 9.83 -> 9.60 and 63.9 -> 58.4
    // (minima of three or four). Runs of taps whose y values stay in L1
    // while every block passes (the sums kept between runs) measured level.
    if constexpr (mr() == 16 && nv() == 2)
      if (g.x[2] <= 2 * Vec<T>::W)
        return with_wide_blocks(cxg, [&](auto wide) { gather_tiles<T, wide(), 2, 2, 8>(g, y, w, bias, x, spare); });
    if constexpr (mr() == 8 && (nv() == 4 || nv() == 3))
      return with_wide_blocks(cxg, [&](auto wide) { gather_tiles<T, wide(), nv(), 1, 8>(g, y, w, bias, x, spare); });
    gather_tiles<T, mr(), nv()>(g, y, w, bias, x, spare);
  });
}

// Tiles as with_wgrad_tile chooses them (V1's weight gradient with
// AVX-512, 8 x 4: 11.5 ms against 13.2 with 8 x 2, 12.9 with 16 x 2; K1's
// 4.4 against 4.9), those 8 channels wide in blocks of 12 and then 8
// (ChannelBlocks: no padding where 8 pads none, 24 sums in registers).
// Against blocks of 8 (build/bench/kernel_time, two threads, alternating
// builds, minima of four to six): V1's 13.5 -> 13.1 ms, F1's 28.0 -> 27.2,
// K1's 5.16 -> 5.10, D1's and V2's level (V2's 15.8-16.6 either way).
// Blocks of 14 measured no faster than 12 (V1's 13.2 against 13.1).
template <class T>
void conv_weight_bias_grad_blocked(const ConvGeom& g, const T* x, const T* y, T* w, T* gb) {
  with_wgrad_tile<T>(g.cx_per_group(), g.cy_per_group(), [&](auto mr, auto nv) {
    if constexpr (mr() == 8) return wgrad_tiles<T, 12, nv(), 8>(g, x, y, w, gb);
#if LUCID_ISA_LEVEL != 2
    if constexpr (mr() == 6)
      return with_tail_blocks(g.cx_per_group(), sizeof(T) == 4 ? 0.0 : 0.05,
                              [&](auto mt) { wgrad_tiles<T, 6, nv(), mt()>(g, x, y, w, gb); });
#endif
    wgrad_tiles<T, mr(), nv()>(g, x, y, w, gb);
  });
}


// Both gradients and the bias gradient (gb may be null) in one pass over y
// where every y element belongs to one x position and tap (k = s), rows of
// x fill the tiles and the scratch keeps within `share` of what the
// backward produces; false, having done nothing, elsewhere.
template <class T>
bool conv_backward_blocked_onepass(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb,
                                   double share) {
  const std::int64_t W = Vec<T>::W;
  if (!y_partitioned(g) || g.cx_per_group() <= 4 || g.cy_per_group() <= W || g.x[2] <= W) return false;
  bool done = false;
  with_wide_tile<T>(
      {g.x[2]}, g.cx_per_group(),
      [&](auto mr, auto nv) { done = onepass_tiles<T, mr(), nv()>(g, x, w, y, gx, gw, gb, share); });
  return done;
}

}  // namespace lucid::kernels::LUCID_ISA

#else  // no AVX2: the direct loops serve

#include "conv_direct.h"

LUCID_ISA_BEGIN

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_gather_blocked_reusing(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x, T*) {
  conv_gather_direct<T>(g, y, w, bias, x);
}
template <class T>
void conv_weight_bias_grad_blocked(const ConvGeom& g, const T* x, const T* y, T* w, T* gb) {
  conv_weight_grad_direct<T>(g, x, y, w);
  if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
}
template <class T>
bool conv_backward_blocked_onepass(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*, double) {
  return false;
}
}  // namespace lucid::kernels::LUCID_ISA

#endif

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_gather_blocked(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  conv_gather_blocked_reusing<T>(g, y, w, bias, x, nullptr);
}
template void conv_gather_blocked<float>(const ConvGeom&, const float*, const float*, const float*, float*);
template void conv_gather_blocked<double>(const ConvGeom&, const double*, const double*, const double*, double*);
template void conv_gather_blocked_reusing<float>(const ConvGeom&, const float*, const float*, const float*, float*, float*);
template void conv_gather_blocked_reusing<double>(const ConvGeom&, const double*, const double*, const double*, double*,
                                                  double*);
template <class T>
void conv_weight_grad_blocked(const ConvGeom& g, const T* x, const T* y, T* w) {
  conv_weight_bias_grad_blocked<T>(g, x, y, w, nullptr);
}
template void conv_weight_grad_blocked<float>(const ConvGeom&, const float*, const float*, float*);
template void conv_weight_grad_blocked<double>(const ConvGeom&, const double*, const double*, double*);
template void conv_weight_bias_grad_blocked<float>(const ConvGeom&, const float*, const float*, float*, float*);
template void conv_weight_bias_grad_blocked<double>(const ConvGeom&, const double*, const double*, double*, double*);
template bool conv_backward_blocked_onepass<float>(const ConvGeom&, const float*, const float*, const float*, float*,
                                                   float*, float*, double);
template bool conv_backward_blocked_onepass<double>(const ConvGeom&, const double*, const double*, const double*,
                                                    double*, double*, double*, double);
}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
