// Pieces the register-blocked and depthwise kernels share (conv_blocked.cpp,
// conv_blocked_grad.cpp, conv_depthwise.cpp): SIMD vectors, the tile that
// accumulates in registers, the slots that hold packed copies of input rows,
// y rows split by phase, and whole output rows assembled from their phases.
// Included only by files compiled once per instruction set, with AVX2 and FMA.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

#include "conv_geometry.h"
#include "conv_phases.h"

namespace lucid::kernels::LUCID_ISA {
namespace {

template <class T>
struct Vec;
template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void stream(float* p, V v) { _mm256_stream_ps(p, v); }
  // (a0 b0 a1 b1 ... a3 b3), (a4 b4 ... a7 b7)
  static void interleave(V a, V b, V& lo, V& hi) {
    const V l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);
    lo = _mm256_permute2f128_ps(l, h, 0x20);
    hi = _mm256_permute2f128_ps(l, h, 0x31);
  }
  // (a0 a2 a4 a6 b0 b2 b4 b6), (a1 a3 ... b7): the inverse of interleave
  static void deinterleave(V a, V b, V& even, V& odd) {
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
  }
  // r[i][j] becomes r[j][i] (8 x 8)
  static void transpose(V* r) {
    V t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
      r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
  }
};
template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static void stream(double* p, V v) { _mm256_stream_pd(p, v); }
  static void interleave(V a, V b, V& lo, V& hi) {
    const V l = _mm256_unpacklo_pd(a, b), h = _mm256_unpackhi_pd(a, b);
    lo = _mm256_permute2f128_pd(l, h, 0x20);
    hi = _mm256_permute2f128_pd(l, h, 0x31);
  }
  static void deinterleave(V a, V b, V& even, V& odd) {
    even = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8);
    odd = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8);
  }
  static void transpose(V* r) {  // 4 x 4
    const V t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const V t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

#if LUCID_ISA_LEVEL == 2
// Two of those vectors side by side in one 512-bit register: the same lanes
// and the same operations in each, so a tile computed with them gives the
// same bits, in half the instructions (and, where the multiply-add units are
// 512 bits wide, in half the time).
template <class T>
struct Vec512;
// The last two steps of a transpose in 512-bit registers of PT (Vec512):
// q[i * G + c] holds, in 128-bit lane k, the rows of group i (of 4) of
// column G * k + c; r[G * k + c] gets that whole column.
template <class PT>
void transpose_lanes(const typename PT::V* q, typename PT::V* r) {
  constexpr int G = PT::W / 4;
  for (int c = 0; c < G; ++c) {
    const typename PT::V a = PT::even(q[c], q[G + c]), b = PT::even(q[2 * G + c], q[3 * G + c]);
    const typename PT::V e = PT::odd(q[c], q[G + c]), f = PT::odd(q[2 * G + c], q[3 * G + c]);
    r[c] = PT::even(a, b);
    r[2 * G + c] = PT::odd(a, b);
    r[G + c] = PT::even(e, f);
    r[3 * G + c] = PT::odd(e, f);
  }
}
template <>
struct Vec512<float> {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V spread(Vec<float>::V h) { return _mm512_set1_ps(_mm256_cvtss_f32(h)); }  // h: one value in every lane
  static Vec<float>::V low(V v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }  // its first vector, no instruction
  static Vec<float>::V high(V v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }
  static V join(Vec<float>::V a, Vec<float>::V b) {  // a in the low half, b in the high
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
  static V load_lanes(const float* p, unsigned m) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p); }
  static void store_lanes(float* p, unsigned m, V v) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), v); }
  static V lo(V a, V b) {  // within each 128-bit lane: a's first two, b's first two (shuffle_ps 0x44)
    return __builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
  }
  static V hi(V a, V b) {  // the last two (0xEE)
    return __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
  }
  static V even(V a, V b) {  // 128-bit lanes 0, 2 of a and of b (shuffle_f32x4 0x88): transpose_lanes
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  }
  static V odd(V a, V b) {  // lanes 1, 3 (0xDD)
    return __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  }
  // r[i][j] becomes r[j][i] (16 x 16): pairs, then quads within each
  // 128-bit lane, then the lanes in two steps. (As vector shuffles: GCC 12's
  // intrinsics for these warn of an undefined operand they never read.)
  static void transpose(V* r) {
    V t[16], u[16];
    for (int i = 0; i < 16; i += 2) {  // unpacklo, unpackhi
      t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
      t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
    }
    for (int i = 0; i < 16; i += 4) {  // u[i + c], lane k: rows i .. i + 3 of column 4k + c
      u[i] = lo(t[i], t[i + 2]);
      u[i + 1] = hi(t[i], t[i + 2]);
      u[i + 2] = lo(t[i + 1], t[i + 3]);
      u[i + 3] = hi(t[i + 1], t[i + 3]);
    }
    transpose_lanes<Vec512<float>>(u, r);
  }
  static void deinterleave(V a, V b, V& ev, V& od) {  // a and b's elements 0, 2, ... and 1, 3, ...
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    ev = _mm512_permutex2var_ps(a, ie, b);
    od = _mm512_permutex2var_ps(a, _mm512_add_epi32(ie, _mm512_set1_epi32(1)), b);
  }
};
template <>
struct Vec512<double> {
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V bcast(const double* p) { return _mm512_set1_pd(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V spread(Vec<double>::V h) { return _mm512_set1_pd(_mm256_cvtsd_f64(h)); }
  static Vec<double>::V low(V v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3); }
  static Vec<double>::V high(V v) { return __builtin_shufflevector(v, v, 4, 5, 6, 7); }
  static V join(Vec<double>::V a, Vec<double>::V b) { return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7); }
  static V load_lanes(const double* p, unsigned m) { return _mm512_maskz_loadu_pd(static_cast<__mmask8>(m), p); }
  static void store_lanes(double* p, unsigned m, V v) { _mm512_mask_storeu_pd(p, static_cast<__mmask8>(m), v); }
  static V even(V a, V b) { return __builtin_shufflevector(a, b, 0, 1, 4, 5, 8, 9, 12, 13); }  // 128-bit lanes 0, 2
  static V odd(V a, V b) { return __builtin_shufflevector(a, b, 2, 3, 6, 7, 10, 11, 14, 15); }  // lanes 1, 3
  // r[i][j] becomes r[j][i] (8 x 8): pairs within each 128-bit lane, then
  // the lanes in two steps (as vector shuffles, as above)
  static void transpose(V* r) {
    V t[8];
    for (int i = 0; i < 8; i += 2) {  // t[i + c], lane k: rows i, i + 1 of column 2k + c
      t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 2, 10, 4, 12, 6, 14);
      t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    transpose_lanes<Vec512<double>>(t, r);
  }
  static void deinterleave(V a, V b, V& ev, V& od) {
    const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    ev = _mm512_permutex2var_pd(a, ie, b);
    od = _mm512_permutex2var_pd(a, _mm512_add_epi64(ie, _mm512_set1_epi64(1)), b);
  }
};
// NV vectors of T as the widest registers that hold them whole: pairs where
// there are 512-bit registers and NV is even (Pairs<T, NV>::VT, N of them).
template <class T, int NV>
struct Pairs {
  using VT = std::conditional_t<NV % 2 == 0, Vec512<T>, Vec<T>>;
  static constexpr int N = NV % 2 == 0 ? NV / 2 : NV;
};
#else
template <class T, int NV>
struct Pairs {
  using VT = Vec<T>;
  static constexpr int N = NV;
};
#endif

