// The backward of a transposed convolution whose x rows are too short for
// the row-vectorised kernels (a few positions per row, many channels: the
// deep end of a decoder): both gradients with vectors over channels.
//
//   gx[n, ci, i] = sum over taps t, co of w[ci, co, t] * y[n, co, o(i, t)]
//   gw[ci, co, t] = sum over n, i of x[n, ci, i] * y[n, co, o(i, t)]
//
// Work runs in chunks of x positions: a range of samples, of planes and of
// rows (conv_channels_plan.h). For each chunk, the y values its taps reach are copied
// channel-last (a vector holds consecutive output channels) and every
// (position, tap) pair is looked up once: where its y values start, or
// nowhere when o(i, t) falls outside y. No multiply-add ever meets a zero
// at the edges (a third of them in a 4^3 input with 4 taps and padding 1).
//
// The gather: a tile of R positions x NV vectors of input channels sums in
// registers over every tap and output channel, from weights packed
// [ci block][tap][co][ci] into gw's own memory (the gradient is written
// only after the gather is done). The positions of a tile are ordered by
// which taps reach y along each axis, so that most tiles skip the same taps.
// The weight gradient: a tile of R input channels x NV vectors of output
// channels sums over the chunk's positions that reach y through tap t, then
// adds into gw, kept [ci][tap][co] until the last chunk and then transposed
// per input channel to [co][tap]. Each gradient element is summed in a fixed
// order (chunks, then positions), whatever the number of threads.
// Compiled once per instruction set like conv_blocked.cpp.
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

// Positions per gather tile (with AVX-512, 12 x one 512-bit register, a
// pair of vectors: V2's backward 12.4 ms against 14.2 at 8 and 15.0 at 16);
// with AVX-512 and 32 input channels or more, kGatherR positions x blocks
// of kGatherNV vectors instead, 8 x two pairs: 10 loads per 16
// multiply-adds instead of 13 per 12 (on the Intel Xeon, two threads, V2's backward 13.49-13.60 ms ->
// 12.69-13.10; 6 or 10 positions 13.3-13.5 and 13.0-13.3). And input
// channels per weight-gradient tile (a count that divides the
// channels, which come in multiples of 8) by at most kWgradNV vectors of
// output channels: with AVX-512, 8 x two pairs (16 accumulators, two loads
// of y and 8 broadcasts of x per 16 multiply-adds) where 32 output channels
// are left, else 8 x one pair or one vector (on the Intel Xeon, two
// threads, V2's backward 15.84-15.87 ms -> 13.47-13.55 against 8 x one
// pair throughout, whose 8 accumulators leave the multiply-adds waiting).
constexpr int kTileR = LUCID_ISA_LEVEL == 2 ? 12 : 4;
constexpr int kGatherNV = LUCID_ISA_LEVEL == 2 ? 4 : 2, kGatherR = LUCID_ISA_LEVEL == 2 ? 8 : 4;
constexpr int kWgradR = LUCID_ISA_LEVEL == 2 ? 8 : 4;
constexpr int kWgradNV = LUCID_ISA_LEVEL == 2 ? 4 : 2;

// One chunk laid out: the order its positions run in, the offsets of their
// y values per tap (-1: outside y), and per tap the positions that reach y.
// Held in the call's scratch (ChunkPlan::table_ints), as 32-bit offsets:
// a chunk's copies are a small part of the call's memory.
struct ChunkTable {
  std::int32_t* ofs;    // [k in order][tap]
  std::int32_t* live;   // per tap: each position that reaches y: its x offset (e * cxg), its y offset
  std::int32_t* start;  // per tap: where its pairs begin in live (K + 1)
  std::int32_t* order;  // positions in natural order, grouped by the taps they reach
  std::int32_t* key;    // per position: the taps it reaches along each axis, as ranges (6 values)

  explicit ChunkTable(std::int32_t* mem, const ConvGeom& g, const ChunkPlan& pl) {
    const std::int64_t E = pl.entries, K = g.taps();
    ofs = mem;
    live = ofs + E * K;
    start = live + 2 * E * K;
    order = start + K + 1;
    key = order + E;
  }

