// Direct kernels for convolutions with one or two channel pairs per group
// (depthwise and the like). There is little arithmetic per element, so the
// work is to touch memory once: each item (sample, channel) copies the planes
// of its input that the current output plane reads into a small ring of
// rows zero-padded on every side (y planes split by phase along the last
// axis, for the gradients), so that one list of taps serves every row, and
// then computes whole rows with vector loads from that copy:
//   - forward: each phase of a band of an output plane's rows, its rows in
//     one loop, into staged rows that are then assembled and written once
//     (write_row);
//   - gradients: a row of x reads the phase rows of y contiguously; the input
//     gradient and the weight gradient share those loads in one pass, the
//     weight gradient summed per item and then over samples in a fixed order
//     (the result does not depend on the thread count), and the bias
//     gradient sums each y channel while it is in cache.
// Compiled once per instruction set like conv_blocked.cpp; the AVX2 code also
// serves AVX-512 machines.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "conv.h"
#include "conv_depthwise.h"
#include "conv_phases.h"
#include "partial_sums.h"

#include "isa_target.h"

#if LUCID_ISA_LEVEL >= 1
#include <immintrin.h>

LUCID_ISA_BEGIN
#include "blocked_tile.h"

namespace lucid::kernels::LUCID_ISA {
namespace {

// The taps one row reads: tap t reads the row at base + off[t] (base set
// per row) with weight wv[t]; with the weight gradient, its products go to
// G[gi[t]]. Rows near the edges read zero-padded rows, so one list serves
// every row.
template <class T>
struct TapList {
  std::vector<std::int64_t> off, gi;
  std::vector<T> wv;
  std::int64_t size() const { return static_cast<std::int64_t>(off.size()); }
  void clear() { off.clear(), gi.clear(), wv.clear(); }
  void add(std::int64_t o, T w, std::int64_t g) { off.push_back(o), wv.push_back(w), gi.push_back(g); }
};

// NV vectors from column c0 of rows j < nrows, each summed over the taps of
// `tl` (row j's at base + j * L + off[t]). DX: row j's sum (started from b)
// is stored at out + j * ostep + c0. DW (one row): each tap's products with
// the row xr are added to G[gi[t]].
template <class T, int NV, bool DX, bool DW>
void taps_chunk(const T* base, std::int64_t L, const TapList<T>& tl, std::int64_t nrows, std::int64_t c0, T b,
                const T* xr, T* out, std::int64_t ostep, typename Vec<T>::V* G) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int W = VT::W;
  const std::int64_t nt = tl.size();
  const std::int64_t* off = tl.off.data();
  const std::int64_t* gi = tl.gi.data();
  const T* wv = tl.wv.data();
  for (std::int64_t j = 0; j < nrows; ++j) {
    const T* row = base + j * L + c0;
    V acc[NV], xv[NV];
    for (int v = 0; v < NV; ++v) {
      if constexpr (DX) acc[v] = VT::bcast(&b);
      if constexpr (DW) xv[v] = VT::load(xr + c0 + v * W);
    }
    for (std::int64_t t = 0; t < nt; ++t) {
      const T* p = row + off[t];
      V rv[NV];
      for (int v = 0; v < NV; ++v) rv[v] = VT::load(p + v * W);
      if constexpr (DX) {
        const V wt = VT::bcast(wv + t);
        for (int v = 0; v < NV; ++v) acc[v] = VT::fma(wt, rv[v], acc[v]);
      }
      if constexpr (DW) {
        V s = VT::fma(xv[0], rv[0], G[gi[t]]);
        for (int v = 1; v < NV; ++v) s = VT::fma(xv[v], rv[v], s);
        G[gi[t]] = s;
      }
    }
    if constexpr (DX)
      for (int v = 0; v < NV; ++v) VT::store(out + j * ostep + c0 + v * W, acc[v]);
  }
}

// taps_chunk over rows of n positions (rounded up to vectors; the rows must
// be readable that far), in chunks of up to four vectors.
template <class T, bool DX, bool DW>
void taps_rows(const T* base, std::int64_t L, const TapList<T>& tl, std::int64_t nrows, std::int64_t n, T b,
               const T* xr, T* out, std::int64_t ostep, typename Vec<T>::V* G) {
  constexpr int W = Vec<T>::W;
  const std::int64_t nv = (n + W - 1) / W;
  std::int64_t v = 0;
  for (; v + 4 <= nv; v += 4) taps_chunk<T, 4, DX, DW>(base, L, tl, nrows, v * W, b, xr, out, ostep, G);
  switch (nv - v) {
    case 3: return taps_chunk<T, 3, DX, DW>(base, L, tl, nrows, v * W, b, xr, out, ostep, G);
    case 2: return taps_chunk<T, 2, DX, DW>(base, L, tl, nrows, v * W, b, xr, out, ostep, G);
    case 1: return taps_chunk<T, 1, DX, DW>(base, L, tl, nrows, v * W, b, xr, out, ostep, G);
    default: return;
  }
}

// A ring of packed planes along the first axis: plane p lives in slot
// p % n. Callers ask for the planes of one output (or input) plane at a
// time; those span fewer than n consecutive planes and move forward, so
// a plane is packed once per item.
struct PlaneRing {
  std::vector<std::int64_t> key;
  explicit PlaneRing(std::int64_t n) : key(static_cast<std::size_t>(n), -1) {}
  template <class Pack>
  std::int64_t get(std::int64_t p, Pack&& pack) {
    const std::int64_t sl = p % static_cast<std::int64_t>(key.size());
    if (key[static_cast<std::size_t>(sl)] != p) {
      pack(sl, p);
      key[static_cast<std::size_t>(sl)] = p;
    }
    return sl;
  }
};

}  // namespace