// Reads from memory, spread over a stretch of arithmetic: the caller names
// the byte ranges (add), then says how many times it will call step()
// (pace); each step prefetches its share of the lines, in order. Lines
// fetched at a steady rate arrive while the arithmetic runs; a burst of them
// waits on the memory as a copy would (the gather's y rows: 64 lines at once
// gained nothing, one every few products most of the copy's time).
struct PacedPrefetch {
  struct Range {  // `rows` byte ranges, `stride` apart
    const char* p;
    std::int64_t bytes, rows, stride;
  };
  std::vector<Range> ranges;
  std::size_t at = 0;                              // the range, its row, and that row's next and last line
  std::int64_t row = 0;
  std::uintptr_t line = 0, last = 0;
  std::int64_t per = 0, total = 0;
  void clear() { ranges.clear(), at = 0, row = 0, line = 0, last = 0, per = 0, total = 0; }
  // rows ranges of `bytes` from p, `stride` bytes apart (a row's channels,
  // say: one entry for them all)
  void add(const void* p, std::int64_t bytes, std::int64_t rows = 1, std::int64_t stride = 0) {
    if (bytes <= 0 || rows <= 0) return;
    const char* c = static_cast<const char*>(p);
    ranges.push_back({c, bytes, rows, stride});
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(c + r * stride);
      total += static_cast<std::int64_t>(((a + static_cast<std::uintptr_t>(bytes) - 1) >> 6) - (a >> 6) + 1);
    }
  }
  void pace(std::int64_t steps) { per = steps > 0 ? (total + steps - 1) / steps : total; }
  void step() {
    for (std::int64_t i = 0; i < per && at < ranges.size(); ++i) {
      const Range& r = ranges[at];
      if (line == 0) {
        const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(r.p + row * r.stride);
        line = a & ~std::uintptr_t(63);
        last = (a + static_cast<std::uintptr_t>(r.bytes) - 1) & ~std::uintptr_t(63);
      }
      _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
      if (line != last) {
        line += 64;
        continue;
      }
      line = 0;
      if (++row == r.rows) row = 0, ++at;
    }
  }
};

// The tile's inner products call a PacedPrefetch's step() once per this many
// input channels (tile<..., true>).
inline constexpr std::int64_t kPrefetchChannels = 8;

// The tiles' sums over taps and input channels: step(x, w, x2) for each
// input channel of each tap (x at xs[t] + c0 + ci * L, MR weights at
// ws[t] + ci * MR, and a second row's x at xs2[t] + c0 + ci * L where xs2
// is given, else x again); with PF, pf->step() once per kPrefetchChannels
// of them.
template <class T, int MR, bool PF, class Step>
[[gnu::always_inline]] inline void over_taps(const T* const* xs, const T* const* ws, std::int64_t nt, std::int64_t c0,
                                             std::int64_t cin, std::int64_t L, PacedPrefetch* pf, Step&& step,
                                             const T* const* xs2 = nullptr) {
  for (std::int64_t t = 0; t < nt; ++t) {
    const T* xr = xs[t] + c0;
    const T* xr2 = xs2 ? xs2[t] + c0 : xr;
    const T* wt = ws[t];
    if constexpr (PF) {
      for (std::int64_t c1 = 0; c1 < cin; c1 += kPrefetchChannels) {
        const std::int64_t c2 = std::min(cin, c1 + kPrefetchChannels);
        for (std::int64_t ci = c1; ci < c2; ++ci) step(xr + ci * L, wt + ci * MR, xr2 + ci * L);
        pf->step();
      }
    } else {
      for (std::int64_t ci = 0; ci < cin; ++ci) step(xr + ci * L, wt + ci * MR, xr2 + ci * L);
    }
  }
}

#if LUCID_ISA_LEVEL == 2
// tile() for an odd NV > 1 with AVX-512: the first NV - 1 vectors in pairs
// (512-bit registers), the last one in a 256-bit register, multiplied by the
// low half of the pairs' broadcast weight. Rows of 24 floats (12 doubles)
// then take one tile of 8 channels x 3 vectors, which loads an input vector
// and a half and 8 weights for 16 multiply-adds and stores the row exactly;
// 16 x one pair and a half-width last tile load a value for every
// multiply-add (17 loads per 16), and 8 x two pairs read and stage 8
// positions beyond the row. The sums, and so the bits, are those of NV
// vectors.
template <class T, int MR, int NV, bool PF>
void tile_half(const T* const* xs, const T* const* ws, std::int64_t nt, std::int64_t c0, std::int64_t cin,
               std::int64_t L, const typename Vec<T>::V* bv, T* out, std::int64_t ld, PacedPrefetch* pf,
               bool from_out) {
  using PT = Vec512<T>;
  using HT = Vec<T>;
  constexpr int NP = NV / 2;
  typename PT::V acc[MR][NP];
  typename HT::V acch[MR];
  LUCID_UNROLL for (int m = 0; m < MR; ++m) {
    const typename PT::V b0 = PT::spread(bv[m]);
    LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = from_out ? PT::load(out + m * ld + c0 + v * PT::W) : b0;
    acch[m] = from_out ? HT::load(out + m * ld + c0 + NP * PT::W) : bv[m];
  }
  const auto step = [&](const T* xc, const T* wc, const T*) {
    typename PT::V xv[NP];
    LUCID_UNROLL for (int v = 0; v < NP; ++v) xv[v] = PT::load(xc + v * PT::W);
    const typename HT::V xh = HT::load(xc + NP * PT::W);
    LUCID_UNROLL for (int m = 0; m < MR; ++m) {
      const typename PT::V wv = PT::bcast(wc + m);
      LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = PT::fma(wv, xv[v], acc[m][v]);
      acch[m] = HT::fma(PT::low(wv), xh, acch[m]);
    }
  };
  over_taps<T, MR, PF>(xs, ws, nt, c0, cin, L, pf, step);
  LUCID_UNROLL for (int m = 0; m < MR; ++m) {
    LUCID_UNROLL for (int v = 0; v < NP; ++v) PT::store(out + m * ld + c0 + v * PT::W, acc[m][v]);
    HT::store(out + m * ld + c0 + NP * PT::W, acch[m]);
  }
}