  void build(const ConvGeom& g, const ChunkPlan& pl, const Chunk& c) {
    const std::int64_t E = c.entries(g), K = g.taps(), cyg = g.cy_per_group(), cxg = g.cx_per_group();
    const std::int64_t Xw = g.x[2], Yw = g.y[2];
    const std::int64_t od_lo = y_lo(g, 0, c.d0), oh_lo = y_lo(g, 1, c.h0);
    // The taps each position reaches along each axis, as ranges.
    auto range = [&](int a, std::int64_t i) {
      std::int64_t lo = g.k[a], hi = -1;
      for (std::int64_t k = 0; k < g.k[a]; ++k) {
        const std::int64_t o = i * g.s[a] - g.pad[a] + k * g.d[a];
        if (o >= 0 && o < g.y[a]) {
          lo = std::min(lo, k);
          hi = std::max(hi, k);
        }
      }
      return std::array<std::int64_t, 2>{lo, hi};
    };
    auto coords = [&](std::int64_t e, std::int64_t& nn, std::int64_t& id, std::int64_t& ih, std::int64_t& iw) {
      iw = e % Xw;
      ih = c.h0 + e / Xw % c.hs;
      id = c.d0 + e / (Xw * c.hs) % c.ds;
      nn = e / (Xw * c.hs * c.ds);
    };
    for (std::int64_t e = 0; e < E; ++e) {
      std::int64_t nn, id, ih, iw;
      coords(e, nn, id, ih, iw);
      const auto rd = range(0, id), rh = range(1, ih), rw = range(2, iw);
      const std::int64_t kv[6] = {rd[0], rd[1], rh[0], rh[1], rw[0], rw[1]};
      for (int j = 0; j < 6; ++j) key[e * 6 + j] = static_cast<std::int32_t>(kv[j]);
      order[e] = static_cast<std::int32_t>(e);
    }
    std::stable_sort(order, order + E, [&](std::int32_t a, std::int32_t b) {
      return std::lexicographical_compare(key + a * 6, key + a * 6 + 6, key + b * 6, key + b * 6 + 6);
    });
    std::fill(ofs, ofs + K * E, -1);
    std::int64_t n = 0;
    for (std::int64_t t = 0; t < K; ++t) {
      start[t] = static_cast<std::int32_t>(n);
      const std::int64_t td = t / (g.k[1] * g.k[2]), th = t / g.k[2] % g.k[1], tw = t % g.k[2];
      for (std::int64_t k = 0; k < E; ++k) {
        const std::int64_t e = order[k];
        std::int64_t nn, id, ih, iw;
        coords(e, nn, id, ih, iw);
        const std::int64_t od = id * g.s[0] - g.pad[0] + td * g.d[0];
        const std::int64_t oh = ih * g.s[1] - g.pad[1] + th * g.d[1], ow = iw * g.s[2] - g.pad[2] + tw * g.d[2];
        if (od < 0 || od >= g.y[0] || oh < 0 || oh >= g.y[1] || ow < 0 || ow >= Yw) continue;
        const std::int64_t o = (((nn * pl.pd + od - od_lo) * pl.pr + oh - oh_lo) * Yw + ow) * cyg;
        ofs[k * K + t] = static_cast<std::int32_t>(o);
        live[n++] = static_cast<std::int32_t>(e * cxg);
        live[n++] = static_cast<std::int32_t>(o);
      }
    }
    start[K] = static_cast<std::int32_t>(n);
  }
};

// Copies the chunk's y values channel-last:
// packed[nn][od - od_lo][oh - oh_lo][ow][co], one y row per work unit.
template <class T>
void pack_y_chunk(const ConvGeom& g, const ChunkPlan& pl, const Chunk& c, std::int64_t grp, const T* y, T* packed) {
  const std::int64_t cyg = g.cy_per_group(), Y = g.y_spatial(), Yw = g.y[2];
  const std::int64_t od_lo = y_lo(g, 0, c.d0), oh_lo = y_lo(g, 1, c.h0);
  const std::int64_t planes = y_count(g, 0, c.d0, c.ds), rows = y_count(g, 1, c.h0, c.hs);
  const std::int64_t units = c.ns * planes * rows;
#pragma omp for schedule(static)
  for (std::int64_t u = 0; u < units; ++u) {
    const std::int64_t nn = u / (planes * rows), pd = u / rows % planes, r = u % rows;
    const T* src = y + ((c.n0 + nn) * g.Cy + grp * cyg) * Y + ((od_lo + pd) * g.y[1] + oh_lo + r) * Yw;
    copy_transposed(src, Y, cyg, Yw, packed + ((nn * pl.pd + pd) * pl.pr + r) * Yw * cyg, cyg);
  }
}