// Items are (sample, output channel). Output plane od reads input planes
// (od + pad0 - k0 * d0) / s0, at most nwin consecutive ones; their rows are
// packed, every channel of the group, with zeros past both edges (rows
// above and below as well as columns) so that every phase's taps read
// whole vectors of every row: one tap list serves all rows of a phase, and
// the rows of each phase in a band of output rows (the whole plane where it
// is small) run in one loop (taps_rows) into staged rows, which are then
// written one by one with the phases along the last axis interleaved
// (write_row).
template <class T>
void conv_scatter_depthwise(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::vector<AxisPhase> ax[3] = {axis_phases(g, 0), axis_phases(g, 1), axis_phases(g, 2)};
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), Xw = g.x[2];
  if (g.N * g.Cy * Y == 0) return;
  // Packed columns [iw_lo, iw_lo + L) cover every phase's reads (whole
  // vectors of each); the staged phases of one output row take `stage` values.
  const ColumnSpan span = ColumnSpan::of<T>(g, ax[2], Vec<T>::W);
  const std::int64_t iw_lo = span.lo, L = span.L, c_lo = span.c_lo, c_hi = span.c_hi, stage = span.stage;
  const std::vector<std::int64_t>& sofs = span.sofs;
  // Packed rows: input rows [-pt, x1 + pb), every row a phase's taps read.
  std::int64_t pt = 0, pb = 0;
  for (const AxisPhase& a1 : ax[1]) {
    if (a1.Q == 0) continue;
    for (std::int64_t off : a1.off) {
      pt = std::max(pt, off - a1.q0);
      pb = std::max(pb, a1.q0 + a1.Q - off - g.x[1]);
    }
  }
  const std::int64_t nwin = (g.k[0] - 1) * g.d[0] / g.s[0] + 1, pplane = (pt + g.x[1] + pb) * L;
  const std::int64_t ring_size = cxg * nwin * pplane;
  // Output rows staged at a time: as many as fit in 4 KB (a whole plane
  // staged would weigh on a small output: 8 channels of 128^2 in 2-D).
  const std::int64_t band = std::clamp<std::int64_t>((4096 / static_cast<std::int64_t>(sizeof(T))) / stage, 1, g.y[1]);
  // Output position od along axis 0: od + pad = quo * s + rem.
  std::vector<std::int64_t> rem0, quo0;
  for (std::int64_t o = 0; o < g.y[0]; ++o) {
    const std::int64_t q = floor_div(o + g.pad[0], g.s[0]);
    quo0.push_back(q);
    rem0.push_back(o + g.pad[0] - q * g.s[0]);
  }
  // Items taken as threads come free (each writes its own output channel):
  // a static split left one thread waiting whenever the other was slowed
  // (G1's forward, minimum of 10 calls over 6 alternations: 2.5-3.0 -> 2.0-2.1 ms).
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t cy = 0; cy < g.Cy; ++cy) {
      const std::int64_t grp = cy / cyg, cyl = cy % cyg;
      const T b = bias ? bias[cy] : T(0);
      // Scratch: the ring [channel][slot][row][L] (its padding rows zero),
      // then the staged rows [oh - h0][stage].
      T* xp = thread_scratch<T>(static_cast<std::size_t>(ring_size + band * stage), 0);
      T* st = xp + ring_size;
      std::fill(xp, xp + ring_size, T(0));
      PlaneRing ring(nwin);
      const auto pack = [&](std::int64_t sl, std::int64_t id) {
        for (std::int64_t c = 0; c < cxg; ++c) {
          const T* src = x + (n * g.Cx + grp * cxg + c) * X + id * g.x[1] * Xw + iw_lo;
          T* dst = xp + (c * nwin + sl) * pplane + pt * L;
          for (std::int64_t ih = 0; ih < g.x[1]; ++ih) pad_row(dst + ih * L, src + ih * Xw, L, c_lo, c_hi);
        }
      };
      std::vector<const T*> phrow(ax[2].size(), st);
      std::vector<std::int64_t> slot0(static_cast<std::size_t>(g.k[0]));
      // tls[r1 * s2 + p]: the taps of phase r1 (axis 1) and p (axis 2)
      std::vector<TapList<T>> tls(static_cast<std::size_t>(g.s[1] * g.s[2]));
      for (std::int64_t od = 0; od < g.y[0]; ++od) {
        const std::int64_t r0 = rem0[static_cast<std::size_t>(od)], qa = quo0[static_cast<std::size_t>(od)];
        const AxisPhase& a0 = ax[0][static_cast<std::size_t>(r0)];
        for (std::size_t t0 = 0; t0 < a0.k.size(); ++t0) {
          const std::int64_t id = qa - a0.off[t0];
          slot0[t0] = id >= 0 && id < g.x[0] ? ring.get(id, pack) : -1;
        }
        // Output row q of a phase reads input row q - off1, packed at row
        // q - off1 + pt; column c of the phase reads iw = q0 + c - off2,
        // packed at iw - iw_lo.
        for (const AxisPhase& a1 : ax[1])
          for (std::size_t p = 0; p < ax[2].size(); ++p) {
            const AxisPhase& a2 = ax[2][p];
            TapList<T>& tl = tls[static_cast<std::size_t>(a1.r * g.s[2]) + p];
            tl.clear();
            for (std::int64_t c = 0; c < cxg; ++c)
              for (std::size_t t0 = 0; t0 < a0.k.size(); ++t0) {
                if (slot0[t0] < 0) continue;
                for (std::size_t t1 = 0; t1 < a1.k.size(); ++t1) {
                  const std::int64_t o = (c * nwin + slot0[t0]) * pplane + (pt - a1.off[t1]) * L + a2.q0 - iw_lo;
                  const T* wr = w + ((grp * cxg + c) * cyg + cyl) * K + (a0.k[t0] * g.k[1] + a1.k[t1]) * g.k[2];
                  for (std::size_t t2 = 0; t2 < a2.k.size(); ++t2) tl.add(o - a2.off[t2], wr[a2.k[t2]], 0);
                }
              }
          }
        // Bands of `band` output rows: each phase's rows in the band, staged, then written.
        for (std::int64_t h0 = 0; h0 < g.y[1]; h0 += band) {
          const std::int64_t h1 = std::min(g.y[1], h0 + band);
          for (const AxisPhase& a1 : ax[1]) {
            // the phase's rows q whose output row q * s1 + r1 - pad1 lies in [h0, h1)
            const std::int64_t qlo = std::max(a1.q0, ceil_div(h0 + g.pad[1] - a1.r, g.s[1]));
            const std::int64_t qhi = std::min(a1.q0 + a1.Q, ceil_div(h1 + g.pad[1] - a1.r, g.s[1]));
            if (qhi <= qlo) continue;
            const std::int64_t oh = a1.o(qlo, g.s[1], g.pad[1]);
            for (std::size_t p = 0; p < ax[2].size(); ++p) {
              const AxisPhase& a2 = ax[2][p];
              if (a2.Q == 0) continue;
              taps_rows<T, true, false>(xp + qlo * L, L, tls[static_cast<std::size_t>(a1.r * g.s[2]) + p], qhi - qlo,
                                        a2.Q, b, nullptr, st + (oh - h0) * stage + sofs[p], g.s[1] * stage, nullptr);
            }
          }
          for (std::int64_t oh = h0; oh < h1; ++oh) {
            for (std::size_t p = 0; p < ax[2].size(); ++p)
              phrow[static_cast<std::size_t>(ax[2][p].r)] = st + (oh - h0) * stage + sofs[p];
            write_row(g, ax[2], phrow.data(), y + (n * g.Cy + cy) * Y + (od * g.y[1] + oh) * g.y[2], false);
          }
        }
      }
    }
}

