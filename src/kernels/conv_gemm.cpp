// Convolution kernels built on matrix products.
//
// scatter (transposed forward): per output phase (conv_phases.h), a dense
// product  Y_phase[Cy/g x q] = W_phase[Cy/g x (taps*Cx/g)] * X_cols[(taps*Cx/g) x q]
// where X_cols holds shifted input rows for a chunk of q (built here, a few
// hundred KB at most). Bias is added while the phase is written into y.
// gather (transposed input-grad, conv forward): X[Cx/g x i] = W[Cx/g x (Cy/g*taps)] * Y_cols,
// written straight into x. weight_grad: W += X_chunk * Y_cols^T over chunks
// of positions, in a fixed order, with the threads splitting W into fixed blocks.
#include "conv_gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include <omp.h>

#include "blas.h"
#include "conv_phases.h"
#include "conv_segments.h"

namespace lucid::kernels {
namespace {

constexpr std::size_t kColBytes = 256 * 1024;     // per-thread column chunk (about L2)
constexpr std::size_t kWgColBytes = 1024 * 1024;  // shared column chunk of the weight gradient
// The fixed blocks the threads split the shared-column products into (rows of
// x, column rows of the weight gradient), whatever the thread count.
constexpr std::int64_t kBlockRows = 64, kBlockCols = 256;

// Scratch is held to about a tenth of what the call produces, unless that
// leaves fewer than 64 columns per chunk (small results with many channels x
// taps), where speed wins.
std::size_t budget(std::size_t cap, double result_bytes, double share) {
  return static_cast<std::size_t>(std::clamp(share * result_bytes, 32.0 * 1024, static_cast<double>(cap)));
}
double bytes_y(const ConvGeom& g, std::size_t e) {
  return static_cast<double>(g.N * g.Cy * g.y_spatial()) * static_cast<double>(e);
}
double bytes_xw(const ConvGeom& g, std::size_t e) {
  return static_cast<double>(g.N * g.Cx * g.x_spatial() + g.Cx * g.cy_per_group() * g.taps()) * static_cast<double>(e);
}

std::atomic<std::size_t> g_scratch_total{0};
std::atomic<unsigned> g_scratch_generation{0};

struct ThreadScratch {
  std::vector<char> buf[2];
  unsigned generation = 0;
  // Drops buffers made before the last release_scratch() (already uncounted).
  void refresh() {
    const unsigned now = g_scratch_generation.load();
    if (generation == now) return;
    for (auto& b : buf) std::vector<char>().swap(b);
    generation = now;
  }
  ~ThreadScratch() {
    if (generation == g_scratch_generation.load())
      for (auto& b : buf) g_scratch_total -= b.size();
  }
};
thread_local ThreadScratch tls_scratch;

thread_local std::vector<Segment> tls_segments;
thread_local std::vector<std::int64_t> tls_taps;  // a phase's taps (flat indices into w)

std::int64_t chunk_cols(std::size_t budget, std::size_t elem, std::int64_t rows, std::int64_t total) {
  const std::int64_t nc = static_cast<std::int64_t>(budget / (elem * static_cast<std::size_t>(std::max<std::int64_t>(rows, 1))));
  // At least 64 columns: narrower products run far below the machine's speed.
  return std::max<std::int64_t>(1, std::min(total, std::max<std::int64_t>(nc, 64)));
}

struct Phase {
  const AxisPhase* p[3];
  std::int64_t ntaps, Q, wofs;
};

}  // namespace

template <class T>
T* thread_scratch(std::size_t count, int slot) {
  tls_scratch.refresh();
  auto& b = tls_scratch.buf[slot];
  const std::size_t need = count * sizeof(T) + 64;
  if (b.size() < need) {
    g_scratch_total += need - b.size();
    b.resize(need);
  }
  const auto addr = reinterpret_cast<std::uintptr_t>(b.data());
  return reinterpret_cast<T*>((addr + 63) & ~std::uintptr_t{63});
}
template float* thread_scratch<float>(std::size_t, int);
template double* thread_scratch<double>(std::size_t, int);

std::size_t scratch_bytes() { return g_scratch_total; }

void release_scratch() {
  // Every thread drops its buffers on its next use; the count restarts now.
  ++g_scratch_generation;
  g_scratch_total = 0;
  tls_scratch.refresh();
}

bool gemm_supported(const ConvGeom& g) {
  const std::int64_t K = g.taps();
  return blas_fits(g.x_spatial()) && blas_fits(g.y_spatial()) && blas_fits(g.cx_per_group() * g.cy_per_group() * K) &&
         blas_fits(g.cy_per_group() * K) && blas_fits(g.cx_per_group() * K);
}

template <class T>
void conv_scatter_gemm(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::vector<AxisPhase> ax[3] = {axis_phases(g, 0), axis_phases(g, 1), axis_phases(g, 2)};
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();

  std::vector<Phase> phases;
  std::int64_t wsize = 0;
  for (const auto& a0 : ax[0])
    for (const auto& a1 : ax[1])
      for (const auto& a2 : ax[2]) {
        Phase ph{{&a0, &a1, &a2}, static_cast<std::int64_t>(a0.k.size() * a1.k.size() * a2.k.size()),
                 a0.Q * a1.Q * a2.Q, wsize};
        if (ph.Q == 0) continue;
        wsize += cyg * ph.ntaps * cxg;
        phases.push_back(ph);
      }

  // Packed weights per (group, phase): [co'][tap][ci], the phase's A matrix.
  T* wp = thread_scratch<T>(static_cast<std::size_t>(g.groups * wsize), 1);
#pragma omp parallel for collapse(2) schedule(static) if (g.worth_threads())
  for (std::int64_t grp = 0; grp < g.groups; ++grp)
    for (std::size_t pi = 0; pi < phases.size(); ++pi) {
      const Phase& ph = phases[pi];
      T* dst = wp + grp * wsize + ph.wofs;
      std::vector<std::int64_t>& kfs = tls_taps;
      kfs.clear();
      for (std::int64_t k0 : ph.p[0]->k)
        for (std::int64_t k1 : ph.p[1]->k)
          for (std::int64_t k2 : ph.p[2]->k) kfs.push_back((k0 * g.k[1] + k1) * g.k[2] + k2);
      // w's taps of one (ci, co) lie side by side: reading them together
      // (and the rows of every ci in turn, which stay in cache for the next
      // co) keeps the copy within cache; one tap of every (ci, co) at a time
      // missed it on each read (256 -> 256 channels, 3^3 taps: most of 13 ms).
      for (std::int64_t co = 0; co < cyg; ++co)
        for (std::int64_t ci = 0; ci < cxg; ++ci) {
          const T* src = w + ((grp * cxg + ci) * cyg + co) * K;
          T* d = dst + co * ph.ntaps * cxg + ci;
          for (std::size_t t = 0; t < kfs.size(); ++t) d[static_cast<std::int64_t>(t) * cxg] = src[kfs[t]];
        }
    }

  struct Item {
    std::int64_t n, grp, phase, p0, p1;
  };
  std::vector<Item> items;
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
      for (std::size_t pi = 0; pi < phases.size(); ++pi) {
        const Phase& ph = phases[pi];
        const std::int64_t nc =
            chunk_cols(budget(kColBytes, bytes_y(g, sizeof(T)), 0.05), sizeof(T), ph.ntaps * cxg + cyg, ph.Q);
        for (std::int64_t p0 = 0; p0 < ph.Q; p0 += nc)
          items.push_back({n, grp, static_cast<std::int64_t>(pi), p0, std::min(ph.Q, p0 + nc)});
      }

#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::size_t it = 0; it < items.size(); ++it) {
    const Item& item = items[it];
    const Phase& ph = phases[static_cast<std::size_t>(item.phase)];
    const AxisPhase &a0 = *ph.p[0], &a1 = *ph.p[1], &a2 = *ph.p[2];
    const std::int64_t nc = item.p1 - item.p0, Kr = ph.ntaps * cxg;
    std::vector<Segment>& segs = tls_segments;
    segments(a1.Q, a2.Q, item.p0, item.p1, segs);
    T* col = thread_scratch<T>(static_cast<std::size_t>((Kr + cyg) * nc), 0);
    T* C = col + Kr * nc;
    if (Kr > 0) {
      std::int64_t t = 0;
      for (std::size_t t0 = 0; t0 < a0.k.size(); ++t0)
        for (std::size_t t1 = 0; t1 < a1.k.size(); ++t1)
          for (std::size_t t2 = 0; t2 < a2.k.size(); ++t2, ++t) {
            const std::int64_t off2 = a2.off[t2];
            for (std::int64_t ci = 0; ci < cxg; ++ci) {
              T* row = col + (t * cxg + ci) * nc;
              const T* xc = x + (item.n * g.Cx + item.grp * cxg + ci) * X;
              for (const Segment& s : segs) {
                T* dst = row + s.j0;
                const std::int64_t len = s.c1 - s.c0;
                const std::int64_t id = a0.q0 + s.a - a0.off[t0], ih = a1.q0 + s.b - a1.off[t1];
                if (id < 0 || id >= g.x[0] || ih < 0 || ih >= g.x[1]) {
                  std::fill(dst, dst + len, T(0));
                  continue;
                }
                const T* src = xc + (id * g.x[1] + ih) * g.x[2];
                // columns c with 0 <= q0 + c - off2 < Xw
                const std::int64_t lo = std::clamp<std::int64_t>(off2 - a2.q0, s.c0, s.c1);
                const std::int64_t hi = std::clamp<std::int64_t>(g.x[2] + off2 - a2.q0, lo, s.c1);
                std::fill(dst, dst + (lo - s.c0), T(0));
                std::memcpy(dst + (lo - s.c0), src + (a2.q0 + lo - off2), static_cast<std::size_t>(hi - lo) * sizeof(T));
                std::fill(dst + (hi - s.c0), dst + len, T(0));
              }
            }
          }
      gemm_nn<T>(cyg, nc, Kr, wp + item.grp * wsize + ph.wofs, Kr, col, nc, T(0), C, nc);
    } else {
      std::fill(C, C + cyg * nc, T(0));
    }
    // Write the phase into y, adding the bias.
    for (std::int64_t co = 0; co < cyg; ++co) {
      const std::int64_t cy = item.grp * cyg + co;
      const T b = bias ? bias[cy] : T(0);
      T* yc = y + (item.n * g.Cy + cy) * Y;
      const T* cr = C + co * nc;
      for (const Segment& s : segs) {
        const std::int64_t od = a0.o(a0.q0 + s.a, g.s[0], g.pad[0]);
        const std::int64_t oh = a1.o(a1.q0 + s.b, g.s[1], g.pad[1]);
        T* yr = yc + (od * g.y[1] + oh) * g.y[2];
        const T* src = cr + s.j0;
        const std::int64_t sw = g.s[2];
        T* dst = yr + a2.o(a2.q0 + s.c0, sw, g.pad[2]);
        const std::int64_t len = s.c1 - s.c0;
        if (sw == 1) {
          for (std::int64_t c = 0; c < len; ++c) dst[c] = src[c] + b;
        } else {
          for (std::int64_t c = 0; c < len; ++c) dst[c * sw] = src[c] + b;
        }
      }
    }
  }
}

