// Direct convolution kernels for few channels per group (depthwise and the
// like) and for tiny problems, where a matrix product has nothing to block.
// Row-wise loops over the stride phases that the compiler vectorises; this
// file is compiled once per instruction set (LUCID_ISA names the namespace)
// and conv_dispatch.cpp picks one at run time.
#include <algorithm>
#include <cstring>

#include "conv_direct.h"
#include "conv_phases.h"
#include "isa_target.h"

#if LUCID_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

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

// How many x rows (of the X0 x X1 rows of one sample) the direct backward
// copies y for at a time: as many as fit, with the weight gradient's
// partial sums (L per x channel of a group, if it computes that gradient),
// within 9% of the gradients it writes; at least one.
inline std::int64_t direct_backward_rows(const ConvGeom& g, std::size_t elem, int L, bool gx, bool gw) {
  const double written = (gx ? static_cast<double>(g.N * g.Cx * g.x_spatial()) : 0.0) +
                         (gw ? static_cast<double>(g.Cx * g.cy_per_group() * g.taps()) : 0.0);
  const double budget = 0.09 * written * static_cast<double>(elem);
  const double fixed = gw ? static_cast<double>(g.cx_per_group() * L) * static_cast<double>(elem) : 0.0;
  const double per_row = static_cast<double>(g.x[2]) * static_cast<double>(elem);
  const std::int64_t fit = static_cast<std::int64_t>((budget - fixed) / per_row);
  return std::clamp<std::int64_t>(fit, 1, g.x[0] * g.x[1]);
}

// The direct backward's partial sums per weight-gradient element: one
// vector's lanes (512-bit with AVX-512, 256-bit otherwise).
template <class T>
constexpr int direct_lanes() {
  return (LUCID_ISA_LEVEL == 2 ? 64 : 32) / static_cast<int>(sizeof(T));
}

// One x channel's share of a direct backward pass over P positions: its
// input gradient gr += wv * col (if gr), and the products xr * col into its
// partial sums pc (if xr), lane l taking the positions l mod L.
template <class T>
inline void direct_pass_rows(const T* col, std::int64_t P, T wv, T* gr, const T* xr, T* pc) {
  constexpr int L = direct_lanes<T>();
  std::int64_t j = 0;
#if LUCID_ISA_LEVEL >= 1
#if LUCID_ISA_LEVEL == 2
  using VT = Vec512<T>;
#else
  using VT = Vec<T>;
#endif
  using V = typename VT::V;
  static_assert(VT::W == L);
  const V wb = VT::bcast(&wv);
  if (gr && xr) {
    V acc = VT::load(pc);
    for (; j + L <= P; j += L) {
      const V c = VT::load(col + j);
      VT::store(gr + j, VT::fma(wb, c, VT::load(gr + j)));
      acc = VT::fma(VT::load(xr + j), c, acc);
    }
    VT::store(pc, acc);
  } else if (gr) {
    for (; j + L <= P; j += L) VT::store(gr + j, VT::fma(wb, VT::load(col + j), VT::load(gr + j)));
  } else if (xr) {
    V acc = VT::load(pc);
    for (; j + L <= P; j += L) acc = VT::fma(VT::load(xr + j), VT::load(col + j), acc);
    VT::store(pc, acc);
  }
#endif
  for (std::int64_t k = j; gr && k < P; ++k) gr[k] += wv * col[k];
  for (std::int64_t k = j; xr && k < P; ++k) pc[k % L] += xr[k] * col[k];  // (j: a multiple of L)
}