// Items are (sample, input channel). Input plane id meets output planes
// id * s0 - pad0 + k0 * d0: a window of (K0 - 1) * d0 + 1; their rows are
// packed split by phase along the last axis (YRows), every channel of the
// group: whole planes in a ring (band 0), or for each band of `band` rows
// of x the y rows it meets (depthwise_backward_band). gx = gather(y) + bias where gx is given; the weight gradient's
// per-item sums go to part[n][cx][co][tap], and where bpart is given the
// sums of y's channels (the bias gradient) to bpart[n][cy] (from the first
// x channel of each group, while those channels are still in cache); both are
// summed over samples afterwards.
template <class T, bool DX, bool DW>
void backward_items(const ConvGeom& g, const T* x, const T* w, const T* y, const T* bias, T* gx, T* part,
                    double* bpart, std::int64_t band) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr std::int64_t W = VT::W;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Xw = g.x[2], Yw = g.y[2], s2 = g.s[2];
  const YRows yr(g);
  // A row of x; the packed y rows: a phase row of Lp values, rows [-pt, y1 +
  // pb) of y (zeros outside it), every row a row of x meets, so that one tap
  // list serves every row of x.
  const DepthwiseGradRows lay(g, W);
  const std::int64_t Xr = whole_vectors<T>(Xw), Lp = lay.Lp, pt = lay.pt, prow = lay.prow, nwin = lay.nwin;
  const std::int64_t pplane = lay.plane(g);
  // band == 0: whole planes in a ring, each packed once per item. Otherwise
  // bands of BH rows of x, the y rows each band meets packed for it (rows
  // shared by two bands twice, planes shared by two planes of x twice).
  const bool planes = band == 0;
  const std::int64_t BH = planes ? g.x[1] : std::min(band, g.x[1]);
  const std::int64_t RB = (BH - 1) * g.s[1] + lay.reach;  // y rows of a band
  const std::int64_t held = planes ? nwin * pplane : g.k[0] * RB * prow;