template <class T>
void conv_scatter_taps(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps();
  const std::int64_t X = g.x_spatial(), Y = g.y_spatial();
  // Fixed blocks of output channels (independent of the thread count); each
  // block's rows (channel, tap) form one product with all input channels.
  const std::int64_t cb = std::clamp<std::int64_t>(1024 / K, 1, cyg);
  const std::int64_t nblocks = (cyg + cb - 1) / cb;
  const std::int64_t nc = chunk_cols(budget(kColBytes, bytes_y(g, sizeof(T)), 0.05), sizeof(T), cb * K, X);
  const std::int64_t items = g.N * g.groups * nblocks;
  const std::vector<TapPlace> places = tap_places(g);
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < items; ++it) {
    const std::int64_t n = it / (g.groups * nblocks), grp = (it / nblocks) % g.groups, blk = it % nblocks;
    const std::int64_t co0 = blk * cb, ncb = std::min(cb, cyg - co0), M = ncb * K;
    T* ybase = y + (n * g.Cy + grp * cyg + co0) * Y;
    for (std::int64_t c = 0; c < ncb; ++c) std::fill(ybase + c * Y, ybase + (c + 1) * Y, bias ? bias[grp * cyg + co0 + c] : T(0));
    T* C = thread_scratch<T>(static_cast<std::size_t>(M * nc), 0);
    std::vector<Segment>& segs = tls_segments;
    for (std::int64_t p0 = 0; p0 < X; p0 += nc) {
      const std::int64_t len = std::min(nc, X - p0);
      // C[(co, tap)][j] = sum_ci W[ci][co][tap] * x[ci][p0 + j]
      gemm_tn<T>(M, len, cxg, w + grp * cxg * cyg * K + co0 * K, cyg * K, x + (n * g.Cx + grp * cxg) * X + p0, X,
                 T(0), C, len);
      segments(g.x[1], g.x[2], p0, p0 + len, segs);
      for (std::int64_t c = 0; c < ncb; ++c)
        for (std::int64_t kf = 0; kf < K; ++kf) add_tap_row(g, places[static_cast<std::size_t>(kf)], C + (c * K + kf) * len, segs, ybase + c * Y);
    }
  }
}