// Two rows at once with AVX-512, each one pair wide (rows of 9 to 16 floats,
// 5 to 8 doubles): MR channels x one pair of each row, the rows' inputs
// at xa[t] and xb[t] (same taps, same weights ws[t]). With MR = 8 it loads
// two pairs and 8 weights for 16 multiply-adds, where 16 channels x one
// pair of one row load a value for every multiply-add (17 loads per 16),
// and every weight it loads serves both rows. With Half, each row a pair
// and a half wide (17 to 24 floats, 9 to 12 doubles): a third pair joins
// the rows' last halves, so all its multiply-adds are full width where
// tile_half spends one in three on half a pair. Each row's sums, and so its
// bits, are those tile<T, MR, 2> (with Half, tile_half) gives it alone.
// Stored at outa + m * ld and outb + m * ld; with PF, pf->step() once per
// kPrefetchChannels input channels of each tap. With from_out the sums
// start from what those rows hold instead of the bias (as tile's).
template <class T, int MR, bool PF, bool Half = false>
[[gnu::noinline]] void tile_two_rows(const T* const* xa, const T* const* xb, const T* const* ws, std::int64_t nt,
                                     std::int64_t cin, std::int64_t L, const typename Vec<T>::V* bv, T* outa,
                                     T* outb, std::int64_t ld, PacedPrefetch* pf, bool from_out = false) {
  using PT = Vec512<T>;
  using HT = Vec<T>;
  typename PT::V a[MR], b[MR], h[Half ? MR : 1];
  LUCID_UNROLL for (int m = 0; m < MR; ++m) {
    a[m] = from_out ? PT::load(outa + m * ld) : PT::spread(bv[m]);
    b[m] = from_out ? PT::load(outb + m * ld) : PT::spread(bv[m]);
    if constexpr (Half)
      h[m] = from_out ? PT::join(HT::load(outa + m * ld + PT::W), HT::load(outb + m * ld + PT::W)) : a[m];
  }
  const auto step = [&](const T* pa, const T* wc, const T* pb) {
    const typename PT::V va = PT::load(pa), vb = PT::load(pb);
    typename PT::V vh{};
    if constexpr (Half) vh = PT::join(HT::load(pa + PT::W), HT::load(pb + PT::W));
    LUCID_UNROLL for (int m = 0; m < MR; ++m) {
      const typename PT::V wv = PT::bcast(wc + m);
      a[m] = PT::fma(wv, va, a[m]);
      b[m] = PT::fma(wv, vb, b[m]);
      if constexpr (Half) h[m] = PT::fma(wv, vh, h[m]);
    }
  };
  over_taps<T, MR, PF>(xa, ws, nt, 0, cin, L, pf, step, xb);
  LUCID_UNROLL for (int m = 0; m < MR; ++m) {
    PT::store(outa + m * ld, a[m]);
    PT::store(outb + m * ld, b[m]);
    if constexpr (Half) {
      HT::store(outa + m * ld + PT::W, PT::low(h[m]));
      HT::store(outb + m * ld + PT::W, PT::high(h[m]));
    }
  }
}
#endif

// One tile: MR output channels x NV vectors of positions from column c0,
// summed over the nt taps (input rows xs[t], packed weights ws[t]: MR per
// input channel) and the cin input channels (L apart in the rows), started
// from the bias bv (bv[m]: channel m's in every lane), or with from_out
// from what out holds there (a sum continued over more taps: where MR * NV
// > 4, the same bits as one call over all of them); stored at
// out + m * ld + c0. In registers the NV vectors
// are Pairs<T, NV>::N of Pairs<T, NV>::VT; the sums, and so the bits, are
// those of NV separate vectors. With PF, pf->step() once per
// kPrefetchChannels input channels of each tap (where MR * NV > 4). Not
// inlined, nor tile_two_rows: inlined into the kernels' loops, the wide
// tiles (24 and 28 sums) kept sums on the stack.
template <class T, int MR, int NV, bool PF = false>
[[gnu::noinline]] void tile(const T* const* xs, const T* const* ws, std::int64_t nt, std::int64_t c0, std::int64_t cin, std::int64_t L,
          const typename Vec<T>::V* bv, T* out, std::int64_t ld, PacedPrefetch* pf = nullptr, bool from_out = false) {
#if LUCID_ISA_LEVEL == 2
  if constexpr (NV % 2 == 1 && NV > 1)
    return tile_half<T, MR, NV, PF>(xs, ws, nt, c0, cin, L, bv, out, ld, pf, from_out);
#endif
  using VT = typename Pairs<T, NV>::VT;
  using V = typename VT::V;
  constexpr int NP = Pairs<T, NV>::N;
  V acc[MR][NP];
  LUCID_UNROLL for (int m = 0; m < MR; ++m) {
    V b0;
    if constexpr (std::is_same_v<VT, Vec<T>>) b0 = bv[m];
    else b0 = VT::spread(bv[m]);
    LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = from_out ? VT::load(out + m * ld + c0 + v * VT::W) : b0;
  }
  const auto step = [&](V (&a)[MR][NP], const T* xc, const T* wc) {
    V xv[NP];
    LUCID_UNROLL for (int v = 0; v < NP; ++v) xv[v] = VT::load(xc + v * VT::W);
    LUCID_UNROLL for (int m = 0; m < MR; ++m) {
      const V wv = VT::bcast(wc + m);
      LUCID_UNROLL for (int v = 0; v < NP; ++v) a[m][v] = VT::fma(wv, xv[v], a[m][v]);
    }
  };
  if constexpr (MR * NV <= 4) {
    // Four accumulators or fewer cannot hide the multiply-add latency: odd
    // input channels sum into a second set, added at the end (twice the
    // throughput for 2 and 4 channels: the seed shapes).
    V odd[MR][NP];
    LUCID_UNROLL for (int m = 0; m < MR; ++m)
      LUCID_UNROLL for (int v = 0; v < NP; ++v) odd[m][v] = VT::zero();
    for (std::int64_t t = 0; t < nt; ++t) {
      const T* xr = xs[t] + c0;
      const T* wt = ws[t];
      std::int64_t ci = 0;
      for (; ci + 1 < cin; ci += 2) {
        step(acc, xr + ci * L, wt + ci * MR);
        step(odd, xr + (ci + 1) * L, wt + (ci + 1) * MR);
      }
      if (ci < cin) step(acc, xr + ci * L, wt + ci * MR);
    }
    LUCID_UNROLL for (int m = 0; m < MR; ++m)
      LUCID_UNROLL for (int v = 0; v < NP; ++v) acc[m][v] = VT::add(acc[m][v], odd[m][v]);
  } else {
    over_taps<T, MR, PF>(xs, ws, nt, c0, cin, L, pf, [&](const T* xc, const T* wc, const T*) { step(acc, xc, wc); });
  }
  LUCID_UNROLL for (int m = 0; m < MR; ++m)
    LUCID_UNROLL for (int v = 0; v < NP; ++v) VT::store(out + m * ld + c0 + v * VT::W, acc[m][v]);
}

// dst[i * ld + c] = src[c * stride + i] for rows c < rows and positions
// i < len: W x W blocks through register transposes, the edges one by one.
template <class T>
void copy_transposed(const T* src, std::int64_t stride, std::int64_t rows, std::int64_t len, T* dst, std::int64_t ld) {
  using VT = Vec<T>;
  constexpr std::int64_t W = VT::W;
  const std::int64_t rv = rows / W * W, lv = len / W * W;
  typename VT::V r[W];
  for (std::int64_t c0 = 0; c0 < rv; c0 += W)
    for (std::int64_t i0 = 0; i0 < lv; i0 += W) {
      for (std::int64_t c = 0; c < W; ++c) r[c] = VT::load(src + (c0 + c) * stride + i0);
      VT::transpose(r);
      for (std::int64_t i = 0; i < W; ++i) VT::store(dst + (i0 + i) * ld + c0, r[i]);
    }
  for (std::int64_t c = 0; c < rows; ++c)
    for (std::int64_t i = c < rv ? lv : 0; i < len; ++i) dst[i * ld + c] = src[c * stride + i];
}