#pragma omp parallel for collapse(2) schedule(static) if (g.worth_threads())
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t cx = 0; cx < g.Cx; ++cx) {
      const std::int64_t grp = cx / cxg;
      const T b = bias ? bias[cx] : T(0);
      // Scratch: the weight-gradient vectors [co][tap], the packed y rows, a row of x, a row of gx.
      T* sc = thread_scratch<T>(static_cast<std::size_t>(cyg * K * W + held + 2 * Xr), 0);
      V* G = reinterpret_cast<V*>(sc);
      T* yp = sc + cyg * K * W;
      T* xr = yp + held;
      T* gr = xr + Xr;
      for (std::int64_t i = 0; i < cyg * K; ++i) G[i] = VT::zero();
      std::fill(yp, yp + held, T(0));  // the padding rows stay zero
      PlaneRing ring(nwin);
      const auto pack = [&](std::int64_t sl, std::int64_t od) {  // a whole plane (its rows lie together)
        yr.pack_rows(y + (n * g.Cy + grp * cyg) * g.y_spatial() + od * g.y[1] * Yw, Yw, g.y[1], Lp,
                     yp + sl * pplane + pt * prow, prow, s2 * Lp, Lp);
      };
      std::vector<std::int64_t> slot0(static_cast<std::size_t>(g.k[0]));
      TapList<T> taps;
      for (std::int64_t id = 0; id < g.x[0]; ++id) {
        // Planes: tap k0's in ring slot slot0[k0]. Bands: in band slot k0.
        for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0) {
          const std::int64_t od = id * g.s[0] - g.pad[0] + k0 * g.d[0];
          slot0[static_cast<std::size_t>(k0)] = od < 0 || od >= g.y[0] ? -1 : planes ? ring.get(od, pack) : k0;
        }
        // Row ih meets y row oh = ih * s1 - pad1 + k1 * d1: with planes
        // packed at yp + (pt + oh) * prow, read from yp + ih * s1 * prow; with
        // bands from row ih0 on, packed at yp + (oh - ih0 * s1 + pad1) *
        // prow, read from yp + (ih - ih0) * s1 * prow.
        taps.clear();
        for (std::int64_t co = 0; co < cyg; ++co)
          for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0) {
            const std::int64_t sl = slot0[static_cast<std::size_t>(k0)];
            if (sl < 0) continue;
            for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1) {
              const std::int64_t o = planes ? sl * pplane + (pt + k1 * g.d[1] - g.pad[1]) * prow + co * s2 * Lp
                                            : sl * RB * prow + k1 * g.d[1] * prow + co * s2 * Lp;
              for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                const std::int64_t kf = (k0 * g.k[1] + k1) * g.k[2] + k2;
                const std::size_t kk = static_cast<std::size_t>(k2);
                taps.add(o + yr.r[kk] * Lp + yr.c[kk], DX ? w[(cx * cyg + co) * K + kf] : T(0), co * K + kf);
              }
            }
          }
        for (std::int64_t ih0 = 0; ih0 < g.x[1]; ih0 += BH) {
          const std::int64_t ih1 = std::min(g.x[1], ih0 + BH);
          if (!planes)
            for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0) {
              const std::int64_t sl = slot0[static_cast<std::size_t>(k0)];
              if (sl < 0) continue;
              const std::int64_t od = id * g.s[0] - g.pad[0] + k0 * g.d[0];
              for (std::int64_t r = 0; r < RB; ++r) {
                const std::int64_t oh = ih0 * g.s[1] - g.pad[1] + r;
                T* dst = yp + (sl * RB + r) * prow;
                if (oh < 0 || oh >= g.y[1]) std::fill(dst, dst + prow, T(0));
                else yr.pack(y, grp, (n * g.y[0] + od) * g.y[1] + oh, Lp, dst, s2 * Lp, Lp);
              }
            }
          for (std::int64_t ih = ih0; ih < ih1; ++ih) {
            const std::int64_t xofs = (id * g.x[1] + ih) * Xw;
            if constexpr (DW) pad_row(xr, x + (n * g.Cx + cx) * X + xofs, Xr, 0, Xw);
            taps_rows<T, DX, DW>(yp + (planes ? ih : ih - ih0) * g.s[1] * prow, 0, taps, 1, Xw, b, xr, gr, 0, G);
            if constexpr (DX) copy_short(gx + (n * g.Cx + cx) * X + xofs, gr, Xw);
          }
        }
      }
      if (bpart && cx % cxg == 0)
        for (std::int64_t co = 0; co < cyg; ++co) {
          const std::int64_t cy = grp * cyg + co;
          PartialSums sum;
          sum.add_long(y + (n * g.Cy + cy) * g.y_spatial(), g.y_spatial());
          bpart[n * g.Cy + cy] = sum.total();
        }
      if constexpr (DW)
        for (std::int64_t i = 0; i < cyg * K; ++i) {
          alignas(64) T lanes[W];
          VT::store(lanes, G[i]);
          T s = T(0);
          for (std::int64_t l = 0; l < W; ++l) s += lanes[l];
          part[(n * g.Cx + cx) * cyg * K + i] = s;
        }
    }
}

template <class T>
void conv_backward_depthwise_bands(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb,
                                   std::int64_t band) {
  const std::int64_t per_sample = gw ? g.Cx * g.cy_per_group() * g.taps() : 0, N = std::max<std::int64_t>(g.N, 1);
  // The calling thread's slot 1 holds the per-sample sums: the weight
  // gradient's (T), then the bias gradient's (double).
  const std::int64_t wdoubles = (N * per_sample * static_cast<std::int64_t>(sizeof(T)) + 7) / 8;
  double* slot = thread_scratch<double>(static_cast<std::size_t>(wdoubles + (gb ? N * g.Cy : 0)), 1);
  T* part = gw ? reinterpret_cast<T*>(slot) : nullptr;
  double* bpart = gb ? slot + wdoubles : nullptr;
  if (gx && gw) backward_items<T, true, true>(g, x, w, y, nullptr, gx, part, bpart, band);
  else if (gx) backward_items<T, true, false>(g, x, w, y, nullptr, gx, nullptr, bpart, band);
  else if (gw) backward_items<T, false, true>(g, x, w, y, nullptr, nullptr, part, bpart, band);
  else if (gb) return channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (std::int64_t i = 0; i < per_sample; ++i) {
    T s = T(0);
    for (std::int64_t n = 0; n < g.N; ++n) s += part[n * per_sample + i];
    gw[i] = s;
  }
  if (gb)
    for (std::int64_t c = 0; c < g.Cy; ++c) {
      double s = 0;
      for (std::int64_t n = 0; n < g.N; ++n) s += bpart[n * g.Cy + c];
      gb[c] = static_cast<T>(s);
    }
}

template <class T>
void conv_backward_depthwise(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb) {
  conv_backward_depthwise_bands<T>(g, x, w, y, gx, gw, gb, depthwise_backward_band(g, sizeof(T)));
}

template <class T>
void conv_gather_depthwise(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  backward_items<T, true, false>(g, nullptr, w, y, bias, x, nullptr, nullptr, depthwise_backward_band(g, sizeof(T)));
}

template <class T>
void conv_weight_grad_depthwise(const ConvGeom& g, const T* x, const T* y, T* w) {
  conv_backward_depthwise<T>(g, x, nullptr, y, nullptr, w, nullptr);
}

}  // namespace lucid::kernels::LUCID_ISA

#else  // no AVX2: the direct loops serve

#include "conv_direct.h"

LUCID_ISA_BEGIN

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_scatter_depthwise(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  conv_scatter_direct<T>(g, x, w, bias, y);
}
template <class T>
void conv_gather_depthwise(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  conv_gather_direct<T>(g, y, w, bias, x);
}
template <class T>
void conv_weight_grad_depthwise(const ConvGeom& g, const T* x, const T* y, T* w) {
  conv_weight_grad_direct<T>(g, x, y, w);
}
template <class T>
void conv_backward_depthwise_bands(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb,
                                   std::int64_t) {
  conv_backward_depthwise<T>(g, x, w, y, gx, gw, gb);
}
template <class T>
void conv_backward_depthwise(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb) {
  if (gx) conv_gather_direct<T>(g, y, w, nullptr, gx);
  if (gw) conv_weight_grad_direct<T>(g, x, y, gw);
  if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
}
}  // namespace lucid::kernels::LUCID_ISA

#endif

namespace lucid::kernels::LUCID_ISA {
#define LUCID_INSTANTIATE(T)                                                                   \
  template void conv_scatter_depthwise<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather_depthwise<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad_depthwise<T>(const ConvGeom&, const T*, const T*, T*);       \
  template void conv_backward_depthwise<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*); \
  template void conv_backward_depthwise_bands<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*, std::int64_t);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE
}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