namespace {

// Column rows of the y side for x positions [p0, p1): row (co', tap) holds
// y[n, grp*cyg + co', o(i, tap)] (0 where o falls outside y).
template <class T>
void y_columns(const ConvGeom& g, const T* y, std::int64_t n, std::int64_t grp, const std::vector<TapPlace>& places,
               std::int64_t row, const std::vector<Segment>& segs, T* dst_row) {
  const std::int64_t K = g.taps(), sw = g.s[2];
  const TapPlace& tp = places[static_cast<std::size_t>(row % K)];
  const T* yc = y + (n * g.Cy + grp * g.cy_per_group() + row / K) * g.y_spatial();
  // Rows of x shorter than 16: the whole column row is zeroed once, then
  // only the y values that exist are copied, in plain loops (per-segment
  // fills and library calls cost more than the copies).
  const bool short_rows = g.x[2] < 16;
  if (short_rows && !segs.empty()) std::fill(dst_row, dst_row + segs.back().j0 + (segs.back().c1 - segs.back().c0), T(0));
  for (const Segment& s : segs) {
    T* dst = dst_row + s.j0;
    const std::int64_t len = s.c1 - s.c0;
    const std::int64_t od = s.a * g.s[0] + tp.o0, oh = s.b * g.s[1] + tp.o1;
    const bool inside = od >= 0 && od < g.y[0] && oh >= 0 && oh < g.y[1];
    if (short_rows && !inside) continue;
    const T* src = yc + (inside ? (od * g.y[1] + oh) * g.y[2] : 0);
    const std::int64_t lo = inside ? std::clamp(tp.lo2, s.c0, s.c1) : s.c0, hi = inside ? std::clamp(tp.hi2, lo, s.c1) : lo;
    if (short_rows) {
      T* dp = dst - s.c0;
      const T* sp = src + tp.o2;
      if (sw == 2)
        for (std::int64_t c = lo; c < hi; ++c) dp[c] = sp[2 * c];
      else
        for (std::int64_t c = lo; c < hi; ++c) dp[c] = sp[c * sw];
      continue;
    }
    std::fill(dst, dst + (lo - s.c0), T(0));
    if (sw == 1) {
      std::memcpy(dst + (lo - s.c0), src + lo + tp.o2, static_cast<std::size_t>(hi - lo) * sizeof(T));
    } else if (sw == 2) {  // a constant stride the compiler vectorises
      const T* sp = src + lo * 2 + tp.o2;
      T* dp = dst + (lo - s.c0);
      for (std::int64_t c = 0; c < hi - lo; ++c) dp[c] = sp[2 * c];
    } else {
      for (std::int64_t c = lo; c < hi; ++c) dst[c - s.c0] = src[c * sw + tp.o2];
    }
    std::fill(dst + (hi - s.c0), dst + len, T(0));
  }
}

}  // namespace