// How far tiles `unit` wide read along a phase row of Q positions when the
// last one, if a vector or less is left, is a single vector (the blocked
// kernels' loop over c0).
template <class T>
std::int64_t tiles_extent(std::int64_t Q, std::int64_t unit) {
  constexpr std::int64_t W = Vec<T>::W;
  std::int64_t c0 = 0;
  while (c0 + W < Q) c0 += unit;
  return c0 < Q ? c0 + W : c0;
}

// Vector registers a tile may fill: 16 with AVX2, 32 with AVX-512.
constexpr int kVecRegs = LUCID_ISA_LEVEL == 2 ? 32 : 16;

#if LUCID_ISA_LEVEL == 2
// With AVX-512 a wide tile holds 16 accumulators of 512 bits, each a pair
// of vectors (Pairs): 16 channels x one pair, or 8 channels x two pairs; or,
// where 16 would pad many channels, 8 x one pair; or 8 channels x a pair
// and a vector (below). Issue slots per useful
// pair over rows of the given lengths and `channels` channels: a tile costs
// its pairs, a last tile of one vector or less one slot, padded channels
// their share; 8 accumulators hide less of the multiply-add latency (V1's
// forward 12% slower at 8 x one pair than at 16 x one). Ties go to 8 x two
// pairs, which loads less per multiply-add (K1's forward 4.9 ms against 5.2),
// where their tiles read no further along the rows (D1's forward, rows of
// 24, ran 2.35 ms against 2.6, but its packed input rows grew to 11% of the
// output). The gather and the one-pass backward take them too, now that
// their tiles are called out of line (inlined into the gather's row loop,
// GCC had kept that tile's inputs on the stack: K1's gather 8.9 ms against
// 5.5 with 16 x one pair). On the Intel Xeon, build/bench/kernel_time,
// alternating builds, minima, two threads: K1's gather 6.15-6.32 ->
// 5.56-5.63 ms, its backward 11.09-11.15 -> 10.53-10.54; U2's gather
// 4.63-4.70 -> 4.23-4.26, its backward 9.86-9.89 -> 9.54-9.63; L1's
// backward (one pass) 19.7-20.0 -> 18.9-19.1.
inline double pair_waste(const std::vector<std::int64_t>& rows, std::int64_t channels, std::int64_t W, int MR, int NP) {
  double slots = 0, useful = 0;
  for (std::int64_t q : rows) {
    std::int64_t c0 = 0;
    for (; c0 + W < q; c0 += 2 * W * NP) slots += NP;
    if (c0 < q) slots += 1;
    useful += static_cast<double>(q) / static_cast<double>(2 * W);
  }
  const double latency = MR * NP < 16 ? 1.12 : 1.0;
  return latency * slots * static_cast<double>((channels + MR - 1) / MR * MR) / (useful * static_cast<double>(channels));
}

// The same for 8 channels x 3 vectors (tile_half: a pair and a vector, two
// issue slots per tile). Where it wastes no more than the shapes above and
// reads no further (rows of 17 to 24 floats, 9 to 12 doubles), it goes
// before them: its 16 multiply-adds per input channel wait on 10 loads
// instead of 17, and it stores the row exactly (no staging). On the Intel
// Xeon, one thread, build/bench/kernel_time, alternating builds, minima:
// D1's forward 5.79-5.87 ms -> 4.82-4.89 (8 x two pairs: 5.22-5.31, with
// 11% extra memory), two threads 2.98-3.01 -> 2.50-2.56; D1's gather
// 6.23-6.30 -> 5.22-5.23; 64 -> 32 channels at 24^3, 4^3 taps at stride 2,
// two samples (phase rows of 24): forward 57.8-61.4 -> 45.9-46.2, backward
// 103.4-103.6 -> 93.3.
inline double half_waste(const std::vector<std::int64_t>& rows, std::int64_t channels, std::int64_t W) {
  double slots = 0, useful = 0;
  for (std::int64_t q : rows) {
    std::int64_t c0 = 0;
    for (; c0 + W < q; c0 += 3 * W) slots += 2;
    if (c0 < q) slots += 1;
    useful += static_cast<double>(q) / static_cast<double>(2 * W);
  }
  return slots * static_cast<double>((channels + 7) / 8 * 8) / (useful * static_cast<double>(channels));
}

// Calls f(MR, NV) (NV in vectors) with the least wasteful of the shapes
// above, each as a std::integral_constant, so that f can instantiate its
// tile loop.
template <class T, class F>
void with_wide_tile(const std::vector<std::int64_t>& rows, std::int64_t channels, F&& f) {
  using std::integral_constant;
  constexpr std::int64_t W = Vec<T>::W;
  const double w162 = pair_waste(rows, channels, W, 16, 1), w82 = pair_waste(rows, channels, W, 8, 1);
  const double best = std::min(w162, w82);
  bool reach = true, reach3 = true;  // 8 x two pairs (a pair and a half) read no further than one pair
  for (std::int64_t q : rows) {
    reach = reach && tiles_extent<T>(q, 4 * W) <= tiles_extent<T>(q, 2 * W);
    reach3 = reach3 && tiles_extent<T>(q, 3 * W) <= tiles_extent<T>(q, 2 * W);
  }
  const double w84 = pair_waste(rows, channels, W, 8, 2);
  if (w84 < best || (reach && w84 <= best)) return f(integral_constant<int, 8>{}, integral_constant<int, 4>{});
  if (reach3 && half_waste(rows, channels, W) <= best * (1 + 1e-9))
    return f(integral_constant<int, 8>{}, integral_constant<int, 3>{});
  if (w162 <= w82) return f(integral_constant<int, 16>{}, integral_constant<int, 2>{});
  return f(integral_constant<int, 8>{}, integral_constant<int, 2>{});
}
#else
// Issue slots a tile shape (MR channels x NV vectors) spends per useful
// multiply-add vector over rows of the given lengths and `channels`
// channels: padded channels, padded positions, and the last tile of a row
// (one vector of MR accumulators, which runs at MR/8 of the rate when MR < 8,
// and measured no faster at MR = 8 than at 6).
template <class T>
double tile_waste(const std::vector<std::int64_t>& rows, std::int64_t channels, int MR, int NV) {
  const std::int64_t W = Vec<T>::W, NR = NV * W;
  double slots = 0, useful = 0;
  for (std::int64_t q : rows) {
    std::int64_t c0 = 0;
    for (; c0 + W < q; c0 += NR) slots += NV;
    if (c0 < q) slots += 8.0 / std::min(MR, 6);
    useful += static_cast<double>(q) / W;
  }
  return slots * static_cast<double>((channels + MR - 1) / MR * MR) / (useful * static_cast<double>(channels));
}

// The tile shapes (MR channels x NV vectors) for rows longer than a vector
// and more than 4 channels, with 16 registers: 6 x 2, or 4 x 3 where that
// wastes clearly less (rows of 24, 48; channel counts 6 does not divide).
// Calls f(MR, NV) with it, each as a std::integral_constant, so that f can
// instantiate its tile loop.
template <class T, class F>
void with_wide_tile(const std::vector<std::int64_t>& rows, std::int64_t channels, F&& f) {
  using std::integral_constant;
  const double w62 = tile_waste<T>(rows, channels, 6, 2), w43 = tile_waste<T>(rows, channels, 4, 3);
  if (w43 < 0.9 * w62) return f(integral_constant<int, 4>{}, integral_constant<int, 3>{});
  return f(integral_constant<int, 6>{}, integral_constant<int, 2>{});
}
#endif

// Copies n values: vector moves and a scalar tail (rows of a few dozen
// values, where a library call costs more than the copy). With `stream`
// (see streams()), streaming stores.
template <class T>
void copy_short(T* dst, const T* src, std::int64_t n, bool stream = false) {
  using VT = Vec<T>;
  std::int64_t j = 0;
  if (stream)
    for (; j + VT::W <= n; j += VT::W) VT::stream(dst + j, VT::load(src + j));
  for (; j + VT::W <= n; j += VT::W) VT::store(dst + j, VT::load(src + j));
  for (; j < n; ++j) dst[j] = src[j];
}

// Whether a kernel writes its result (`bytes` in all, in rows of `row`
// values from p) with streaming stores, which skip reading each line
// before writing it: where the result lies beyond the caches (over 4 MB,
// twice a core's L2 on the Intel Xeon) and every row covers whole cache
// lines. The kernel ends each item with _mm_sfence(). Rows that end inside
// a line leave it part written in the write-combining buffer, which then
// goes out as partial writes: with rows of 24 floats (96 bytes, a line and
// a half), 64 -> 32 channels at 12^3 in four samples, 4^3 taps at stride 2,
// took 23 ms forward, against 13 at 13^3 (not streamed: rows of 104 bytes
// start off the 32-byte boundary); build/bench/kernel_time, two threads.
template <class T>
bool streams(double bytes, std::int64_t row, const T* p) {
  return bytes > 4.0e6 && (row * static_cast<std::int64_t>(sizeof(T))) % 64 == 0 &&
         reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
}

// Copies src[c_lo, c_hi) to dst[c_lo, c_hi) and zeros the rest of dst[0, L):
// vector stores, not library calls, for rows of a few dozen values.
template <class T>
void pad_row(T* dst, const T* src, std::int64_t L, std::int64_t c_lo, std::int64_t c_hi) {
  using VT = Vec<T>;
  const auto zero = [dst](std::int64_t a, std::int64_t b) {  // [a, b), no store beyond it
    std::int64_t j = a;
    for (; j + VT::W <= b; j += VT::W) VT::store(dst + j, VT::zero());
    for (; j < b; ++j) dst[j] = T(0);
  };
  zero(0, c_lo);
  zero(c_hi, L);
  copy_short(dst + c_lo, src + c_lo, c_hi - c_lo);
}

template <class T>
std::int64_t whole_vectors(std::int64_t n) {
  constexpr std::int64_t W = Vec<T>::W;
  return (n + W - 1) / W * W;
}

// The input columns that the phases along the last axis read, each phase's
// positions taken in tiles `unit` wide (tiles_extent): a packed input row
// holds columns [lo, lo + L) (input column iw at iw - lo), the input itself
// at [c_lo, c_hi) and zeros elsewhere; a staged output row takes `stage`
// values, phase p's from sofs[p].
struct ColumnSpan {
  std::int64_t lo = 0, L = 0, c_lo = 0, c_hi = 0, stage = 0;
  std::vector<std::int64_t> sofs;
  template <class T>
  static ColumnSpan of(const ConvGeom& g, const std::vector<AxisPhase>& a2s, std::int64_t unit) {
    ColumnSpan cs;
    std::int64_t hi = 0;
    bool any = false;
    for (const AxisPhase& a2 : a2s) {
      const std::int64_t qn = tiles_extent<T>(a2.Q, unit);
      cs.sofs.push_back(cs.stage);
      cs.stage += qn;
      if (a2.Q == 0) continue;
      for (std::int64_t off : a2.off) {
        cs.lo = any ? std::min(cs.lo, a2.q0 - off) : a2.q0 - off;
        hi = any ? std::max(hi, a2.q0 + qn - off) : a2.q0 + qn - off;
        any = true;
      }
    }
    cs.L = std::max<std::int64_t>(1, hi - cs.lo);
    cs.c_lo = std::clamp<std::int64_t>(-cs.lo, 0, cs.L);
    cs.c_hi = std::clamp<std::int64_t>(g.x[2] - cs.lo, cs.c_lo, cs.L);
    return cs;
  }
};

// Bytes of packed weights a blocked kernel keeps per thread: about a
// fortieth of the output, from 16 KB up to `cap`.
inline std::int64_t packed_budget(double out_bytes, std::int64_t cap) {
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(out_bytes / 40), 16 << 10, cap);
}

// How a blocked kernel splits its work: items are (group, chunk of rows,
// block group). A block group is as many blocks of output channels as have
// packed weights in 16-64 KB per thread (about a twentieth of the result);
// the chunks give enough items to balance two or more threads, each at least
// a few rows (each item packs its weights), and one chunk when the call runs
// serially.
struct BlockedSplit {
  std::int64_t per_group, bgroups, chunks, items;
  BlockedSplit(const ConvGeom& g, std::int64_t blocks, std::int64_t block_bytes, double out_bytes, std::int64_t rows) {
    const std::int64_t budget = packed_budget(out_bytes, 64 << 10);
    per_group = std::clamp<std::int64_t>(budget / std::max<std::int64_t>(block_bytes, 1), 1, std::max<std::int64_t>(blocks, 1));
    bgroups = (blocks + per_group - 1) / per_group;
    const std::int64_t base = std::max<std::int64_t>(g.groups * bgroups, 1);
    chunks = g.worth_threads() ? std::clamp<std::int64_t>((32 + base - 1) / base, 1, std::max<std::int64_t>(1, rows / 4)) : 1;
    items = g.groups * bgroups * chunks;
  }
};

// Per channel, what a block of tiles MR channels wide costs against one 8
// wide (tile_two_rows: more sums in registers per value loaded).
// V1's gather on the Intel Xeon (build/bench/kernel_time 4 64 32 16 4 2 1
// 0 1 1 float32 gather 10, two threads, alternating builds, minima): 16.0-
// 17.2 ms in blocks of 8, 14.8-15.2 in 12 x 4 and 8 x 2, 14.3-14.7 in 14 x
// 4 and 8 (28 sums, two rows' values and a weight: 31 of the 32 registers).
inline double wide_block_cost(int width) { return width >= 14 ? 0.87 : width >= 12 ? 0.89 : 1.0; }

// How many blocks MR channels wide, before blocks MT wide, cover cxg
// channels at the least cost (wide_block_cost, padded channels
// included); `cost` (if given) gets that cost.
inline std::int64_t wide_blocks(std::int64_t cxg, int MR, int MT, double* cost = nullptr) {
  std::int64_t best = 0;
  double least = -1;
  for (std::int64_t a = ceil_div(cxg, MR); a >= 0; --a) {
    const std::int64_t b = ceil_div(std::max<std::int64_t>(cxg - a * MR, 0), MT);
    const double c = static_cast<double>(a * MR) * wide_block_cost(MR) + static_cast<double>(b * MT) * wide_block_cost(MT);
    if (least < 0 || c < least - 1e-9) best = a, least = c;
  }
  if (cost) *cost = least;
  return best;
}