// Both gradients of a small convolution (or either alone; bx, if given, is
// added to the input gradient: a forward convolution's bias) with no column
// matrix. For each y channel and tap (one pass), the y elements the tap
// brings to a block of x rows (one sample) are copied into one contiguous
// row of scratch (zeros where they fall outside y), and every x channel of
// the group adds w times it into its input-gradient rows and the products
// with its x rows into L partial sums of its weight gradient, combined when
// the pass ends. Each y element is read once per pass however many x
// channels use it, the strided reads happen in the copy, and every
// multiply-add runs along contiguous rows. Serial: each result sums its
// terms in a fixed order.
template <class T>
void conv_backward_direct(const ConvGeom& g, const T* x, const T* w, const T* y, const T* bx, T* gx, T* gw) {
  constexpr int L = direct_lanes<T>();
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial(), R = g.x[0] * g.x[1], X2 = g.x[2];
  const std::int64_t B = direct_backward_rows(g, sizeof(T), L, gx != nullptr, gw != nullptr);
  T* col = thread_scratch<T>(static_cast<std::size_t>(B * X2 + (gw ? cxg * L : 0)), 0);
  T* part = col + B * X2;
  if (gx)
    for (std::int64_t nc = 0; nc < g.N * g.Cx; ++nc) std::fill_n(gx + nc * X, X, bx ? bx[nc % g.Cx] : T(0));
  for (std::int64_t cy = 0; cy < g.Cy; ++cy) {
    const std::int64_t grp = cy / cyg, cyl = cy % cyg, cx0 = grp * cxg;
    for (std::int64_t kf = 0; kf < K; ++kf) {
      const std::int64_t k0 = kf / (g.k[1] * g.k[2]), k1 = (kf / g.k[2]) % g.k[1], k2 = kf % g.k[2];
      const std::int64_t o0 = -g.pad[0] + k0 * g.d[0], o1 = -g.pad[1] + k1 * g.d[1], o2 = -g.pad[2] + k2 * g.d[2];
      std::int64_t lo, hi;
      valid_inputs(X2, g.y[2], g.s[2], g.pad[2], k2 * g.d[2], lo, hi);
      if (gw) std::fill(part, part + cxg * L, T(0));
      for (std::int64_t n = 0; n < g.N && hi > lo; ++n) {
        const T* yc = y + (n * g.Cy + cy) * Y;
        for (std::int64_t r0 = 0; r0 < R; r0 += B) {
          const std::int64_t nb = std::min(B, R - r0), P = nb * X2;
          // rows outside y and the ends of rows beyond it stay zero
          std::fill(col, col + P, T(0));
          bool any = false;
          std::int64_t id = r0 / g.x[1], ih = r0 % g.x[1];
          for (std::int64_t r = 0; r < nb; ++r) {
            const std::int64_t od = id * g.s[0] + o0, oh = ih * g.s[1] + o1;
            if (++ih == g.x[1]) ih = 0, ++id;
            if (od < 0 || od >= g.y[0] || oh < 0 || oh >= g.y[1]) continue;
            any = true;
            T* dst = col + r * X2;
            const T* yr = yc + (od * g.y[1] + oh) * g.y[2] + o2;  // x column c meets yr[c * s]
            if (g.s[2] == 1) {
              for (std::int64_t c = lo; c < hi; ++c) dst[c] = yr[c];
            } else if (g.s[2] == 2) {
              for (std::int64_t c = lo; c < hi; ++c) dst[c] = yr[2 * c];
            } else {
              const std::int64_t sw = g.s[2];
              for (std::int64_t c = lo; c < hi; ++c) dst[c] = yr[c * sw];
            }
          }
          if (!any) continue;
          for (std::int64_t cx = cx0; cx < cx0 + cxg; ++cx) {
            const std::int64_t at = (n * g.Cx + cx) * X + r0 * X2;
            direct_pass_rows<T>(col, P, gx ? w[(cx * cyg + cyl) * K + kf] : T(0), gx ? gx + at : nullptr,
                                gw ? x + at : nullptr, part + (cx - cx0) * L);
          }
        }
      }
      if (gw)
        for (std::int64_t c = 0; c < cxg; ++c) {
          T* pc = part + c * L;
          for (int h = L / 2; h > 0; h /= 2)
            for (int l = 0; l < h; ++l) pc[l] += pc[l + h];
          gw[((cx0 + c) * cyg + cyl) * K + kf] = pc[0];
        }
    }
  }
}

#define LUCID_INSTANTIATE(T)                                                                \
  template void conv_scatter_direct<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather_direct<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad_direct<T>(const ConvGeom&, const T*, const T*, T*);            \
  template void conv_backward_direct<T>(const ConvGeom&, const T*, const T*, const T*, const T*, T*, T*);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels::LUCID_ISA
LUCID_ISA_END