template <class T>
void conv_gather_gemm(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps(), X = g.x_spatial();
  const std::int64_t Kc = cyg * K;
  const std::int64_t nc = chunk_cols(budget(kColBytes, bytes_xw(g, sizeof(T)), 0.05), sizeof(T), Kc, X);
  const std::int64_t chunks = (X + nc - 1) / nc;
  const std::int64_t items = g.N * g.groups * chunks;
  const std::vector<TapPlace> places = tap_places(g);
#pragma omp parallel for schedule(dynamic, 1) if (g.worth_threads())
  for (std::int64_t it = 0; it < items; ++it) {
    const std::int64_t n = it / (g.groups * chunks), grp = (it / chunks) % g.groups, ch = it % chunks;
    const std::int64_t p0 = ch * nc, p1 = std::min(X, p0 + nc), len = p1 - p0;
    std::vector<Segment>& segs = tls_segments;
    segments(g.x[1], g.x[2], p0, p1, segs);
    T* col = thread_scratch<T>(static_cast<std::size_t>(Kc * len), 0);
    for (std::int64_t r = 0; r < Kc; ++r) y_columns(g, y, n, grp, places, r, segs, col + r * len);
    T* out = x + (n * g.Cx + grp * cxg) * X + p0;
    if (bias)
      for (std::int64_t ci = 0; ci < cxg; ++ci) std::fill(out + ci * X, out + ci * X + len, bias[grp * cxg + ci]);
    gemm_nn<T>(cxg, len, Kc, w + grp * cxg * Kc, Kc, col, len, bias ? T(1) : T(0), out, X);
  }
}