// Calls f(MR) (a std::integral_constant) with the wider blocks, 14 or 12
// channels before blocks of 8, that cover `channels` at less cost
// (wide_block_cost): 64 channels as 14 x 4 and 8, 32 as 12 x 2 and 8.
template <class F>
void with_wide_blocks(std::int64_t channels, F&& f) {
  double c14 = 0, c12 = 0;
  wide_blocks(channels, 14, 8, &c14), wide_blocks(channels, 12, 8, &c12);
  if (c14 <= c12) return f(std::integral_constant<int, 14>{});
  f(std::integral_constant<int, 12>{});
}

// With AVX2, tiles 6 channels wide pad every channel count 6 does not
// divide: 32 channels run as 36, an eighth of the multiply-adds on zeros.
// Calls f(MT) (a std::integral_constant) with the width of the blocks after
// the blocks of 6: 4 where that pads fewer channels and 6 alone would pad
// more than `over` of them (32 as 6 x 4 and 4 x 2, 16 as 6 x 2 and 4),
// else 6 (all blocks alike). A tile 4 channels wide holds 8 sums, not 12,
// and loads more per multiply-add. On the AMD EPYC Zen 3 (AVX2),
// build/bench/kernel_time, two threads, alternating builds, minima of five:
// - the forward (over = 0.05): V1 28.2 -> 25.0 ms, K1 11.1 -> 10.2, L1
//   18.5 -> 16.9, U2 8.1 -> 7.5, F1 61.1 -> 49.4; where 6 pads 3% (64,
//   128 channels) level (U1 3.86 -> 3.69, V2 9.57 -> 9.63);
// - the weight gradient: K1 11.8 -> 10.8, D1 4.87 -> 4.43; where 6 pads
//   3%, whole blocks let it read x in place (wgrad_tiles): in float32 (over
//   = 0) U1 4.14-5.46 -> 3.98-4.59 (its backward 8.2 -> 7.7 in two runs,
//   level in a third), V1 26.6 -> 26.0, V2's backward 29.2 -> 27.8; in
//   float64 (over = 0.05) F1 level or slower in three runs (51.8 against
//   52.6, 54.3 against 54.3, 51.1 against 53.0);
// - the gather (gather_tiles) level or slower with 32 channels, so it
//   keeps blocks of 6.
template <class F>
void with_tail_blocks(std::int64_t channels, double over, F&& f) {
  double c4 = 0;
  wide_blocks(channels, 6, 4, &c4);
  const double six = static_cast<double>(ceil_div(channels, 6) * 6);
  if (c4 < six && six > (1 + over) * static_cast<double>(channels)) return f(std::integral_constant<int, 4>{});
  f(std::integral_constant<int, 6>{});
}

// Blocks of channels for a tile MR channels wide: MR wide, or (MT < MR)
// the first `main` MR wide and the rest MT (wide_blocks). Block b holds
// channels [first(b), first(b) + width(b)), the last one padded where the
// channels end first.
template <int MR, int MT = MR>
struct ChannelBlocks {
  std::int64_t main, blocks;
  explicit ChannelBlocks(std::int64_t channels) {
    main = MT == MR ? ceil_div(channels, MR) : wide_blocks(channels, MR, MT);
    blocks = main + (MT == MR ? 0 : ceil_div(std::max<std::int64_t>(channels - main * MR, 0), MT));
  }
  std::int64_t first(std::int64_t b) const { return b < main ? b * MR : main * MR + (b - main) * MT; }
  std::int64_t width(std::int64_t b) const { return b < main ? MR : MT; }
  // Calls f(width(b)) as a std::integral_constant.
  template <class F>
  void with_width(std::int64_t b, F&& f) const {
    if (b < main) return f(std::integral_constant<int, MR>{});
    if constexpr (MT != MR) f(std::integral_constant<int, MT>{});
  }
};

// Packed copies of input rows in a fixed number of slots. For each output
// row a kernel names the rows it wants (want[r], -1 for none); rows already
// held keep their slot, the others are packed into free ones.
struct RowSlots {
  std::vector<std::int64_t> key;      // the row a slot holds, or -1
  std::vector<std::int64_t> want;     // filled by the caller
  std::vector<std::int64_t> slot_of;  // where wanted row r is, or -1
  std::vector<char> keep;

  explicit RowSlots(std::int64_t n)
      : key(static_cast<std::size_t>(n), -1), want(static_cast<std::size_t>(n), -1),
        slot_of(static_cast<std::size_t>(n), -1), keep(static_cast<std::size_t>(n)) {}

  // Assigns slot_of; pack(slot, row) copies each row not held yet.
  template <class Pack>
  void assign(Pack&& pack) {
    const std::size_t n = want.size();
    std::fill(keep.begin(), keep.end(), 0);
    for (std::size_t r = 0; r < n; ++r) {
      slot_of[r] = -1;
      if (want[r] < 0) continue;
      for (std::size_t s = 0; s < n; ++s)
        if (key[s] == want[r]) {
          slot_of[r] = static_cast<std::int64_t>(s);
          keep[s] = 1;
          break;
        }
    }
    std::size_t free_slot = 0;
    for (std::size_t r = 0; r < n; ++r) {
      if (want[r] < 0 || slot_of[r] >= 0) continue;
      while (keep[free_slot]) ++free_slot;
      keep[free_slot] = 1;
      key[free_slot] = want[r];
      for (std::size_t r2 = r; r2 < n; ++r2)
        if (want[r2] == want[r]) slot_of[r2] = static_cast<std::int64_t>(free_slot);
      pack(static_cast<std::int64_t>(free_slot), want[r]);
    }
  }
};

// Writes one output row from its phases along the last axis: phase p's
// values for q = q0_p, q0_p + 1, ... lie contiguously at ph[p]. With stride 2
// the two phases interleave (y[2j] from one, y[2j+1] from the other).
// `stream`: the row is 32-byte aligned and a whole number of vectors long,
// and bypasses the caches (outputs far larger than them).
template <class T>
void write_row(const ConvGeom& g, const std::vector<AxisPhase>& a2, const T* const* ph, T* yr, bool stream) {
  using VT = Vec<T>;
  constexpr int W = VT::W;
  const std::int64_t s = g.s[2], Yw = g.y[2];
  const auto put = [&](T* p, typename VT::V v) {
    if (stream) VT::stream(p, v);
    else VT::store(p, v);
  };
  std::int64_t o = 0;  // outputs written
  if (s == 1) {
    for (; o + W <= Yw; o += W) put(yr + o, VT::load(ph[0] + o));
    for (; o < Yw; ++o) yr[o] = ph[0][o];
    return;
  }
  if (s == 2) {
    const std::int64_t first = g.pad[2] % 2;  // the phase of y[0]
    const T* A = ph[first];
    const T* B = ph[1 - first];
    for (; o + 2 * W <= Yw; o += 2 * W) {
      typename VT::V lo, hi;
      VT::interleave(VT::load(A + o / 2), VT::load(B + o / 2), lo, hi);
      put(yr + o, lo);
      put(yr + o + W, hi);
    }
    for (std::int64_t t = o; t < Yw; ++t) yr[t] = t % 2 == 0 ? A[t / 2] : B[t / 2];
    return;
  }
  for (const AxisPhase& p : a2)
    for (std::int64_t q = 0; q < p.Q; ++q) yr[p.o(p.q0 + q, s, g.pad[2])] = ph[p.r][q];
}

