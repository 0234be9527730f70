// Pieces the register-blocked kernels share (conv_blocked.cpp,
// conv_blocked_grad.cpp): SIMD vectors, the tile that accumulates in
// registers, and the slots that hold packed copies of input rows. Included
// only by files compiled once per instruction set, with AVX2 and FMA.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_geometry.h"

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
};

// One tile: MR output channels x NV vectors of positions from column c0,
// summed over the nt taps (input rows xs[t], packed weights ws[t]: MR per
// input channel) and the cin input channels (L apart in the rows), started
// from the bias bv; stored at out + m * ld + c0.
template <class T, int MR, int NV>
void tile(const T* const* xs, const T* const* ws, std::int64_t nt, std::int64_t c0, std::int64_t cin, std::int64_t L,
          const typename Vec<T>::V* bv, T* out, std::int64_t ld) {
  using VT = Vec<T>;
  using V = typename VT::V;
  V acc[MR][NV];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) acc[m][v] = bv[m];
  for (std::int64_t t = 0; t < nt; ++t) {
    const T* xr = xs[t] + c0;
    const T* wt = ws[t];
    for (std::int64_t ci = 0; ci < cin; ++ci) {
      const T* xc = xr + ci * L;
      V xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = VT::load(xc + v * VT::W);
      const T* wc = wt + ci * MR;
      for (int m = 0; m < MR; ++m) {
        const V wv = VT::bcast(wc + m);
        for (int v = 0; v < NV; ++v) acc[m][v] = VT::fma(wv, xv[v], acc[m][v]);
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) VT::store(out + m * ld + c0 + v * VT::W, acc[m][v]);
}

// Copies n values: vector moves and a scalar tail (rows of a few dozen
// values, where a library call costs more than the copy).
template <class T>
void copy_short(T* dst, const T* src, std::int64_t n) {
  using VT = Vec<T>;
  std::int64_t j = 0;
  for (; j + VT::W <= n; j += VT::W) VT::store(dst + j, VT::load(src + j));
  for (; j < n; ++j) dst[j] = src[j];
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
    const std::int64_t budget = std::clamp<std::int64_t>(static_cast<std::int64_t>(out_bytes / 40), 16 << 10, 64 << 10);
    per_group = std::clamp<std::int64_t>(budget / std::max<std::int64_t>(block_bytes, 1), 1, std::max<std::int64_t>(blocks, 1));
    bgroups = (blocks + per_group - 1) / per_group;
    const std::int64_t base = std::max<std::int64_t>(g.groups * bgroups, 1);
    chunks = g.worth_threads() ? std::clamp<std::int64_t>((32 + base - 1) / base, 1, std::max<std::int64_t>(1, rows / 4)) : 1;
    items = g.groups * bgroups * chunks;
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

}  // namespace
}  // namespace lucid::kernels::LUCID_ISA