// The weight gradient, and optionally the gather (x = W * cols) from the same
// column chunks: each chunk of y columns is built once by all threads, then
// the threads split the products into fixed blocks (of x rows and of the
// gradient), so every element is summed in the same order for any thread count.
template <class T>
void conv_backward_gemm(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps(), X = g.x_spatial();
  const std::int64_t Kc = cyg * K;
  const std::int64_t nc = chunk_cols(budget(kWgColBytes, bytes_xw(g, sizeof(T)), 0.1), sizeof(T), Kc, X);
  std::fill(gw, gw + g.Cx * Kc, T(0));
  constexpr std::int64_t MB = kBlockRows, NB = kBlockCols;
  const std::int64_t mblocks = (cxg + MB - 1) / MB, nblocks = (Kc + NB - 1) / NB;
  const std::int64_t wtasks = mblocks * nblocks, tasks = wtasks + (gx ? mblocks : 0);
  T* col = thread_scratch<T>(static_cast<std::size_t>(Kc * std::min(nc, X)), 1);
  const std::vector<TapPlace> places = tap_places(g);
#pragma omp parallel if (g.worth_threads())
  {
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
      for (std::int64_t n = 0; n < g.N; ++n)
        for (std::int64_t p0 = 0; p0 < X; p0 += nc) {
          const std::int64_t p1 = std::min(X, p0 + nc), len = p1 - p0;
          std::vector<Segment>& segs = tls_segments;
          segments(g.x[1], g.x[2], p0, p1, segs);
#pragma omp for schedule(static)
          for (std::int64_t r = 0; r < Kc; ++r) y_columns(g, y, n, grp, places, r, segs, col + r * len);
#pragma omp for schedule(dynamic, 1)
          for (std::int64_t b = 0; b < tasks; ++b) {
            if (b < wtasks) {
              const std::int64_t m0 = (b / nblocks) * MB, k0 = (b % nblocks) * NB;
              const std::int64_t mr = std::min(MB, cxg - m0), kr = std::min(NB, Kc - k0);
              gemm_nt<T>(mr, kr, len, x + (n * g.Cx + grp * cxg + m0) * X + p0, X, col + k0 * len, len, T(1),
                         gw + (grp * cxg + m0) * Kc + k0, Kc);
            } else {
              const std::int64_t m0 = (b - wtasks) * MB, mr = std::min(MB, cxg - m0);
              gemm_nn<T>(mr, len, Kc, w + (grp * cxg + m0) * Kc, Kc, col, len, T(0),
                         gx + (n * g.Cx + grp * cxg + m0) * X + p0, X);
            }
          }
        }
  }
}

