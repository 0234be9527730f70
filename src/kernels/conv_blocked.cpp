// A register-blocked direct kernel for the transposed-convolution forward,
// phase by phase (conv_phases.h): a tile of MR output channels x NV vectors
// of output positions accumulates in registers over (tap, input channel),
// reading the input rows in place (masked loads at the edges), so there is no
// column buffer and no product call. Compiled once per instruction set like
// conv_direct.cpp; the AVX2 code also serves AVX-512 machines.
#include <algorithm>
#include <cstring>

#include "conv_blocked.h"
#include "conv_phases.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

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
  static V load_mask(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // lanes j with lo <= j < hi set
  static __m256i mask(int lo, int hi) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
  }
};
template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V load_mask(const double* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  static V bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static __m256i mask(int lo, int hi) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_and_si256(_mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(lo - 1)),
                            _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), idx));
  }
};

struct Tap {
  std::int64_t off0, off1, off2, kf;
};

// MR output channels x NV vectors of positions per tile.
template <class T, int MR, int NV>
void scatter_tiles(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int NR = NV * VT::W;
  const std::vector<AxisPhase> ax[3] = {axis_phases(g, 0), axis_phases(g, 1), axis_phases(g, 2)};
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), Yw = g.y[2];
  const std::int64_t coblocks = (cyg + MR - 1) / MR;
  // A row phase (phases along the first two axes) holds every phase along the
  // last axis, so that each output row is assembled whole and written once.
  struct WPhase {
    const AxisPhase* a2;
    std::vector<Tap> taps;
    std::int64_t wofs;  // offset of its packed weights
  };
  struct RowPhase {
    const AxisPhase *a0, *a1;
    std::vector<WPhase> wph;
    std::int64_t wsize;
  };
  std::vector<RowPhase> rows;
  for (const auto& a0 : ax[0])
    for (const auto& a1 : ax[1]) {
      if (a0.Q * a1.Q == 0) continue;
      RowPhase rp{&a0, &a1, {}, 0};
      for (const auto& a2 : ax[2]) {
        if (a2.Q == 0) continue;
        WPhase wp{&a2, {}, rp.wsize};
        for (std::size_t t0 = 0; t0 < a0.k.size(); ++t0)
          for (std::size_t t1 = 0; t1 < a1.k.size(); ++t1)
            for (std::size_t t2 = 0; t2 < a2.k.size(); ++t2)
              wp.taps.push_back({a0.off[t0], a1.off[t1], a2.off[t2], (a0.k[t0] * g.k[1] + a1.k[t1]) * g.k[2] + a2.k[t2]});
        rp.wsize += static_cast<std::int64_t>(wp.taps.size()) * cxg * MR;
        rp.wph.push_back(std::move(wp));
      }
      rows.push_back(std::move(rp));
    }
  const std::int64_t nrp = static_cast<std::int64_t>(rows.size());
  const std::int64_t items = g.N * g.groups * nrp * coblocks;
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < items; ++it) {
    const std::int64_t cob = it % coblocks, ri = (it / coblocks) % nrp, grp = (it / (coblocks * nrp)) % g.groups,
                       n = it / (coblocks * nrp * g.groups);
    const RowPhase& rp = rows[static_cast<std::size_t>(ri)];
    const AxisPhase &a0 = *rp.a0, &a1 = *rp.a1;
    const std::int64_t co0 = cob * MR, mr = std::min<std::int64_t>(MR, cyg - co0);
    // Packed weights [w-phase][tap][ci][MR] (zero-padded channels), then MR output rows.
    T* wp = thread_scratch<T>(static_cast<std::size_t>(rp.wsize + MR * Yw + NR), 0);
    T* rowbuf = wp + rp.wsize;
    for (const WPhase& ph : rp.wph)
      for (std::size_t t = 0; t < ph.taps.size(); ++t)
        for (std::int64_t ci = 0; ci < cxg; ++ci)
          for (int m = 0; m < MR; ++m)
            wp[ph.wofs + (static_cast<std::int64_t>(t) * cxg + ci) * MR + m] =
                m < mr ? w[((grp * cxg + ci) * cyg + co0 + m) * K + ph.taps[t].kf] : T(0);
    T b[MR];
    for (int m = 0; m < MR; ++m) b[m] = (bias && m < mr) ? bias[grp * cyg + co0 + m] : T(0);
    const T* xg = x + (n * g.Cx + grp * cxg) * X;
    T out[MR][NR];
    for (std::int64_t qa = 0; qa < a0.Q; ++qa)
      for (std::int64_t qb = 0; qb < a1.Q; ++qb) {
        for (const WPhase& ph : rp.wph) {
          const AxisPhase& a2 = *ph.a2;
          const std::int64_t nt = static_cast<std::int64_t>(ph.taps.size());
          for (std::int64_t c0 = 0; c0 < a2.Q; c0 += NR) {
            const int ncol = static_cast<int>(std::min<std::int64_t>(NR, a2.Q - c0));
            V acc[MR][NV];
            for (int m = 0; m < MR; ++m)
              for (int v = 0; v < NV; ++v) acc[m][v] = VT::zero();
            for (std::int64_t t = 0; t < nt; ++t) {
              const Tap& tp = ph.taps[static_cast<std::size_t>(t)];
              const std::int64_t id = a0.q0 + qa - tp.off0, ih = a1.q0 + qb - tp.off1;
              if (id < 0 || id >= g.x[0] || ih < 0 || ih >= g.x[1]) continue;
              // columns c of the tile read iw = q0 + c0 + c - off2; valid where 0 <= iw < Xw
              const std::int64_t iw0 = a2.q0 + c0 - tp.off2;
              const int lo = static_cast<int>(std::clamp<std::int64_t>(-iw0, 0, ncol));
              const int hi = static_cast<int>(std::clamp<std::int64_t>(g.x[2] - iw0, lo, ncol));
              if (hi <= lo) continue;
              const T* xr = xg + (id * g.x[1] + ih) * g.x[2] + iw0;
              const T* wt = wp + ph.wofs + t * cxg * MR;
              if (lo == 0 && hi == NR) {
                for (std::int64_t ci = 0; ci < cxg; ++ci) {
                  const T* xc = xr + ci * X;
                  V xv[NV];
                  for (int v = 0; v < NV; ++v) xv[v] = VT::load(xc + v * VT::W);
                  const T* wc = wt + ci * MR;
                  for (int m = 0; m < MR; ++m) {
                    const V wv = VT::bcast(wc + m);
                    for (int v = 0; v < NV; ++v) acc[m][v] = VT::fma(wv, xv[v], acc[m][v]);
                  }
                }
              } else {
                __m256i mk[NV];
                for (int v = 0; v < NV; ++v) mk[v] = VT::mask(lo - v * VT::W, hi - v * VT::W);
                for (std::int64_t ci = 0; ci < cxg; ++ci) {
                  const T* xc = xr + ci * X;
                  V xv[NV];
                  for (int v = 0; v < NV; ++v) xv[v] = VT::load_mask(xc + v * VT::W, mk[v]);
                  const T* wc = wt + ci * MR;
                  for (int m = 0; m < MR; ++m) {
                    const V wv = VT::bcast(wc + m);
                    for (int v = 0; v < NV; ++v) acc[m][v] = VT::fma(wv, xv[v], acc[m][v]);
                  }
                }
              }
            }
            for (int m = 0; m < MR; ++m)
              for (int v = 0; v < NV; ++v) VT::store(out[m] + v * VT::W, acc[m][v]);
            const std::int64_t sw = g.s[2];
            const std::int64_t ow0 = a2.o(a2.q0 + c0, sw, g.pad[2]);
            for (int m = 0; m < mr; ++m) {
              T* rr = rowbuf + m * Yw + ow0;
              for (int c = 0; c < ncol; ++c) rr[c * sw] = out[m][c] + b[m];
            }
          }
        }
        const std::int64_t od = a0.o(a0.q0 + qa, g.s[0], g.pad[0]), oh = a1.o(a1.q0 + qb, g.s[1], g.pad[1]);
        for (int m = 0; m < mr; ++m)
          std::memcpy(y + (n * g.Cy + grp * cyg + co0 + m) * Y + (od * g.y[1] + oh) * Yw, rowbuf + m * Yw,
                      static_cast<std::size_t>(Yw) * sizeof(T));
      }
  }
}

}  // namespace

// Tiles sized to the problem: as many channels as there are (up to 6), one
// vector of positions when the phase rows are that short.
template <class T>
void conv_scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t cyg = g.cy_per_group();
  const bool short_rows = (g.y[2] + g.s[2] - 1) / g.s[2] <= Vec<T>::W;
  if (cyg <= 2) return short_rows ? scatter_tiles<T, 2, 1>(g, x, w, bias, y) : scatter_tiles<T, 2, 2>(g, x, w, bias, y);
  if (cyg <= 4) return short_rows ? scatter_tiles<T, 4, 1>(g, x, w, bias, y) : scatter_tiles<T, 4, 2>(g, x, w, bias, y);
  return short_rows ? scatter_tiles<T, 6, 1>(g, x, w, bias, y) : scatter_tiles<T, 6, 2>(g, x, w, bias, y);
}

}  // namespace lucid::kernels::LUCID_ISA

#else  // no AVX2: the direct loops serve

#include "conv_direct.h"

namespace lucid::kernels::LUCID_ISA {
template <class T>
void conv_scatter_blocked(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  conv_scatter_direct<T>(g, x, w, bias, y);
}
}  // namespace lucid::kernels::LUCID_ISA

#endif

namespace lucid::kernels::LUCID_ISA {
template void conv_scatter_blocked<float>(const ConvGeom&, const float*, const float*, const float*, float*);
template void conv_scatter_blocked<double>(const ConvGeom&, const double*, const double*, const double*, double*);
}  // namespace lucid::kernels::LUCID_ISA