// The x side of a chunk to and from its channel-last copy ([e][ci], natural
// order): one (sample, plane) slab of rows per work unit.
template <class T>
void chunk_slabs(const ConvGeom& g, const Chunk& c, std::int64_t grp, bool to_packed, const T* from, T* to) {
  const std::int64_t cxg = g.cx_per_group(), X = g.x_spatial(), Xw = g.x[2], slab = c.hs * Xw;
#pragma omp for schedule(static)
  for (std::int64_t u = 0; u < c.ns * c.ds; ++u) {
    const std::int64_t nn = u / c.ds, id = c.d0 + u % c.ds;
    const std::int64_t xo = ((c.n0 + nn) * g.Cx + grp * cxg) * X + (id * g.x[1] + c.h0) * Xw;
    if (to_packed) copy_transposed(from + xo, X, cxg, slab, to + u * slab * cxg, cxg);
    else copy_transposed(from + u * slab * cxg, cxg, slab, cxg, to + xo, X);
  }
}

// gx for R positions (tap t's y values at packed + ofs[r][t], or the zero
// row where ofs[r][t] < 0 or r >= nr) x NV vectors of input channels, over
// every tap and output channel; stored channel-last at out[r].
template <class T, int NV, int R>
void gather_tile(const std::int32_t* const* ofs, const T* packed, const T* zero, const T* wb, std::int64_t K,
                 std::int64_t cyg, std::int64_t nr, T* const* out) {
  using VT = typename Pairs<T, NV>::VT;  // the registers the NV vectors sit in
  using V = typename VT::V;
  constexpr int NP = Pairs<T, NV>::N;
  constexpr int BW = NV * Vec<T>::W;
  V acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NP; ++v) acc[r][v] = VT::zero();
  for (std::int64_t t = 0; t < K; ++t) {
    const T* yp[R];
    bool any = false;
    for (int r = 0; r < R; ++r) {
      const std::int64_t o = r < nr ? ofs[r][t] : -1;
      yp[r] = o < 0 ? zero : packed + o;
      any = any || o >= 0;
    }
    if (!any) continue;
    const T* wt = wb + t * cyg * BW;
    for (std::int64_t co = 0; co < cyg; ++co, wt += BW) {
      V wv[NP];
      for (int v = 0; v < NP; ++v) wv[v] = VT::load(wt + v * VT::W);
      for (int r = 0; r < R; ++r) {
        const V b = VT::bcast(yp[r] + co);
        for (int v = 0; v < NP; ++v) acc[r][v] = VT::fma(b, wv[v], acc[r][v]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    if (r < nr)
      for (int v = 0; v < NP; ++v) VT::store(out[r] + v * VT::W, acc[r][v]);
}

// Adds to gw (R input channels, rows `ld` apart, NV vectors of output
// channels) the sum over the positions that reach y through one tap (np of
// them, at least one); the chunk that comes first stores it instead.
template <class T, int NV, bool First>
void wgrad_tile(const std::int32_t* pairs, std::int64_t np, const T* xt, const T* packed, T* gw, std::int64_t ld) {
  using VT = typename Pairs<T, NV>::VT;  // the registers the NV vectors sit in
  using V = typename VT::V;
  constexpr int NP = Pairs<T, NV>::N;
  constexpr int R = kWgradR;
  V acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NP; ++v) acc[r][v] = VT::zero();
  // (np >= 1: a loop that may run zero times makes GCC keep acc on the
  // stack as well, stored after every multiply-add)
  const std::int32_t* const end = pairs + 2 * np;
  do {
    const T* yv = packed + pairs[1];
    const T* xv = xt + pairs[0];
    V yl[NP];
    for (int v = 0; v < NP; ++v) yl[v] = VT::load(yv + v * VT::W);
    for (int r = 0; r < R; ++r) {
      const V b = VT::bcast(xv + r);
      for (int v = 0; v < NP; ++v) acc[r][v] = VT::fma(b, yl[v], acc[r][v]);
    }
    pairs += 2;
  } while (pairs != end);
  if constexpr (!First)  // (a run-time choice here, too, puts acc on the stack)
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < NP; ++v) acc[r][v] = VT::add(VT::load(gw + r * ld + v * VT::W), acc[r][v]);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NP; ++v) VT::store(gw + r * ld + v * VT::W, acc[r][v]);
}

template <class T>
void backward_channels(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw) {
  using VT = Vec<T>;
  constexpr std::int64_t W = VT::W, R = kTileR, BW = 2 * W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  if (g.N == 0) return;
  // Scratch per chunk: at most 9% of what the backward produces (with the
  // per-thread row of the last step, under a tenth).
  const ChunkPlan pl(g, sizeof(T), channels_budget(g));
  std::vector<Chunk> chunks;
  for (std::int64_t n0 = 0; n0 < g.N; n0 += pl.ns)
    for (std::int64_t d0 = 0; d0 < g.x[0]; d0 += pl.ds)
      for (std::int64_t h0 = 0; h0 < g.x[1]; h0 += pl.hs)
        chunks.push_back({n0, std::min(pl.ns, g.N - n0), d0, std::min(pl.ds, g.x[0] - d0), h0, std::min(pl.hs, g.x[1] - h0)});
  T* packed = thread_scratch<T>(static_cast<std::size_t>(pl.scratch(g, sizeof(T))), 1);
  T* zero = packed + pl.packed(g) - cyg;
  // The gathered gradient (gather pass), then x (weight-gradient pass),
  // channel-last: [position][ci], positions in natural order.
  T* gt = packed + pl.packed(g);
  T* xt = gt;
  std::fill(zero, zero + cyg, T(0));
  ChunkTable tab(reinterpret_cast<std::int32_t*>(gt + pl.entries * cxg), g, pl);
  // The gather's blocks of input channels: with AVX-512 and 32 or more,
  // blocks of kGatherNV vectors in tiles of kGatherR positions (the last
  // block 1-3 vectors), else blocks of two vectors in tiles of R.
  constexpr std::int64_t GW = kGatherNV * W;
  const bool wide = GW > BW && cxg >= GW;
  const std::int64_t GB = wide ? GW : BW, Rg = wide ? kGatherR : R;
  const std::int64_t cblocks = (cxg + GB - 1) / GB;
  const bool threads = g.worth_threads();

  for (std::int64_t grp = 0; grp < g.groups; ++grp) {
    T* gwg = gw + grp * cxg * cyg * K;
    const T* wg = w + grp * cxg * cyg * K;
    // 1. The weights into gw's memory: block b (input channels ci0 ..
    // ci0 + bw) at ci0 * cyg * K, laid out [tap][co][bw].
#pragma omp parallel for schedule(static) if (threads)
    for (std::int64_t b = 0; b < cblocks; ++b) {
      const std::int64_t ci0 = b * GB, bw = std::min(GB, cxg - ci0);
      T* dst = gwg + ci0 * cyg * K;
      for (std::int64_t co = 0; co < cyg; ++co)
        copy_transposed(wg + (ci0 * cyg + co) * K, cyg * K, bw, K, dst + co * bw, cyg * bw);
    }
    // 2. The gather, chunk by chunk.
#pragma omp parallel if (threads)
    for (const Chunk& c : chunks) {
#pragma omp single
      tab.build(g, pl, c);
      pack_y_chunk(g, pl, c, grp, y, packed);  // (ends in a barrier)
      const std::int64_t E = c.entries(g), tiles = (E + Rg - 1) / Rg;
#pragma omp for schedule(dynamic, 2)
      for (std::int64_t it = 0; it < cblocks * tiles; ++it) {
        const std::int64_t b = it / tiles, k0 = it % tiles * Rg, nr = std::min(Rg, E - k0);
        const std::int64_t ci0 = b * GB, bw = std::min(GB, cxg - ci0);
        const std::int32_t* ofs[std::max<std::int64_t>(R, kGatherR)];
        T* out[std::max<std::int64_t>(R, kGatherR)];
        for (std::int64_t r = 0; r < Rg; ++r) {
          const std::int64_t k = std::min(k0 + r, E - 1);
          ofs[r] = tab.ofs + k * K;
          out[r] = gt + tab.order[k] * cxg + ci0;
        }
        const T* wb = gwg + ci0 * cyg * K;
        if constexpr (GW > BW) {
          if (wide) {
            if (bw == GW) gather_tile<T, kGatherNV, kGatherR>(ofs, packed, zero, wb, K, cyg, nr, out);
            else if (bw == 3 * W) gather_tile<T, 3, kGatherR>(ofs, packed, zero, wb, K, cyg, nr, out);
            else if (bw == BW) gather_tile<T, 2, kGatherR>(ofs, packed, zero, wb, K, cyg, nr, out);
            else gather_tile<T, 1, kGatherR>(ofs, packed, zero, wb, K, cyg, nr, out);
            continue;
          }
        }
        if (bw == BW) gather_tile<T, 2, R>(ofs, packed, zero, wb, K, cyg, nr, out);
        else gather_tile<T, 1, R>(ofs, packed, zero, wb, K, cyg, nr, out);
      }
      chunk_slabs<T>(g, c, grp, false, gt, gx);
    }
    // 3. The weight gradient, [ci][tap][co] in gw until every chunk is in
    // (the first chunk's sums overwrite the packed weights).
    constexpr std::int64_t RW = kWgradR, RG = 64 / RW;  // input channels per tile, tiles per item
    constexpr std::int64_t WW = kWgradNV * W;             // output channels per tile, at most
    const std::int64_t rgroups = (cxg + RG * RW - 1) / (RG * RW);
#pragma omp parallel if (threads)
    {
      for (const Chunk& c : chunks) {
#pragma omp single
        tab.build(g, pl, c);
        pack_y_chunk(g, pl, c, grp, y, packed);
        chunk_slabs<T>(g, c, grp, true, x, xt);
        const bool first = &c == &chunks.front();
#pragma omp for schedule(dynamic, 2)
        for (std::int64_t it = 0; it < K * rgroups; ++it) {
          // tap t, input channels [q0, q1): their x values stay in L1 while
          // each vector of output channels meets every tile of them
          const std::int64_t t = it / rgroups, q0 = it % rgroups * RG * RW, q1 = std::min(cxg, q0 + RG * RW);
          const std::int64_t p0 = tab.start[t], np = (tab.start[t + 1] - p0) / 2;
          for (std::int64_t c0 = 0, cw = 0; c0 < cyg; c0 += cw) {
            // the output channels of this tile: WW where that many are left,
            // else one block of two vectors or one vector
            cw = cyg - c0 >= WW ? WW : std::min(BW, cyg - c0);
            for (std::int64_t ci0 = q0; ci0 < q1; ci0 += RW) {
              T* dst = gwg + (ci0 * K + t) * cyg + c0;
              if (np == 0) {
                if (first)
                  for (std::int64_t r = 0; r < RW; ++r) std::fill(dst + r * K * cyg, dst + r * K * cyg + cw, T(0));
                continue;
              }
              const std::int32_t* pairs = tab.live + p0;
              if constexpr (WW > BW)
                if (cw == WW) {
                  if (first) wgrad_tile<T, kWgradNV, true>(pairs, np, xt + ci0, packed + c0, dst, K * cyg);
                  else wgrad_tile<T, kWgradNV, false>(pairs, np, xt + ci0, packed + c0, dst, K * cyg);
                  continue;
                }
              if (cw == BW && first) wgrad_tile<T, 2, true>(pairs, np, xt + ci0, packed + c0, dst, K * cyg);
              else if (cw == BW) wgrad_tile<T, 2, false>(pairs, np, xt + ci0, packed + c0, dst, K * cyg);
              else if (first) wgrad_tile<T, 1, true>(pairs, np, xt + ci0, packed + c0, dst, K * cyg);
              else wgrad_tile<T, 1, false>(pairs, np, xt + ci0, packed + c0, dst, K * cyg);
            }
          }
        }
      }
      // 4. Each input channel's [tap][co] to [co][tap].
#pragma omp for schedule(static)
      for (std::int64_t ci = 0; ci < cxg; ++ci) {
        T* tmp = thread_scratch<T>(static_cast<std::size_t>(K * cyg), 0);
        T* row = gwg + ci * cyg * K;
        std::copy(row, row + K * cyg, tmp);
        copy_transposed(tmp, cyg, K, cyg, row, K);
      }
    }
  }
}

}  // namespace

template <class T>
void conv_backward_channels(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw) {
  backward_channels<T>(g, x, w, y, gx, gw);
}

}  // namespace lucid::kernels::LUCID_ISA

#else  // no AVX2: the direct loops serve

#include "conv_direct.h"

LUCID_ISA_BEGIN

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_backward_channels(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw) {
  conv_gather_direct<T>(g, y, w, nullptr, gx);
  conv_weight_grad_direct<T>(g, x, y, gw);
}
}  // namespace lucid::kernels::LUCID_ISA

#endif

namespace lucid::kernels::LUCID_ISA {
template void conv_backward_channels<float>(const ConvGeom&, const float*, const float*, const float*, float*, float*);
template void conv_backward_channels<double>(const ConvGeom&, const double*, const double*, const double*, double*,
                                             double*);
}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