// The same two gradients from chunks of column rows (output channel, tap)
// over all positions of the batch, for weights larger than x: each chunk's
// share of the weight gradient is summed over the batch in one go and
// written once, and the input gradient, the smaller of the two, is what
// each chunk adds to (in chunk order). Chunking by positions instead would
// read and write the whole weight gradient once per chunk. The threads build
// each chunk together, then split the products into fixed blocks.
template <class T>
void conv_backward_rows(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps(), X = g.x_spatial();
  const std::int64_t Kc = cyg * K, NX = g.N * X;
  const std::int64_t R = chunk_cols(budget(kWgColBytes, bytes_xw(g, sizeof(T)), 0.1), sizeof(T), NX, Kc);
  constexpr std::int64_t MB = kBlockRows, NB = kBlockCols;
  const std::int64_t mblocks = (cxg + MB - 1) / MB;
  if (g.N == 0) return std::fill(gw, gw + g.Cx * Kc, T(0));  // no sample writes it
  T* col = thread_scratch<T>(static_cast<std::size_t>(R * NX), 1);  // [n][row][position]
  const std::vector<TapPlace> places = tap_places(g);
  std::vector<Segment> segs;
  segments(g.x[1], g.x[2], 0, X, segs);  // every position of a sample
#pragma omp parallel if (g.worth_threads())
  for (std::int64_t grp = 0; grp < g.groups; ++grp)
    for (std::int64_t r0 = 0; r0 < Kc; r0 += R) {
      const std::int64_t rr = std::min(R, Kc - r0), nblocks = (rr + NB - 1) / NB;
      const std::int64_t wtasks = mblocks * nblocks, tasks = wtasks + (gx ? mblocks * g.N : 0);
#pragma omp for schedule(static)
      for (std::int64_t j = 0; j < g.N * rr; ++j)
        y_columns(g, y, j / rr, grp, places, r0 + j % rr, segs, col + j * X);
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t b = 0; b < tasks; ++b) {
        if (b < wtasks) {
          const std::int64_t m0 = (b / nblocks) * MB, k0 = (b % nblocks) * NB;
          const std::int64_t mr = std::min(MB, cxg - m0), kr = std::min(NB, rr - k0);
          for (std::int64_t n = 0; n < g.N; ++n)
            gemm_nt<T>(mr, kr, X, x + (n * g.Cx + grp * cxg + m0) * X, X, col + (n * rr + k0) * X, X, n ? T(1) : T(0),
                       gw + (grp * cxg + m0) * Kc + r0 + k0, Kc);
        } else {
          const std::int64_t n = (b - wtasks) / mblocks, m0 = ((b - wtasks) % mblocks) * MB, mr = std::min(MB, cxg - m0);
          gemm_nn<T>(mr, X, rr, w + (grp * cxg + m0) * Kc + r0, Kc, col + n * rr * X, X, r0 ? T(1) : T(0),
                     gx + (n * g.Cx + grp * cxg + m0) * X, X);
        }
      }
    }
}

bool rows_fit(const ConvGeom& g) { return g.N * g.x_spatial() < g.cy_per_group() * g.taps(); }

namespace {
// The columns of each half's chunk: 5% of what the backward produces (x and
// w) per half, less where the second half's copy of the weight gradient and
// the two chunks would pass a tenth of it.
std::int64_t halves_cols(const ConvGeom& g, std::size_t elem) {
  const std::int64_t Kc = g.cy_per_group() * g.taps();
  const double xw = bytes_xw(g, elem), wbytes = static_cast<double>(g.Cx * Kc) * static_cast<double>(elem);
  const double share = std::min(0.05, (0.10 * xw - wbytes) / (2.0 * xw));
  return chunk_cols(budget(kColBytes, xw, share), elem, Kc, g.x_spatial());
}
}  // namespace