// The y rows that one row of x (sample n, position id, ih) meets, and their
// packed copies. Along the last axis, tap k2 reads o = i*s2 - pad2 + k2*d2 =
// (i + c - B)*s2 + r: element i + c of phase r of a packed row, whose element
// j holds y[(j - B)*s2 + r] (zero outside y).
struct YRows {
  const ConvGeom& g;
  std::int64_t B = 0, cmax = 0;
  std::vector<std::int64_t> r, c;  // per tap k2
  std::int64_t step = 1;
  std::vector<std::int64_t> order;  // rows of x along axis 1, in the order they run

  explicit YRows(const ConvGeom& geom) : g(geom) {
    const std::int64_t s2 = g.s[2];
    B = y_phase_lead(g);
    cmax = y_phase_reach(g);
    for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) {
      const std::int64_t e = k2 * g.d[2] - g.pad[2] + B * s2;
      r.push_back(e % s2);
      c.push_back(e / s2);
    }
    // Rows of x `step` apart meet common y rows (ih * s1 + k1 * d1 agree
    // for two taps): they run one after another, ih = order[j].
    const std::int64_t s1 = g.s[1], d1 = g.d[1];
    step = d1 / std::gcd(d1, s1);
    if ((g.k[1] - 1) * d1 < step * s1 || step >= g.x[1]) step = 1;
    for (std::int64_t res = 0; res < step; ++res)
      for (std::int64_t ih = res; ih < g.x[1]; ih += step) order.push_back(ih);
  }
  // Row `row` of x in the order the rows run: sample n, plane id, and
  // within the plane ih = order[row % X1].
  struct XRow {
    std::int64_t n, id, ih;
  };
  XRow place(std::int64_t row) const {
    return {row / (g.x[0] * g.x[1]), row / g.x[1] % g.x[0], order[static_cast<std::size_t>(row % g.x[1])]};
  }
  // Names in slots.want, from index `at` on, the y rows that row `row` of x
  // (place) meets through tap pairs (k0, k1) = p0 .. p0 + np - 1 (flat index
  // k0 * K1 + k1): (n * Y0 + od) * Y1 + oh, or -1 outside y.
  void want(std::int64_t row, std::int64_t p0, std::int64_t np, RowSlots& slots, std::int64_t at = 0) const {
    const auto [n, id, ih] = place(row);
    for (std::int64_t t = 0; t < np; ++t) {
      const std::int64_t od = id * g.s[0] - g.pad[0] + ((p0 + t) / g.k[1]) * g.d[0];
      const std::int64_t oh = ih * g.s[1] - g.pad[1] + ((p0 + t) % g.k[1]) * g.d[1];
      const bool ok = od >= 0 && od < g.y[0] && oh >= 0 && oh < g.y[1];
      slots.want[static_cast<std::size_t>(at + t)] = ok ? (n * g.y[0] + od) * g.y[1] + oh : -1;
    }
  }
  // Stride 2, contiguous phase rows: both phases of one y row at once, the
  // pairs split in registers.
  template <class T>
  void pack_pair(const T* src, T* d0, T* d1, std::int64_t Lp) const {
#if LUCID_ISA_LEVEL == 2
    // With AVX-512, all of it in 512-bit registers: loads masked to the row
    // (zeros in the lanes outside it, so the padding comes with them), each
    // pair split by two permutes, stores masked to Lp. The element-by-element
    // edges and zero fills below cost as much as the rest (V1's gather spent
    // 12% of its time packing).
    using PT = Vec512<T>;
    constexpr std::int64_t P = PT::W;
    const std::int64_t Yw = g.y[2];
    const auto lanes = [P](std::int64_t lo, std::int64_t hi) {  // lanes [lo, hi) of [0, P)
      lo = std::clamp<std::int64_t>(lo, 0, P), hi = std::clamp<std::int64_t>(hi, 0, P);
      return hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
    };
    const auto part = [&](std::int64_t at) {  // y[at, at + P) where inside the row, else zeros
      const unsigned m = lanes(-at, Yw - at);
      return m ? PT::load_lanes(src + at, m) : PT::zero();
    };
    for (std::int64_t j0 = 0; j0 < Lp; j0 += P) {
      const std::int64_t at = 2 * (j0 - B);  // d0[j] = y[2 * (j - B)], d1[j] = y[2 * (j - B) + 1]
      typename PT::V e, o;
      PT::deinterleave(part(at), part(at + P), e, o);
      const unsigned m = lanes(0, Lp - j0);
      PT::store_lanes(d0 + j0, m, e);
      PT::store_lanes(d1 + j0, m, o);
    }
#else
    using VT = Vec<T>;
    constexpr std::int64_t W = VT::W;
    const std::int64_t Yw = g.y[2];
    const std::int64_t lo = std::min(B, Lp);
    const std::int64_t hi0 = std::clamp<std::int64_t>(B + (Yw + 1) / 2, lo, Lp), hi1 = std::clamp<std::int64_t>(B + Yw / 2, lo, Lp);
    const T* so = src - 2 * B;  // y[(j - B) * 2 + ph] = so[2 * j + ph]
    for (std::int64_t j = 0; j < lo; ++j) d0[j] = d1[j] = T(0);
    std::int64_t j = lo;
    for (; j + W <= hi1; j += W) {
      typename VT::V e, o;
      VT::deinterleave(VT::load(so + 2 * j), VT::load(so + 2 * j + W), e, o);
      VT::store(d0 + j, e);
      VT::store(d1 + j, o);
    }
    for (std::int64_t i = j; i < hi0; ++i) d0[i] = so[2 * i];
    for (std::int64_t i = j; i < hi1; ++i) d1[i] = so[2 * i + 1];
    for (std::int64_t i = hi0; i < Lp; ++i) d0[i] = T(0);
    for (std::int64_t i = hi1; i < Lp; ++i) d1[i] = T(0);
#endif
  }
  // Copies y row `key` of group grp (channels co < cyg) into dst: element j of
  // phase r of channel co at co * sc + r * sr + j, for j < Lp. With `burst`,
  // then prefetches the row s1 * step further (the next row of x's).
  template <class T>
  void pack(const T* y, std::int64_t grp, std::int64_t key, std::int64_t Lp, T* dst, std::int64_t sc, std::int64_t sr,
            bool burst = true) const {
    const T* src = row_of(y, grp, key);
    pack_rows(src, 0, 1, Lp, dst, 0, sc, sr);
    if (burst) prefetch_next(src, key);
  }
  // The same for nrows rows, row r's first channel at src + r * step, copied
  // to dst + r * dstep (a plane's rows, their sizes worked out once).
  template <class T>
  void pack_rows(const T* src, std::int64_t step, std::int64_t nrows, std::int64_t Lp, T* dst, std::int64_t dstep,
                 std::int64_t sc, std::int64_t sr) const {
    const std::int64_t cyg = g.cy_per_group(), Y = g.y_spatial(), s2 = g.s[2];
    for (std::int64_t r = 0; r < nrows; ++r, src += step, dst += dstep)
      for (std::int64_t co = 0; co < cyg; ++co) {
        if (s2 == 2) {
          pack_pair(src + co * Y, dst + co * sc, dst + co * sc + sr, Lp);
          continue;
        }
        for (std::int64_t ph = 0; ph < s2; ++ph) {
          // o = (j - B)*s2 + ph lies in [0, Yw) for j in [B, hi)
          const std::int64_t lo = std::min(B, Lp), hi = phase_end(ph, Lp);
          const T* so = src + co * Y + ph - B * s2;
          T* d = dst + co * sc + ph * sr;
          for (std::int64_t j = 0; j < lo; ++j) d[j] = T(0);
          if (s2 == 1) copy_short(d + lo, so + lo, hi - lo);
          else
            for (std::int64_t j = lo; j < hi; ++j) d[j] = so[j * s2];
          for (std::int64_t j = hi; j < Lp; ++j) d[j] = T(0);
        }
      }
  }
  // The same row channel-last: element j of phase r of channel co at r * sr
  // + j * cs + co (cs >= cyg), every value of dst's s2 phases of Lp rows of
  // cs written (zeros outside y and beyond cyg). Blocks of W
  // channels x W positions of y go through register transposes (512 bits
  // wide with AVX-512), each position's vector stored where its phase and
  // element put it (so no split by phase first); blocks cut short by the
  // row's end or the last channel are read through a zeroed copy. Channels
  // whose block would pass cs are copied one value at a time. Splitting by
  // phase before two transposes of 8 took 2.5 times the shuffles (V1's
  // weight gradient 12.3-13.8 ms against 11.9-12.3); positions left to
  // one-by-one copies took more (D1's rows of 24 with blocks of 16: its
  // backward 6.3 ms against 5.1).
  template <class T>
  void pack_channel_last(const T* y, std::int64_t grp, std::int64_t key, std::int64_t Lp, T* dst, std::int64_t sr,
                         std::int64_t cs) const {
#if LUCID_ISA_LEVEL == 2
    using VT = Vec512<T>;
#else
    using VT = Vec<T>;
#endif
    constexpr std::int64_t W = VT::W;
    const std::int64_t cyg = g.cy_per_group(), Y = g.y_spatial(), Yw = g.y[2], s2 = g.s[2];
    const T* src = row_of(y, grp, key);
    // Where y position o goes: phase o % s2, element B + o / s2 (a division
    // once per block, then steps).
    struct At {
      std::int64_t ph, j;
    };
    const auto step = [&](At& a) {
      if (++a.ph == s2) a.ph = 0, ++a.j;
    };
    // positions whose element lies below Lp
    const std::int64_t oend = std::clamp<std::int64_t>((Lp - B) * s2, 0, Yw);
    typename VT::V r[W];
    alignas(64) T part[W * W];
    std::int64_t co0 = 0;
    for (; co0 < cyg && co0 + W <= cs; co0 += W) {
      const std::int64_t nc = std::min(W, cyg - co0);
      for (std::int64_t o0 = 0; o0 < oend; o0 += W) {
        const std::int64_t n = std::min(W, oend - o0);
        if (nc == W && n == W) {
          for (std::int64_t c = 0; c < W; ++c) r[c] = VT::load(src + (co0 + c) * Y + o0);
        } else {
          std::fill(part, part + W * W, T(0));
          for (std::int64_t c = 0; c < nc; ++c) std::copy_n(src + (co0 + c) * Y + o0, n, part + c * W);
          for (std::int64_t c = 0; c < W; ++c) r[c] = VT::load(part + c * W);
        }
        VT::transpose(r);
        At a{o0 % s2, B + o0 / s2};
        for (std::int64_t i = 0; i < n; ++i, step(a)) VT::store(dst + a.ph * sr + a.j * cs + co0, r[i]);
      }
    }
    for (std::int64_t co = co0; co < cyg; ++co) {
      At a{0, B};
      for (std::int64_t o = 0; o < oend; ++o, step(a)) dst[a.ph * sr + a.j * cs + co] = src[co * Y + o];
    }
    // Zeros where nothing was copied: a phase's rows before B and past its
    // positions, and channels from `wrote` on in the rows between (sums over
    // those are never stored, but zeros keep stale values, subnormal or not
    // finite, out of the products). Zeroing the whole slot first cost as much
    // as 0.3 ms of V1's weight gradient (12 ms).
    const std::int64_t wrote = std::max(co0, cyg), lo = std::min(B, Lp);
    for (std::int64_t ph = 0; ph < s2; ++ph) {
      T* d = dst + ph * sr;
      const std::int64_t hi = phase_end(ph, Lp);
      std::fill(d, d + lo * cs, T(0));
      if (wrote < cs)
        for (std::int64_t j = lo; j < hi; ++j) std::fill(d + j * cs + wrote, d + (j + 1) * cs, T(0));
      std::fill(d + hi * cs, d + Lp * cs, T(0));
    }
    prefetch_next(src, key);
  }

  // Names to pf, once each, every channel of group grp of the y rows in
  // `want` (-1: none) that `held` does not hold.
  template <class T>
  void prefetch_missing(const T* y, std::int64_t grp, const std::vector<std::int64_t>& want, const RowSlots& held,
                        PacedPrefetch& pf) const {
    for (auto it = want.begin(); it != want.end(); ++it) {
      const std::int64_t key = *it;
      if (key < 0 || std::find(held.key.begin(), held.key.end(), key) != held.key.end() ||
          std::find(want.begin(), it, key) != it)  // held, or named before
        continue;
      const std::int64_t sz = static_cast<std::int64_t>(sizeof(T));
      pf.add(row_of(y, grp, key), g.y[2] * sz, g.cy_per_group(), g.y_spatial() * sz);
    }
  }

  // Where y row `key` of group grp starts (its channels Y apart).
  template <class T>
  const T* row_of(const T* y, std::int64_t grp, std::int64_t key) const {
    const std::int64_t plane = g.y[0] * g.y[1];
    return y + ((key / plane) * g.Cy + grp * g.cy_per_group()) * g.y_spatial() + (key % plane) * g.y[2];
  }

 private:
  // The end of phase ph's positions inside y: (j - B)*s2 + ph < Yw.
  std::int64_t phase_end(std::int64_t ph, std::int64_t Lp) const {
    return std::clamp<std::int64_t>(B + ceil_div(g.y[2] - ph, g.s[2]), std::min(B, Lp), Lp);
  }
  // The next row of x (step further) wants the row step * s1 further along
  // this plane: start fetching it (rows of different channels lie far apart).
  template <class T>
  void prefetch_next(const T* src, std::int64_t key) const {
    const std::int64_t plane = g.y[0] * g.y[1], Yw = g.y[2], Y = g.y_spatial();
    if ((key % plane) % g.y[1] + step * g.s[1] < g.y[1])
      for (std::int64_t co = 0; co < g.cy_per_group(); ++co)
        for (std::int64_t o = 0; o < Yw; o += 64 / static_cast<std::int64_t>(sizeof(T)))
          _mm_prefetch(reinterpret_cast<const char*>(src + co * Y + step * g.s[1] * Yw + o), _MM_HINT_T0);
  }
};

}  // namespace
}  // namespace lucid::kernels::LUCID_ISA
