// Direct convolution kernels for few channels per group (depthwise and the
// like) and for tiny problems, where a matrix product has nothing to block.
// Row-wise loops over the stride phases that the compiler vectorises, and
// the direct backward's blocks in explicit vectors; this file is compiled
// once per instruction set (LUCID_ISA names the namespace) and
// conv_dispatch.cpp picks one at run time.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_direct.h"
#include "conv_phases.h"
#include "conv_segments.h"
#include "isa_target.h"

#include <immintrin.h>

LUCID_ISA_BEGIN
#if LUCID_ISA_LEVEL >= 1
#include "blocked_tile.h"
#endif

namespace lucid::kernels::LUCID_ISA {

template <class T>
void conv_scatter_direct(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::vector<AxisPhase> ax[3] = {axis_phases(g, 0), axis_phases(g, 1), axis_phases(g, 2)};
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();
#pragma omp parallel for collapse(2) schedule(static) if (g.worth_threads())
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t cy = 0; cy < g.Cy; ++cy) {
      const std::int64_t grp = cy / cyg, cyl = cy % cyg;
      const T b = bias ? bias[cy] : T(0);
      T* yc = y + (n * g.Cy + cy) * Y;
      // acc: one w-phase of a row; row: the whole output row, written to y at once
      // (contiguous stores instead of strided ones into a large output).
      T* acc = thread_scratch<T>(static_cast<std::size_t>(2 * g.y[2] + 2), 0);
      T* row = acc + g.y[2] + 1;
      for (const AxisPhase& a0 : ax[0])
        for (const AxisPhase& a1 : ax[1])
          for (std::int64_t qa = 0; qa < a0.Q; ++qa)
            for (std::int64_t qb = 0; qb < a1.Q; ++qb) {
              for (const AxisPhase& a2 : ax[2]) {
                if (a2.Q == 0) continue;
                for (std::int64_t c = 0; c < a2.Q; ++c) acc[c] = b;
                for (std::int64_t cx = grp * cxg; cx < (grp + 1) * cxg; ++cx) {
                  const T* xc = x + (n * g.Cx + cx) * X;
                  const T* wc = w + (cx * cyg + cyl) * K;
                  for (std::size_t t0 = 0; t0 < a0.k.size(); ++t0) {
                    const std::int64_t id = a0.q0 + qa - a0.off[t0];
                    if (id < 0 || id >= g.x[0]) continue;
                    for (std::size_t t1 = 0; t1 < a1.k.size(); ++t1) {
                      const std::int64_t ih = a1.q0 + qb - a1.off[t1];
                      if (ih < 0 || ih >= g.x[1]) continue;
                      const T* xr = xc + (id * g.x[1] + ih) * g.x[2] + a2.q0;
                      const T* wr = wc + (a0.k[t0] * g.k[1] + a1.k[t1]) * g.k[2];
                      for (std::size_t t2 = 0; t2 < a2.k.size(); ++t2) {
                        const T wv = wr[a2.k[t2]];
                        const std::int64_t off = a2.off[t2];
                        const std::int64_t lo = std::clamp<std::int64_t>(off - a2.q0, 0, a2.Q);
                        const std::int64_t hi = std::clamp<std::int64_t>(g.x[2] + off - a2.q0, lo, a2.Q);
                        const T* xs = xr - off;
                        for (std::int64_t c = lo; c < hi; ++c) acc[c] += wv * xs[c];
                      }
                    }
                  }
                }
                T* dst = row + a2.o(a2.q0, g.s[2], g.pad[2]);
                const std::int64_t sw = g.s[2];
                for (std::int64_t c = 0; c < a2.Q; ++c) dst[c * sw] = acc[c];
              }
              const std::int64_t od = a0.o(a0.q0 + qa, g.s[0], g.pad[0]);
              const std::int64_t oh = a1.o(a1.q0 + qb, g.s[1], g.pad[1]);
              std::memcpy(yc + (od * g.y[1] + oh) * g.y[2], row, static_cast<std::size_t>(g.y[2]) * sizeof(T));
            }
    }
}

template <class T>
void conv_gather_direct(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();
#pragma omp parallel for collapse(2) schedule(static) if (g.worth_threads())
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t cx = 0; cx < g.Cx; ++cx) {
      const std::int64_t grp = cx / cxg;
      const T b = bias ? bias[cx] : T(0);
      T* xc = x + (n * g.Cx + cx) * X;
      for (std::int64_t id = 0; id < g.x[0]; ++id)
        for (std::int64_t ih = 0; ih < g.x[1]; ++ih) {
          T* acc = xc + (id * g.x[1] + ih) * g.x[2];
          for (std::int64_t c = 0; c < g.x[2]; ++c) acc[c] = b;
          for (std::int64_t cyl = 0; cyl < cyg; ++cyl) {
            const T* yc = y + (n * g.Cy + grp * cyg + cyl) * Y;
            const T* wc = w + (cx * cyg + cyl) * K;
            for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0) {
              const std::int64_t od = id * g.s[0] - g.pad[0] + k0 * g.d[0];
              if (od < 0 || od >= g.y[0]) continue;
              for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                const std::int64_t oh = ih * g.s[1] - g.pad[1] + k1 * g.d[1];
                if (oh < 0 || oh >= g.y[1]) continue;
                const T* yr = yc + (od * g.y[1] + oh) * g.y[2];
                const T* wr = wc + (k0 * g.k[1] + k1) * g.k[2];
                for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                  const T wv = wr[k2];
                  const std::int64_t base = -g.pad[2] + k2 * g.d[2];
                  std::int64_t lo, hi;
                  valid_inputs(g.x[2], g.y[2], g.s[2], g.pad[2], k2 * g.d[2], lo, hi);
                  if (g.s[2] == 1) {
                    const T* ys = yr + base;
                    for (std::int64_t c = lo; c < hi; ++c) acc[c] += wv * ys[c];
                  } else {
                    const std::int64_t sw = g.s[2];
                    for (std::int64_t c = lo; c < hi; ++c) acc[c] += wv * yr[c * sw + base];
                  }
                }
              }
            }
          }
        }
    }
}

template <class T>
void conv_weight_grad_direct(const ConvGeom& g, const T* x, const T* y, T* w) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();
  constexpr int L = 16;  // independent partial sums, combined in a fixed order
#pragma omp parallel for collapse(3) schedule(static) if (g.worth_threads())
  for (std::int64_t cx = 0; cx < g.Cx; ++cx)
    for (std::int64_t cyl = 0; cyl < cyg; ++cyl)
      for (std::int64_t kf = 0; kf < K; ++kf) {
        const std::int64_t cy = (cx / cxg) * cyg + cyl;
        const std::int64_t k0 = kf / (g.k[1] * g.k[2]), k1 = (kf / g.k[2]) % g.k[1], k2 = kf % g.k[2];
        std::int64_t lo, hi;
        valid_inputs(g.x[2], g.y[2], g.s[2], g.pad[2], k2 * g.d[2], lo, hi);
        const std::int64_t base = -g.pad[2] + k2 * g.d[2], sw = g.s[2];
        T part[L] = {};
        T tail = 0;
        for (std::int64_t n = 0; n < g.N; ++n) {
          const T* xc = x + (n * g.Cx + cx) * X;
          const T* yc = y + (n * g.Cy + cy) * Y;
          for (std::int64_t id = 0; id < g.x[0]; ++id) {
            const std::int64_t od = id * g.s[0] - g.pad[0] + k0 * g.d[0];
            if (od < 0 || od >= g.y[0]) continue;
            for (std::int64_t ih = 0; ih < g.x[1]; ++ih) {
              const std::int64_t oh = ih * g.s[1] - g.pad[1] + k1 * g.d[1];
              if (oh < 0 || oh >= g.y[1]) continue;
              const T* xr = xc + (id * g.x[1] + ih) * g.x[2];
              const T* yr = yc + (od * g.y[1] + oh) * g.y[2] + base;
              std::int64_t c = lo;
              if (sw == 1) {
                for (; c + L <= hi; c += L)
                  for (int l = 0; l < L; ++l) part[l] += xr[c + l] * yr[c + l];
              } else {
                for (; c + L <= hi; c += L)
                  for (int l = 0; l < L; ++l) part[l] += xr[c + l] * yr[(c + l) * sw];
              }
              for (; c < hi; ++c) tail += xr[c] * yr[c * sw];
            }
          }
        }
        T sum = 0;
        for (int l = 0; l < L; ++l) sum += part[l];
        w[(cx * cyg + cyl) * K + kf] = sum + tail;
      }
}

// The direct backward's vector width (T elements): 512-bit with AVX-512,
// 256-bit otherwise (without AVX2 it only rounds the blocks).
template <class T>
constexpr int direct_width() {
  return (LUCID_ISA_LEVEL == 2 ? 64 : 32) / static_cast<int>(sizeof(T));
}

// How many x rows (of the X0 x X1 rows of one sample) the direct kernels
// take at a time: at least one, and as many as keep their rows of y
// elements (`held` of them per x row, one per tap along the last axis) within
// `budget` bytes. A block's length is kept a whole number of vectors where
// that costs at most half the rows.
inline std::int64_t direct_rows(const ConvGeom& g, std::size_t elem, int width, double budget, std::int64_t held) {
  const double per_row = static_cast<double>(held * g.x[2]) * static_cast<double>(elem);
  const std::int64_t fit = std::clamp<std::int64_t>(static_cast<std::int64_t>(budget / per_row), 1, g.x[0] * g.x[1]);
  for (std::int64_t b = fit; 2 * b >= fit; --b)
    if ((b * g.x[2]) % width == 0) return b;
  return fit;
}

// The direct backward's blocks: its copy (k[2] rows of y elements per x row)
// within a share of x, plus w if it computes the weight gradient. x counts
// even for the weight gradient alone, which is far smaller: sized against it
// alone, S1's blocks were one row long and took 0.054 ms instead of 0.016.
inline std::int64_t direct_backward_rows(const ConvGeom& g, std::size_t elem, int width, bool gw, double share) {
  const double sized = static_cast<double>(g.N * g.Cx * g.x_spatial()) +
                       (gw ? static_cast<double>(g.Cx * g.cy_per_group() * g.taps()) : 0.0);
  return direct_rows(g, elem, width, share * sized * static_cast<double>(elem), g.k[2]);
}

#if LUCID_ISA_LEVEL >= 1
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
inline double hsum(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#if LUCID_ISA_LEVEL == 2
// (the halves through memory: GCC 12 warns on the intrinsics that extract or shuffle them)
inline float hsum(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  return hsum(_mm256_add_ps(_mm256_load_ps(t), _mm256_load_ps(t + 8)));
}
inline double hsum(__m512d v) {
  alignas(64) double t[8];
  _mm512_store_pd(t, v);
  return hsum(_mm256_add_pd(_mm256_load_pd(t), _mm256_load_pd(t + 4)));
}
#endif
#endif

// dst[c] = src[2 * c] for c in [lo, hi), where src[0, end) may be read:
// 128-bit loads of 8 floats (4 doubles) and a shuffle of the even ones, the
// last few one at a time.
template <class T>
inline void copy_even(const T* src, std::int64_t end, std::int64_t lo, std::int64_t hi, T* dst) {
  constexpr std::int64_t n = 16 / sizeof(T);  // results per chunk
  std::int64_t c = lo;
  for (; c + n <= hi && 2 * (c + n) <= end; c += n) {
    if constexpr (sizeof(T) == 4) {
      const __m128 a = _mm_loadu_ps(src + 2 * c), b = _mm_loadu_ps(src + 2 * c + 4);
      _mm_storeu_ps(dst + c, _mm_shuffle_ps(a, b, 0x88));
    } else {
      const __m128d a = _mm_loadu_pd(src + 2 * c), b = _mm_loadu_pd(src + 2 * c + 2);
      _mm_storeu_pd(dst + c, _mm_unpacklo_pd(a, b));
    }
  }
  for (; c < hi; ++c) dst[c] = src[2 * c];
}

// One x channel's share of a block in the direct backward, for NK taps along
// the last axis: col holds NK rows of P y elements (tap k's at col + k * P);
// with GX its input gradient gr += sum over k of wk[k] * row k, with GW its
// weight gradient gwk[k] += the dot of its x rows xr with row k. The input
// gradient is loaded and stored once for all NK taps, and x read once.
template <class T, int NK, bool GX, bool GW>
inline void direct_block(const T* col, std::int64_t P, const T* wk, T* gr, const T* xr, T* gwk) {
  std::int64_t j = 0;
  T tail[NK] = {};
#if LUCID_ISA_LEVEL >= 1
#if LUCID_ISA_LEVEL == 2
  using VT = Vec512<T>;
#else
  using VT = Vec<T>;
#endif
  using V = typename VT::V;
  constexpr int W = VT::W;
  static_assert(W == direct_width<T>());
  V wv[NK], acc[NK];
  for (int k = 0; k < NK; ++k) {
    if constexpr (GX) wv[k] = VT::bcast(wk + k);
    acc[k] = VT::zero();
  }
  for (; j + W <= P; j += W) {
    V gv, xv;
    if constexpr (GX) gv = VT::load(gr + j);
    if constexpr (GW) xv = VT::load(xr + j);
    for (int k = 0; k < NK; ++k) {
      const V c = VT::load(col + k * P + j);
      if constexpr (GX) gv = VT::fma(wv[k], c, gv);
      if constexpr (GW) acc[k] = VT::fma(xv, c, acc[k]);
    }
    if constexpr (GX) VT::store(gr + j, gv);
  }
  if constexpr (GW)
    for (int k = 0; k < NK; ++k) tail[k] = hsum(acc[k]);
#endif
  for (; j < P; ++j) {
    T gv = GX ? gr[j] : T(0);
    for (int k = 0; k < NK; ++k) {
      if constexpr (GX) gv += wk[k] * col[k * P + j];
      if constexpr (GW) tail[k] += xr[j] * col[k * P + j];
    }
    if constexpr (GX) gr[j] = gv;
  }
  if constexpr (GW)
    for (int k = 0; k < NK; ++k) gwk[k] += tail[k];
}

// direct_block for any number of taps: groups of four, then the rest.
template <class T, bool GX, bool GW>
void direct_block_taps(const T* col, std::int64_t P, std::int64_t K2, const T* wk, T* gr, const T* xr, T* gwk) {
  std::int64_t k = 0;
  for (; k + 4 <= K2; k += 4) direct_block<T, 4, GX, GW>(col + k * P, P, wk + k, gr, xr, gwk + k);
  switch (K2 - k) {
    case 1: return direct_block<T, 1, GX, GW>(col + k * P, P, wk + k, gr, xr, gwk + k);
    case 2: return direct_block<T, 2, GX, GW>(col + k * P, P, wk + k, gr, xr, gwk + k);
    case 3: return direct_block<T, 3, GX, GW>(col + k * P, P, wk + k, gr, xr, gwk + k);
    default: return;
  }
}

// Both gradients of a convolution with few channels (or either alone; bx,
// if given, is added to the input gradient: a forward convolution's bias)
// with no column matrix. For each block of x rows (one sample), y channel
// and (k0, k1) that reaches y, the y elements each tap k2 brings to the
// block are copied into k[2] contiguous rows of the block's length (zeros
// where they fall outside y): the strided reads happen once, not once per x
// channel. Every x channel of the group then adds w times the rows into its
// input gradient (loaded and stored once for all k2) and the dots of its x
// rows with them into its weight gradient. Problems worth threads split the
// blocks into up to 8 parts, each summing its own copy of the weight
// gradient (within 4% of x and w), added in part order at the end; the
// parts and blocks depend on the problem only, so the result does not
// depend on the thread count. Each block's dot sums vector lanes in a fixed
// order.
template <class T, bool GX, bool GW>
void backward_direct(const ConvGeom& g, const T* x, const T* w, const T* y, const T* bx, T* gx, T* gw) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps(), nw = g.Cx * cyg * K;
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), R = g.x[0] * g.x[1], X2 = g.x[2], K2 = g.k[2];
  const bool threads = g.worth_threads();
  // Each thread's copy within 9% of x (and w) on one thread, 9% / 8 with threads (up to 8 of them).
  const std::int64_t B = direct_backward_rows(g, sizeof(T), direct_width<T>(), GW, threads ? 0.09 / 8 : 0.09);
  const std::int64_t per_n = ceil_div(R, B), nblocks = g.N * per_n;
  std::int64_t parts = threads ? std::min<std::int64_t>(nblocks, 8) : 1;
  if (GW && parts > 1)
    parts = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(0.04 * static_cast<double>(g.N * g.Cx * X + nw) / static_cast<double>(nw)), 1, parts);
  T* sums = GW && parts > 1 ? thread_scratch<T>(static_cast<std::size_t>(parts * nw), 1) : nullptr;
  if constexpr (GW) std::fill(sums ? sums : gw, (sums ? sums : gw) + parts * nw, T(0));
  const std::vector<TapPlace> places = tap_places(g);  // per tap: its offsets and the x columns landing in y
#pragma omp parallel for schedule(static) if (parts > 1)
  for (std::int64_t part = 0; part < parts; ++part) {
    T* col = thread_scratch<T>(static_cast<std::size_t>(K2 * B * X2), 0);
    T* gwp = GW ? (sums ? sums + part * nw : gw) : nullptr;
    for (std::int64_t blk = nblocks * part / parts; blk < nblocks * (part + 1) / parts; ++blk) {
      const std::int64_t n = blk / per_n, r0 = blk % per_n * B;
      const std::int64_t nb = std::min(B, R - r0), P = nb * X2;
      if constexpr (GX)
        for (std::int64_t cx = 0; cx < g.Cx; ++cx) std::fill_n(gx + (n * g.Cx + cx) * X + r0 * X2, P, bx ? bx[cx] : T(0));
      for (std::int64_t cy = 0; cy < g.Cy; ++cy) {
        const std::int64_t grp = cy / cyg, cyl = cy % cyg;
        const T* yc = y + (n * g.Cy + cy) * Y;
        for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0)
          for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1) {
            const std::int64_t kk = (k0 * g.k[1] + k1) * K2;
            const TapPlace* tps = places.data() + kk;  // the taps k2 of (k0, k1)
            const std::int64_t o0 = tps->o0, o1 = tps->o1;
            std::fill(col, col + K2 * P, T(0));  // rows outside y and row ends beyond it stay zero
            bool any = false;
            std::int64_t id = r0 / g.x[1], ih = r0 % g.x[1];
            for (std::int64_t r = 0; r < nb; ++r) {
              const std::int64_t od = id * g.s[0] + o0, oh = ih * g.s[1] + o1;
              if (++ih == g.x[1]) ih = 0, ++id;
              if (od < 0 || od >= g.y[0] || oh < 0 || oh >= g.y[1]) continue;
              any = true;
              const T* yrow = yc + (od * g.y[1] + oh) * g.y[2];
              for (std::int64_t k2 = 0; k2 < K2; ++k2) {
                T* dst = col + k2 * P + r * X2;
                const std::int64_t o2 = tps[k2].o2, a = tps[k2].lo2, e = tps[k2].hi2;
                const T* yr = yrow + o2;  // x column c meets yr[c * s]
                if (g.s[2] == 1) {
                  for (std::int64_t c = a; c < e; ++c) dst[c] = yr[c];
                } else if (g.s[2] == 2) {
                  copy_even(yr, g.y[2] - o2, a, e, dst);
                } else {
                  const std::int64_t sw = g.s[2];
                  for (std::int64_t c = a; c < e; ++c) dst[c] = yr[c * sw];
                }
              }
            }
            if (!any) continue;
            for (std::int64_t cx = grp * cxg; cx < (grp + 1) * cxg; ++cx) {
              const std::int64_t at = (n * g.Cx + cx) * X + r0 * X2, wi = (cx * cyg + cyl) * K + kk;
              direct_block_taps<T, GX, GW>(col, P, K2, GX ? w + wi : nullptr, GX ? gx + at : nullptr,
                                           GW ? x + at : nullptr, GW ? gwp + wi : nullptr);
            }
          }
      }
    }
  }
  if (sums)
    for (std::int64_t i = 0; i < nw; ++i) {
      T v = sums[i];
      for (std::int64_t part = 1; part < parts; ++part) v += sums[part * nw + i];
      gw[i] = v;
    }
}

template <class T>
void conv_backward_direct(const ConvGeom& g, const T* x, const T* w, const T* y, const T* bx, T* gx, T* gw) {
  if (gx && gw) return backward_direct<T, true, true>(g, x, w, y, bx, gx, gw);
  if (gx) return backward_direct<T, true, false>(g, x, w, y, bx, gx, gw);
  if (gw) return backward_direct<T, false, true>(g, x, w, y, bx, gx, gw);
}

#if LUCID_ISA_LEVEL >= 1
// The vector operations the direct forward adds its rows into y with: masked
// loads (the other lanes zero) and stores of lanes l where bit l of m is set,
// a permutation of lanes by a table of 32-bit indices (index_of appends
// lane l's: a 64-bit index as two halves, or with AVX2 a 64-bit lane as the
// pair of its 32-bit ones), and an add in the lanes of a mask only (the
// others keep their bits). With AVX-512 in 512-bit vectors and mask
// registers; with AVX2 in 256-bit vectors, the masks as vectors and the
// masked add a blend. The float and double forms differ only in their
// intrinsics.
template <class T>
struct ChunkOps;
#if LUCID_ISA_LEVEL == 2
template <>
struct ChunkOps<float> {
  using V = __m512;
  using M = __mmask16;
  using I = __m512i;
  static M mask(std::uint32_t m) { return static_cast<M>(m); }
  static V load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static I index(const std::int32_t* p) { return _mm512_loadu_si512(p); }
  // (the masked forms, all lanes: GCC 12 warns on the plain ones' undefined pass-through)
  static void index_of(std::int32_t e, std::vector<std::int32_t>& out) { out.push_back(e); }
  static V permute(I i, V v) { return _mm512_mask_permutexvar_ps(v, 0xFFFF, i, v); }
  static V add(V a, M m, V b) { return _mm512_mask_add_ps(a, m, a, b); }
};
template <>
struct ChunkOps<double> {
  using V = __m512d;
  using M = __mmask8;
  using I = __m512i;
  static M mask(std::uint32_t m) { return static_cast<M>(m); }
  static V load(M m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static I index(const std::int32_t* p) { return _mm512_loadu_si512(p); }
  static void index_of(std::int32_t e, std::vector<std::int32_t>& out) { out.insert(out.end(), {e, 0}); }  // 64-bit
  static V permute(I i, V v) { return _mm512_mask_permutexvar_pd(v, 0xFF, i, v); }
  static V add(V a, M m, V b) { return _mm512_mask_add_pd(a, m, a, b); }
};
#else
template <>
struct ChunkOps<float> {
  using V = __m256;
  using M = __m256i;
  using I = __m256i;
  static M mask(std::uint32_t m) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(m)), bit), bit);
  }
  static V load(M m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
  static I index(const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void index_of(std::int32_t e, std::vector<std::int32_t>& out) { out.push_back(e); }
  static V permute(I i, V v) { return _mm256_permutevar8x32_ps(v, i); }
  static V add(V a, M m, V b) { return _mm256_blendv_ps(a, _mm256_add_ps(a, b), _mm256_castsi256_ps(m)); }
};
template <>
struct ChunkOps<double> {
  using V = __m256d;
  using M = __m256i;
  using I = __m256i;
  static M mask(std::uint32_t m) {
    const __m256i bit = _mm256_setr_epi64x(1, 2, 4, 8);
    return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(static_cast<long long>(m)), bit), bit);
  }
  static V load(M m, const double* p) { return _mm256_maskload_pd(p, m); }
  static void store(double* p, M m, V v) { _mm256_maskstore_pd(p, m, v); }
  static I index(const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void index_of(std::int32_t e, std::vector<std::int32_t>& out) { out.insert(out.end(), {2 * e, 2 * e + 1}); }
  static V permute(I i, V v) { return _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(v), i)); }
  static V add(V a, M m, V b) { return _mm256_blendv_pd(a, _mm256_add_pd(a, b), _mm256_castsi256_pd(m)); }
};
#endif
#endif

// t[k * P + j] = the sum over nc x channels (X apart from x, their weights
// ws apart from wk) of wk[k] * x[j], for NK taps along the last axis and j
// in [0, P): the transpose of direct_block's input gradient. x is loaded
// once for all NK taps; NJ vectors of j at a time stay in registers.
template <class T, int NK>
inline void direct_forward_rows(const T* x, std::int64_t X, std::int64_t nc, const T* wk, std::int64_t ws,
                                std::int64_t P, T* t) {
  std::int64_t j = 0;
#if LUCID_ISA_LEVEL >= 1
#if LUCID_ISA_LEVEL == 2
  using VT = Vec512<T>;
  constexpr int NJ = 4;
#else
  using VT = Vec<T>;
  constexpr int NJ = 2;
#endif
  using V = typename VT::V;
  constexpr int W = VT::W;
  const auto run = [&](auto nj) {
    constexpr int J = decltype(nj)::value;
    for (; j + J * W <= P; j += J * W) {
      V acc[NK][J];
      LUCID_UNROLL for (int k = 0; k < NK; ++k)
        LUCID_UNROLL for (int i = 0; i < J; ++i) acc[k][i] = VT::zero();
      for (std::int64_t c = 0; c < nc; ++c) {
        const T* xr = x + c * X + j;
        const T* wr = wk + c * ws;
        V xv[J];
        LUCID_UNROLL for (int i = 0; i < J; ++i) xv[i] = VT::load(xr + i * W);
        LUCID_UNROLL for (int k = 0; k < NK; ++k) {
          const V wv = VT::bcast(wr + k);
          LUCID_UNROLL for (int i = 0; i < J; ++i) acc[k][i] = VT::fma(wv, xv[i], acc[k][i]);
        }
      }
      LUCID_UNROLL for (int k = 0; k < NK; ++k)
        LUCID_UNROLL for (int i = 0; i < J; ++i) VT::store(t + k * P + j + i * W, acc[k][i]);
    }
  };
  run(std::integral_constant<int, NJ>{});
  run(std::integral_constant<int, 1>{});
  if (j < P) {  // the last few, in one masked vector
    const auto m = ChunkOps<T>::mask(static_cast<std::uint32_t>((1u << (P - j)) - 1));
    V acc[NK];
    LUCID_UNROLL for (int k = 0; k < NK; ++k) acc[k] = VT::zero();
    for (std::int64_t c = 0; c < nc; ++c) {
      const V xv = ChunkOps<T>::load(m, x + c * X + j);
      LUCID_UNROLL for (int k = 0; k < NK; ++k) acc[k] = VT::fma(VT::bcast(wk + c * ws + k), xv, acc[k]);
    }
    LUCID_UNROLL for (int k = 0; k < NK; ++k) ChunkOps<T>::store(t + k * P + j, m, acc[k]);
    return;
  }
#endif
  for (; j < P; ++j) {
    T acc[NK] = {};
    for (std::int64_t c = 0; c < nc; ++c)
      for (int k = 0; k < NK; ++k) acc[k] += wk[c * ws + k] * x[c * X + j];
    for (int k = 0; k < NK; ++k) t[k * P + j] = acc[k];
  }
}

#if LUCID_ISA_LEVEL >= 1
// Adding rows of the direct forward into y in vector-wide chunks of y (512
// bits with AVX-512, 256 with AVX2): for each tap along the last axis and
// chunk, the lanes its row reaches (ymask), the first of them (l0), the row
// element it gets (cs) and the row elements that exist (lmask, from cs on).
// A chunk is loaded, gets every tap's elements (a masked load, spread to
// every s-th lane by a permutation, added in the reached lanes) and stored
// once: no strided access, and no load that straddles an earlier store.
template <class T>
struct ChunkAdd {
  static constexpr int W = direct_width<T>();
  using Ops = ChunkOps<T>;
  using V = typename Ops::V;
  using M = typename Ops::M;
  using I = typename Ops::I;
  static constexpr int kIdx = W * static_cast<int>(sizeof(T) / 4);  // 32-bit indices per permutation
  struct Place {
    std::int64_t cs;
    std::uint32_t ymask, lmask;
    std::int64_t l0;
  };
  std::int64_t nch, Y2;
  std::vector<Place> at;       // [tap k2][chunk]
  std::vector<std::int32_t> spread;  // [l0]: kIdx indices, lane l taking element (l - l0) / s
  ChunkAdd(const ConvGeom& g, const std::vector<TapPlace>& places) : nch(ceil_div(g.y[2], W)), Y2(g.y[2]) {
    const std::int64_t s = g.s[2], X2 = g.x[2];
    for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2)
      for (std::int64_t ch = 0; ch < nch; ++ch) {
        const std::int64_t o = ch * W, o2 = places[k2].o2;  // x column c lands on y column c * s + o2
        Place q{0, 0, 0, ((o2 - o) % s + s) % s};
        q.cs = (o + q.l0 - o2) / s;
        for (std::int64_t l = q.l0; l < W; l += s) {
          const std::int64_t c = q.cs + (l - q.l0) / s;
          if (o + l < Y2 && c >= 0 && c < X2) q.ymask |= 1u << l;
        }
        for (std::int64_t e = 0; e < W; ++e)
          if (q.cs + e >= 0 && q.cs + e < X2) q.lmask |= 1u << e;
        at.push_back(q);
      }
    for (std::int64_t l0 = 0; l0 < s; ++l0) {
      for (int l = 0; l < W; ++l) Ops::index_of(static_cast<std::int32_t>(l >= l0 ? (l - l0) / s : 0), spread);
    }
  }
  // For each of the nr rows i: yc[yo[i] ...] += the rows of taps ka + k
  // (k < nk) at t + k * P + xo[i]. Chunk by chunk, the taps' places in
  // registers for all rows.
  void add(T* yc, const std::int64_t* yo, const std::int64_t* xo, std::int64_t nr, const T* t, std::int64_t P,
           std::int64_t ka, std::int64_t nk) const {
    for (std::int64_t ch = 0; ch < nch; ++ch) {
      const std::int64_t o = ch * W;
      const M ym = Ops::mask(Y2 - o >= W ? (1u << W) - 1 : (1u << (Y2 - o)) - 1);
      I idx[4];
      M tm[4], lm[4];
      const T* src[4];
      std::int64_t m = 0;
      for (std::int64_t k = 0; k < nk; ++k) {
        const Place& q = at[(ka + k) * nch + ch];
        if (!q.ymask) continue;
        idx[m] = Ops::index(spread.data() + q.l0 * kIdx);
        tm[m] = Ops::mask(q.ymask), lm[m] = Ops::mask(q.lmask), src[m] = t + k * P + q.cs;
        ++m;
      }
      switch (m) {
        case 1: rows<1>(yc + o, ym, yo, xo, nr, idx, tm, lm, src); break;
        case 2: rows<2>(yc + o, ym, yo, xo, nr, idx, tm, lm, src); break;
        case 3: rows<3>(yc + o, ym, yo, xo, nr, idx, tm, lm, src); break;
        case 4: rows<4>(yc + o, ym, yo, xo, nr, idx, tm, lm, src); break;
        default: break;
      }
    }
  }
  template <int K>
  static void rows(T* yc, M ym, const std::int64_t* yo, const std::int64_t* xo, std::int64_t nr, const I* idx,
                   const M* tm, const M* lm, const T* const* src) {
    for (std::int64_t i = 0; i < nr; ++i) {
      T* yr = yc + yo[i];
      V acc = Ops::load(ym, yr);
      for (int k = 0; k < K; ++k) acc = Ops::add(acc, tm[k], Ops::permute(idx[k], Ops::load(lm[k], src[k] + xo[i])));
      Ops::store(yr, ym, acc);
    }
  }
};
#endif

// The forward of a convolution with few channels, with no column matrix and
// the weights read in place: the transpose of the direct backward's input
// gradient. For each sample, y channel, block of x rows and (k0, k1) that
// reaches y, the taps k2 (four at a time) each give one row of the block's
// length, the sum over the group's x channels of w times x (x loaded once
// for all of them); each row is then added into y where its tap puts it.
// Its rows within 9% of y (9% / 8 with threads, one set per thread). Threads
// split samples and y channels; the blocks depend on the problem only, so
// the result does not depend on the thread count.
template <class T>
void conv_forward_direct(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), R = g.x[0] * g.x[1], X2 = g.x[2], K2 = g.k[2];
  const std::int64_t held = direct_forward_held(g);
  const bool threads = g.worth_threads();
  const std::int64_t B = direct_rows(g, sizeof(T), direct_width<T>(), direct_forward_budget(g, sizeof(T), threads), held);
  const std::vector<TapPlace> places = tap_places(g);
#if LUCID_ISA_LEVEL >= 1
  const ChunkAdd<T> chunks(g, places);
#endif
#pragma omp parallel if (threads)
  {
    std::vector<std::int64_t> yo(static_cast<std::size_t>(B)), xo(static_cast<std::size_t>(B));
#if LUCID_ISA_LEVEL == 0
    std::vector<Segment> segs;
#endif
#pragma omp for collapse(2) schedule(static)
    for (std::int64_t n = 0; n < g.N; ++n)
      for (std::int64_t cy = 0; cy < g.Cy; ++cy) {
        const std::int64_t grp = cy / cyg, cyl = cy % cyg;
        T* yc = y + (n * g.Cy + cy) * Y;
        std::fill(yc, yc + Y, bias ? bias[cy] : T(0));
        T* t = thread_scratch<T>(static_cast<std::size_t>(held * B * X2), 0);
        for (std::int64_t r0 = 0; r0 < R; r0 += B) {
          const std::int64_t nb = std::min(B, R - r0), P = nb * X2;
          const T* xb = x + (n * g.Cx + grp * cxg) * X + r0 * X2;
#if LUCID_ISA_LEVEL == 0
          segments(g.x[1], X2, r0 * X2, r0 * X2 + P, segs);  // the block's rows, for add_tap_row
#endif
          for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0)
            for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1) {
              const std::int64_t kk = (k0 * g.k[1] + k1) * K2;
              const TapPlace* tps = places.data() + kk;  // the taps k2 of (k0, k1)
              // the block's rows that (k0, k1) puts in y: where in y (yo) and in the block (xo)
              std::int64_t nr = 0, id = r0 / g.x[1], ih = r0 % g.x[1];
              for (std::int64_t r = 0; r < nb; ++r) {
                const std::int64_t od = id * g.s[0] + tps->o0, oh = ih * g.s[1] + tps->o1;
                if (++ih == g.x[1]) ih = 0, ++id;
                if (od < 0 || od >= g.y[0] || oh < 0 || oh >= g.y[1]) continue;
                yo[nr] = (od * g.y[1] + oh) * g.y[2], xo[nr] = r * X2, ++nr;
              }
              if (nr == 0) continue;
              const T* wk = w + (grp * cxg * cyg + cyl) * K + kk;  // x channel c's at wk + c * cyg * K
              for (std::int64_t ka = 0; ka < K2; ka += 4) {
                const std::int64_t nk = std::min<std::int64_t>(K2 - ka, 4);
                switch (nk) {
                  case 1: direct_forward_rows<T, 1>(xb, X, cxg, wk + ka, cyg * K, P, t); break;
                  case 2: direct_forward_rows<T, 2>(xb, X, cxg, wk + ka, cyg * K, P, t); break;
                  case 3: direct_forward_rows<T, 3>(xb, X, cxg, wk + ka, cyg * K, P, t); break;
                  default: direct_forward_rows<T, 4>(xb, X, cxg, wk + ka, cyg * K, P, t); break;
                }
#if LUCID_ISA_LEVEL >= 1
                chunks.add(yc, yo.data(), xo.data(), nr, t, P, ka, nk);
#else
                for (std::int64_t k = 0; k < nk; ++k) add_tap_row(g, tps[ka + k], t + k * P, segs, yc);
#endif
              }
            }
        }
      }
  }
}

#define LUCID_INSTANTIATE(T)                                                                \
  template void conv_scatter_direct<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather_direct<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad_direct<T>(const ConvGeom&, const T*, const T*, T*);            \
  template void conv_backward_direct<T>(const ConvGeom&, const T*, const T*, const T*, const T*, T*, T*); \
  template void conv_forward_direct<T>(const ConvGeom&, const T*, const T*, const T*, T*);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