// The same two gradients with no barrier per chunk: the positions of every
// sample are cut into two fixed halves (whatever the thread count); each half
// runs on one thread with its own column buffer, writes its part of gx, and
// sums its weight gradient privately (the first half straight into gw, the
// second into a buffer); then gw += buffer. One extra weight-gradient copy.
template <class T>
void conv_backward_halves(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw) {
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group(), K = g.taps(), X = g.x_spatial();
  const std::int64_t Kc = cyg * K, NX = g.N * X, wsize = g.Cx * Kc;
  // A pointwise convolution's columns are y itself (leading dimension X):
  // the products read it in place, in runs as long as a sample's half.
  const bool in_place = pointwise(g);
  const std::int64_t nc = in_place ? X : halves_cols(g, sizeof(T));
  T* second = thread_scratch<T>(static_cast<std::size_t>(wsize), 1);
  std::fill(gw, gw + wsize, T(0));
  std::fill(second, second + wsize, T(0));
  const std::vector<TapPlace> places = tap_places(g);
#pragma omp parallel for schedule(static, 1) num_threads(std::min(2, omp_get_max_threads())) if (g.worth_threads())
  for (int half = 0; half < 2; ++half) {
    T* acc = half == 0 ? gw : second;
    const std::int64_t f0 = half * (NX / 2), f1 = half == 0 ? NX / 2 : NX;
    T* col = in_place ? nullptr : thread_scratch<T>(static_cast<std::size_t>(Kc * nc), 0);
    std::vector<Segment>& segs = tls_segments;
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
      for (std::int64_t f = f0; f < f1;) {
        const std::int64_t n = f / X, p0 = f % X, len = std::min({nc, X - p0, f1 - f});
        const T* cols = col;
        std::int64_t ld = len;
        if (in_place) {
          cols = y + (n * g.Cy + grp * cyg) * X + p0;
          ld = X;
        } else {
          segments(g.x[1], g.x[2], p0, p0 + len, segs);
          for (std::int64_t r = 0; r < Kc; ++r) y_columns(g, y, n, grp, places, r, segs, col + r * len);
        }
        const T* xs = x + (n * g.Cx + grp * cxg) * X + p0;
        gemm_nt<T>(cxg, Kc, len, xs, X, cols, ld, T(1), acc + grp * cxg * Kc, Kc);
        if (gx) gemm_nn<T>(cxg, len, Kc, w + grp * cxg * Kc, Kc, cols, ld, T(0), gx + (n * g.Cx + grp * cxg) * X + p0, X);
        f += len;
      }
  }
  for (std::int64_t i = 0; i < wsize; ++i) gw[i] += second[i];
}

bool pointwise(const ConvGeom& g) {
  for (int a = 0; a < 3; ++a)
    if (g.k[a] != 1 || g.s[a] != 1 || g.pad[a] != 0 || g.y[a] != g.x[a]) return false;
  return true;
}

// The copy of the weight gradient and the two chunks (counted for two
// threads, whatever the count: the choice must not depend on it; none for
// a pointwise convolution) within a tenth of what the backward produces.
bool halves_fit(const ConvGeom& g, std::size_t elem) {
  return halves_scratch(g, elem) <= 0.10 * bytes_xw(g, elem) && g.N * g.x_spatial() >= 2;
}

double halves_scratch(const ConvGeom& g, std::size_t elem) {
  const std::int64_t Kc = g.cy_per_group() * g.taps(), cols = pointwise(g) ? 0 : 2 * Kc * halves_cols(g, elem);
  return static_cast<double>(g.Cx * Kc + cols) * static_cast<double>(elem);
}

template <class T>
void conv_weight_grad_gemm(const ConvGeom& g, const T* x, const T* y, T* w) {
  conv_backward_gemm<T>(g, x, nullptr, y, nullptr, w);
}

#define LUCID_INSTANTIATE(T)                                                              \
  template void conv_scatter_taps<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_scatter_gemm<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather_gemm<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad_gemm<T>(const ConvGeom&, const T*, const T*, T*);              \
  template void conv_backward_gemm<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*);   \
  template void conv_backward_halves<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*);  \
  template void conv_backward_rows<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels
