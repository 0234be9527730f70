// Chooses the kernel behind each convolution entry point:
//   - one or two channel pairs per group (depthwise): the depthwise kernels
//     (conv_depthwise.cpp), in the widest instruction set the CPU has (or
//     LUCID_ISA says);
//   - gradients with few channels (use_direct_backward): the direct
//     backward, which copies the y elements each tap brings to x once for
//     all x channels; with at most 4 y channels otherwise, or pointwise on
//     small volumes (use_halves_first), the shared-column halves;
//   - few channels per group or a tiny problem: direct loops;
//   - rows long enough to fill register tiles (AVX2 and up): the blocked
//     kernels (conv_blocked.cpp, conv_blocked_grad.cpp), and for the
//     backward of k = s the one-pass backward where its scratch fits;
//   - shorter rows, channels in whole vectors (AVX2 and up): the channels
//     kernels (conv_channels_forward.cpp, conv_channels_grad.cpp);
//   - otherwise: stride phases and matrix products (conv_gemm.cpp), or for
//     large weights the taps products in register tiles (conv_blocked.cpp);
//   - sizes beyond the BLAS interface: the reference loops.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "conv.h"
#include "conv_blocked.h"
#include "conv_channels_plan.h"
#include "conv_depthwise.h"
#include "conv_direct.h"
#include "conv_gemm.h"
#include "conv_phases.h"

namespace lucid::kernels {
namespace {

enum class Isa { Base, Avx2, Avx512 };

Isa detect_isa() {
  Isa best = Isa::Base;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    best = Isa::Avx512;
  // LUCID_ISA=avx2|base caps the choice (to test the narrower paths).
  if (const char* want = std::getenv("LUCID_ISA")) {
    if (std::strcmp(want, "base") == 0) best = Isa::Base;
    if (std::strcmp(want, "avx2") == 0 && best == Isa::Avx512) best = Isa::Avx2;
  }
  return best;
}

Isa isa() {
  static const Isa chosen = detect_isa();
  return chosen;
}

bool use_depthwise(const ConvGeom& g) { return g.cx_per_group() * g.cy_per_group() <= 2; }

bool use_direct(const ConvGeom& g) { return g.cx_per_group() * g.cy_per_group() <= 8 || g.macs() < 262144.0; }

// The direct backward (no column matrix) for at most 64 channel pairs per
// group where the problem is too small for threads; with threads, for at
// most 27 taps and, in float32, at most 4 y channels per group, 8 pairs, or
// at most 4 x channels at stride 2 and up along rows (2 -> 16 at 32^3, 3^3
// taps: 9.4 ms against 12.4; 4 -> 16, 2^3 taps: 4.7 against 6.9; 3 -> 16 in
// two samples at 24^3: 10.6 against 15.3; at stride 1, 1 -> 16: 4.9
// against 3.8), in float64 one y channel (with more, the kernels that block over
// channels win: float64 8 -> 4 at 32^3, 2^3 taps at stride 2, 2.74 ms
// against 2.55; 16 -> 4 at 24^3, 3^3 at stride 1, 4.04 against 3.13; with
// 4^3 taps, 8 -> 1 in float32 3.28 against 3.02, in float64 6.9 against
// 5.2; and 16 -> 16 channels at 6^3 on one thread 0.20 against 0.17).
// One thread, build/bench/kernel_time ... bwd, minima, against the kernels
// it replaced: S1 (4 -> 2) 0.026 ms against 0.028-0.034 with the
// shared-column products, S2 (8 -> 4) 0.045-0.046 against 0.047-0.048;
// 16 -> 1 at 32^3 (2^3 taps, stride 2) float64 0.93 against 2.36; 32 -> 1
// (3^3, stride 1) float64 5.6-6.1 against 10.1-12.9; float32 8 -> 4 at
// 32^3 (2^3, stride 2) 1.25 against 1.87, 16 -> 2 (3^3, stride 2) 2.78
// against 6.08. Two threads, float32: 16 -> 1 0.28 against 0.80, 32 -> 1
// 1.36 against 4.23, 8 -> 2 (3^3, stride 2) 0.98 against 1.98. One
// gradient alone of S1: the input gradient 0.019 against 0.110, the weight
// gradient 0.016 against 0.127 (the per-tap loops); S2's input gradient
// alone is the loss, 0.046 against 0.038.
bool use_direct_backward(const ConvGeom& g, std::size_t elem) {
  if (isa() == Isa::Base) return false;
  const std::int64_t cyg = g.cy_per_group(), pairs = g.cx_per_group() * cyg;
  if (pairs > 64) return false;
  if (!g.worth_threads()) return true;
  if (g.taps() > 27) return false;
  if (elem != sizeof(float)) return cyg == 1;
  return cyg <= 4 || pairs <= 8 || (g.cx_per_group() <= 4 && g.s[2] >= 2);
}

// The direct forward (AVX2 and up: it adds its rows into y in masked vectors)
// for small problems with at least two x channels per group whose phase rows
// (y[2] / s[2]) are shorter than one 512-bit vector, where the blocked
// forward's tiles run part empty and its packed weights weigh on the output
// (S2's: half of it), or tiny ones (under 262144 multiply-adds) with at
// least four; with threads (which split samples and y channels), at least 8
// of those. One thread, build/bench/kernel_time ... fwd, minima, against the
// kernels it replaces: S1 float32 0.010-0.015 ms against 0.025-0.027,
// float64 0.018-0.021 against 0.030-0.039; S2 0.018-0.023 against
// 0.036-0.037, float64 0.028-0.030 against 0.048-0.050; 16 -> 16 at 4^3
// (4^3 taps, stride 2) 0.043-0.053 against 0.10-0.13; 64 -> 64 at 2^3
// 0.29-0.31 against 0.52-0.55; 16 -> 8 at 6^3 in two samples 0.16-0.20
// against 0.33-0.45 (two threads 0.09 against 0.21). Where it loses: one x
// channel (1 -> 16 at 8^3, 3^3 taps at stride 1: 0.095 against 0.041), rows
// that fill the tiles (4 -> 4 at 16^3, stride 1: 0.134 against 0.095), in
// float64 phase rows of 8 (8 -> 8 at 8^3, stride 2: 0.11 against 0.087),
// large problems (V2: 25-28 ms against 19-24), float64 at stride 1 along
// rows (16 -> 32 at 4^3, 3^3 taps: 0.099 against 0.070; 8 -> 8 at 6^3:
// 0.053 against 0.030), outputs so small that 9% of them holds less than
// one vector of x positions per block (8 -> 4 at 4^3, stride 1: 0.017
// against 0.009). Those figures are AVX-512's (Zen 4). With AVX2 (Zen 3,
// 256-bit chunks, masks as vectors), one thread: S1 0.020 against
// 0.033-0.048, S2 0.034 against 0.048 (float64 0.049-0.056 against
// 0.065-0.071), 16 -> 16 at 4^3 0.074 against 0.13 (float64 0.13 against
// 0.22), 64 -> 64 at 2^3 0.22 against 0.57 (float64 0.27 against 0.74-0.86),
// 16 -> 8 at 6^3 in two samples 0.14 against 0.21-0.31, 8 -> 8 at 8^3,
// stride 1, 0.085 against 0.123, 16 -> 16 at 6^3 0.11 against 0.18; two
// threads S2 0.023 against 0.047, 64 -> 64 at 2^3 0.10 against 0.30. It
// loses with 4 x channels and phase rows of 12 (4 -> 4 at 12^3, stride 2:
// 0.12-0.20 against 0.09-0.15), so with AVX2 rows longer than one 256-bit
// vector want 8 x channels; the other limits measured as with AVX-512.
bool use_direct_forward(const ConvGeom& g, std::size_t elem) {
  if (isa() == Isa::Base || g.macs() >= 4.0e6) return false;
  const std::int64_t cxg = g.cx_per_group();
  if (g.worth_threads() && g.N * g.Cy < 8) return false;
  if (elem == sizeof(double) && g.s[2] == 1) return false;
  // Its rows on one thread must hold one 512-bit vector's worth of x positions.
  if (direct_forward_budget(g, elem, false) < static_cast<double>(direct_forward_held(g) * 64)) return false;
  // With AVX2, phase rows beyond one 256-bit vector want at least 8 x channels.
  const std::int64_t phase_row = g.y[2] / g.s[2];
  const std::int64_t min_cx = isa() == Isa::Avx2 && phase_row >= static_cast<std::int64_t>(32 / elem) ? 8 : 2;
  const bool short_rows = phase_row < static_cast<std::int64_t>(64 / elem) && cxg >= min_cx;
  return short_rows || (g.macs() < 262144.0 && cxg >= 4);
}

// Multiply-adds of the phase products (each y position of a phase meets
// every tap of that phase, in x or in its zero border) over those that meet
// x. With a wide border (small inputs, little padding) the products mostly
// multiply zeros.
double phase_waste(const ConvGeom& g) {
  double work = 1, useful = 1;
  for (int a = 0; a < 3; ++a) {
    double wa = 0, ua = 0;
    for (const AxisPhase& p : axis_phases(g, a)) wa += static_cast<double>(p.Q) * static_cast<double>(p.k.size());
    for (std::int64_t k = 0; k < g.k[a]; ++k) {
      std::int64_t lo, hi;
      valid_inputs(g.x[a], g.y[a], g.s[a], g.pad[a], k * g.d[a], lo, hi);
      ua += static_cast<double>(hi - lo);
    }
    work *= wa;
    useful *= std::max(ua, 1.0);
  }
  return work / useful;
}

// The forward as per-phase products (conv_scatter_gemm) pays off when the
// phases do not overlap and the output channels fill a product (k = s, many
// channels), or when there is one phase (stride 1), and the products meet
// few zeros of the border; otherwise one product per block of output
// channels over all taps (conv_scatter_taps) does. Where the phase products
// reach (rows too short for the blocked and channels forwards), waste 1.3
// and up lost every shape measured, two threads, build/bench/kernel_time
// ... fwd, minima: 256 -> 128 channels at 8^3, 3^3 taps, padding 1 (waste
// 1.30) 7.5 ms against 5.3 with the taps products; 128 -> 128 at 6^3 (1.42)
// 2.0 against 1.4; 48 -> 48 at 7^3, 5^3 taps (1.76) 2.5 against 1.8; 256 ->
// 256 at 4^3 (1.73) 4.3 against 1.4; 512 -> 256 at 2^3, 4^3 taps, no
// padding (15.6) 44 against 2.4; two samples of 256 -> 64 at 3^3 (3^3
// taps, 4.6) 2.9 against 0.42. At waste 1 (256 -> 256 at 6^3, one tap)
// the two are level (0.30-0.31 ms against 0.31-0.32).
bool use_phases(const ConvGeom& g) {
  bool stride1 = true, k_eq_s = true;
  for (int a = 0; a < 3; ++a) {
    stride1 = stride1 && g.s[a] == 1;
    k_eq_s = k_eq_s && g.k[a] == g.s[a] && (g.k[a] == 1 || g.d[a] == 1);
  }
  return (stride1 || (k_eq_s && g.cy_per_group() >= 32)) && phase_waste(g) <= 1.15;
}

// The register-blocked direct forward (AVX2 and up) needs phase rows long
// enough to fill its 16-wide tiles. Tiny problems always take it.
bool use_blocked(const ConvGeom& g) {
  if (isa() == Isa::Base) return false;
  return g.macs() < 4.0e6 || g.y[2] / g.s[2] >= 12;
}

// The taps products in register tiles (conv_scatter_taps_blocked) beat the
// BLAS ones where the weights are large (4 MB and more: the product call
// repacks them, across the grain of their layout, for every sample) and
// serve at least 256 input positions over the batch.
bool use_taps_blocked(const ConvGeom& g, std::size_t elem) {
  if (isa() == Isa::Base) return false;
  const double wbytes = static_cast<double>(g.Cx * g.cy_per_group() * g.taps()) * static_cast<double>(elem);
  return wbytes >= 4.0 * (1 << 20) && g.N * g.x_spatial() >= 256;
}

// With at most 4 y channels per group over at most 8192 input positions in
// the batch, the taps products in register tiles fill their tiles with
// (channel, tap) rows where the blocked forward's tiles run mostly empty
// (two threads, kernel_time fwd, minima: 128 -> 4 channels at 12^3, 3^3
// taps, stride 1, 0.73 -> 0.29 ms, float64 0.94 -> 0.56; at stride 2 with
// dilation 2 0.77 -> 0.31; 128 -> 4 at 8^3, stride 2, 0.19 -> 0.085; 64 ->
// 2 at 16^3, 4^3 taps, 0.81 -> 0.39; 64 -> 4 at 12^3 in two samples 1.1-1.4 ->
// 0.72; 256 -> 3 at 10^3 0.49 -> 0.33; 32 -> 4 at 20^3 0.64 -> 0.52; 48
// -> 4 at 14^3, 5^3 taps, stride 3, dilation 3, 1.26 -> 1.07; level at 32
// -> 4 at 16^3). On larger inputs the blocked forward wins: 32 -> 4 at 24^3
// in two samples 1.73 against 1.79, 32 -> 1 at 32^3 2.0 against 3.3, 16 ->
// 1 at 48^3 2.0 against 2.2.
bool use_taps_blocked_few_y(const ConvGeom& g) {
  return isa() != Isa::Base && g.cy_per_group() <= 4 && g.N * g.x_spatial() <= 8192;
}

// The register-blocked gather reads rows of the x side: they must fill its
// tiles, and the weights (packed once per call) must not dwarf the result.
bool use_blocked_gather(const ConvGeom& g) {
  if (isa() == Isa::Base || use_direct(g)) return false;
  const double weights = static_cast<double>(g.Cx) * static_cast<double>(g.cy_per_group() * g.taps());
  return g.x[2] >= 12 && weights <= 0.5 * static_cast<double>(g.N * g.Cx * g.x_spatial());
}

// Column matrices copy each y element once per tap of its phase; with 8 or
// more, the blocked gather and weight gradient (no columns) beat the
// shared-column backward, which otherwise wins by building the columns once
// for both gradients. (In float64 too, since the weight gradient sums groups
// of rows per tile: F1's backward 5-8% faster on one thread, its extra
// memory 33% -> 14%.) With AVX-512 the blocked tiles run at twice the rate
// of 256-bit products (the BLAS's on a CPU it does not know) and win at any
// tap count: U1's backward 3.8 ms against 5.9, U2's 11.1 against 13.4, L1's
// 30 against 38, and a 3^3 stride-2 one (N 2, 64 -> 32 channels, 16^3) 5.9
// against 10.6. With AVX2 also where the shared-column halves would pass a
// tenth of the result (halves_fit: U1's, 22% before).
bool use_blocked_backward(const ConvGeom& g, std::size_t elem) {
  if (isa() == Isa::Avx512) return use_blocked_gather(g);
  return use_blocked_gather(g) && (g.taps() >= 8 * g.s[0] * g.s[1] * g.s[2] || !halves_fit(g, elem));
}

// True when along every axis some tap reaches every phase of y (k * d
// takes every residue mod s), so that no y position is skipped by all taps.
bool taps_reach_every_phase(const ConvGeom& g) {
  for (int a = 0; a < 3; ++a)
    for (const AxisPhase& p : axis_phases(g, a))
      if (p.k.empty()) return false;
  return true;
}

// The shared-column halves where they pass a tenth of the result but their
// scratch (a copy of the weight gradient and two chunks of at least 64
// columns: small inputs with many channels x taps) stays within 512 KiB:
// there the kernels that would otherwise serve ran slower by far. AMD EPYC
// Zen 3 (AVX2), two threads, kernel_time bwd, minima of two. With at most
// 4 y channels, against the blocked gather and weight gradient: 128 -> 4
// channels at 12^3, 3^3 taps, stride 2, dilation 2 (117 KiB) 1.68 -> 0.75
// ms; 48 -> 4 at 14^3, 5^3 taps, stride 3, padding 5, dilation 3 (344
// KiB) 3.75 -> 2.38; 128 -> 4 at 16^3, 5^3 taps at stride 2 (500 KiB)
// 13.7 -> 7.4; two samples of 128 -> 3 at 14^3 (375 KiB) 17.8 -> 7.6;
// float64 64 -> 1 at 12^3, 5^3 taps (188 KiB) 1.98 -> 0.84; 14 shapes of
// 16 -> 1 to 128 -> 4 channels in all, 1.26-2.37x faster (float64 128 ->
// 4 at 14^3, 4^3 taps, 512 KiB: 6.1 -> 4.9; at 750 KiB, 1.10x); against
// the one-pass and shared-column products where those served, 1.02-1.42x
// in 10 shapes. Against the column-row and shared-column products (where the
// others do not serve): 14 random shapes (8 to 128 channels a group, 1 to 8
// groups, inputs of 3^3 to 10^3), 1.06-2.02x faster in 13 (48 -> 64 at
// 10^3, 2^3 taps, stride 1, 1.69 -> 0.95 ms; 8 groups of 24 -> 8 at 8^3 in
// four samples, 3^3 taps at stride 3, 10.6 -> 5.9; 8 groups of 16 -> 64
// at 4^3, one tap, 0.43 -> 0.11), 0.90x in one (8 groups of 24 -> 16 at
// 6^3, 540 KiB).
bool halves_small(const ConvGeom& g, std::size_t elem) {
  return g.N * g.x_spatial() >= 2 && halves_scratch(g, elem) <= 512.0 * 1024;
}

// The halves within a tenth of the result, or small.
bool halves_serve(const ConvGeom& g, std::size_t elem) { return halves_fit(g, elem) || halves_small(g, elem); }

// Both gradients from the shared-column halves, before the kernels that
// would otherwise serve, where the halves fit and either of the first two
// holds, or where the third does.
// - At most 4 y channels per group (a decoder's last layer): the columns
//   (y channels x taps rows) are then few, in products over all positions.
//   Two threads, kernel_time bwd, minima, against the blocked gather with
//   the direct or blocked weight gradient: 64 -> 3 channels at 32^3, k = s
//   = 2, 3.5 -> 1.95 ms, float64 4.4 -> 3.5; 4^3 taps at stride 2: 32 -> 1
//   at 32^3 2.72 -> 2.34, float64 5.4 -> 3.8; 32 -> 1 at 48^3 10.0 -> 8.2;
//   64 -> 4 at 32^3 20 -> 13; 256 -> 1 at 16^3 3.6 -> 1.27; 16 -> 1 in two
//   samples 3.8 -> 2.4; level on 8 -> 4, 128 -> 4 at 12^3 with dilation 2,
//   48 -> 4 with 5^3 taps, 16 -> 1 with 3^3 taps at stride 1.
// - Pointwise (one tap, stride 1, no padding) on volumes of up to about
//   29^3: the halves read y in place as their columns. Against the blocked
//   or one-pass kernels: 8 -> 256 channels at 29^3 7.5 -> 2.9 ms, float64
//   8.9 -> 4.6; 96 -> 48 at 26^3 2.17 -> 1.63; 64 -> 32 at 24^3 0.85 ->
//   0.69; 64 -> 64 at 16^3 in two samples 0.93 -> 0.71; 256 -> 256 at 6^3
//   0.35 -> 0.33. On larger volumes the kernels that read y once win: 32 ->
//   64 at 48^3 5.9 -> 7.5, 8 -> 64 at 48^3 3.0 -> 3.5, 128 -> 128 at 32^3
//   10.3 -> 10.6, 16 -> 64 at 40^3 level.
// - At most 4 y channels where the halves do not fit but are small
//   (halves_small): there the blocked weight gradient pads the y channels
//   to whole vectors (4 of 8 with AVX2, of 16 with AVX-512).
bool use_halves_first(const ConvGeom& g, std::size_t elem) {
  return (g.cy_per_group() <= 4 && halves_serve(g, elem)) ||
         (pointwise(g) && g.x_spatial() <= 25000 && halves_fit(g, elem));
}

// Rows of x too short for the blocked gather (and many channels, in whole
// vectors): both gradients vectorised over channels (conv_channels_grad.cpp),
// which skip the multiply-adds that meet zeros at the edges. It copies
// whole rows of y channel-last, so it wants taps that read every y
// position: with one tap at stride 2 (7 of 8 y values never read), two
// threads, build/bench/kernel_time ... bwd, minima, 48 -> 96 channels at
// 11^3 in four samples took 3.6 ms against 1.1 for the shared-column
// products, at stride 3 6.7 against 1.9; 64 -> 64, stride 2, 2.6 against
// 0.80. And one group: it builds its tables of where each position's taps
// land once per chunk and group, and its chunks are cut to the budget of
// the whole result, so that with groups the tables outweigh the products
// (4^3 inputs, 4^3 taps at stride 2: 8 groups of 16 -> 16 channels in four
// samples 6.3 ms against 2.9 for the shared-column products, 4 groups of
// 32 -> 32 in two samples 2.2 against 1.9; 3^3 taps, 8 groups of 32 -> 32
// in two samples 2.2 against 1.6).
bool use_channels_backward(const ConvGeom& g, std::size_t elem) {
  if (isa() == Isa::Base || use_direct(g) || g.x[2] >= 12 || g.groups > 1 || !taps_reach_every_phase(g)) return false;
  const std::int64_t cxg = g.cx_per_group(), cyg = g.cy_per_group();
  // Its weight-gradient tiles hold up to four vectors of y channels; with
  // fewer than 64 y channels the shared-column products won or drew level
  // (two threads, kernel_time bwd, minima: 256 -> 16 channels at 6^3, 2^3
  // taps at stride 1, in two samples, 0.71 ms against 0.31; 128 -> 16 at
  // 10^3, 3^3 taps, 2.25 against 1.44; 256 -> 16 at 8^3 1.79 against 1.31;
  // 128 -> 32 at 10^3 3.15 against 2.85; 128 -> 32 at 4^3, 4^3 taps at
  // stride 2, in four samples, 1.97 against 1.92; with 64 level: 128 -> 64
  // at 10^3 5.26 against 5.15, at 6^3 and stride 2 in two samples 5.45
  // against 5.6).
  if (cxg % 8 != 0 || cyg % 8 != 0 || cxg < 16 || cyg < 64 || g.macs() < 1.0e7) return false;
  // Chunks within its budget (the plan exceeds it only where one row of x
  // does not fit) and large enough that the weights and their gradient,
  // read or added once per chunk, serve at least 32 positions each (a
  // 6^3 input cut into 18-position chunks took 15% longer than the
  // shared-column products); its tables hold 32-bit offsets.
  const double budget = channels_budget(g);
  const ChunkPlan pl(g, elem, budget);
  return static_cast<double>(pl.scratch(g, elem)) <= budget && pl.entries >= 32 && budget < 2.0e9;
}

// Output rows too short for the blocked forward, and output channels in
// whole vectors: the forward vectorised over channels
// (conv_channels_forward.cpp), which meets no inserted zero and no edge.
// Its packed weights (one tap's, at least) must fit its budget, and its
// tiles of outputs of one class must come out mostly full (a 2^3 input in
// one sample gives classes of one output: a sixth of each tile used, three
// times slower than the taps products).
bool use_channels_forward(const ConvGeom& g, std::size_t elem) {
  if (isa() == Isa::Base || use_direct(g)) return false;
  const std::int64_t cyg = g.cy_per_group();
  if (cyg % 8 != 0) return false;
  // one tap's packed weights: every input channel x a block of two vectors (16 floats, 8 doubles)
  const double per_tap = static_cast<double>(g.cx_per_group()) * static_cast<double>(64 / elem);
  if (per_tap > channels_forward_budget(g)) return false;
  return ForwardClasses(g).fill(g, channels_forward_rows(isa() == Isa::Avx512)) >= 0.75;
}

}  // namespace

const char* kernel_isa() {
  switch (isa()) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "base";
  }
}

#define LUCID_DIRECT(fn, ...)                                   \
  switch (isa()) {                                              \
    case Isa::Avx512: return avx512::fn<T>(__VA_ARGS__);        \
    case Isa::Avx2: return avx2::fn<T>(__VA_ARGS__);            \
    default: return base::fn<T>(__VA_ARGS__);                   \
  }

template <class T>
void conv_scatter(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  if (!gemm_supported(g)) return conv_scatter_reference(g, x, w, bias, y);
  if (use_depthwise(g)) { LUCID_DIRECT(conv_scatter_depthwise, g, x, w, bias, y) }
  if (use_direct_forward(g, sizeof(T))) { LUCID_DIRECT(conv_forward_direct, g, x, w, bias, y) }
  if (use_taps_blocked_few_y(g)) { LUCID_DIRECT(conv_scatter_taps_blocked, g, x, w, bias, y) }
  if (use_blocked(g)) { LUCID_DIRECT(conv_scatter_blocked, g, x, w, bias, y) }
  if (use_direct(g)) { LUCID_DIRECT(conv_scatter_direct, g, x, w, bias, y) }
  if (use_channels_forward(g, sizeof(T))) { LUCID_DIRECT(conv_scatter_channels, g, x, w, bias, y) }
  if (use_phases(g)) return conv_scatter_gemm(g, x, w, bias, y);
  if (use_taps_blocked(g, sizeof(T))) { LUCID_DIRECT(conv_scatter_taps_blocked, g, x, w, bias, y) }
  return conv_scatter_taps(g, x, w, bias, y);
}
template <class T>
void conv_gather(const ConvGeom& g, const T* y, const T* w, const T* bias, T* x) {
  if (!gemm_supported(g)) return conv_gather_reference(g, y, w, bias, x);
  if (use_depthwise(g)) { LUCID_DIRECT(conv_gather_depthwise, g, y, w, bias, x) }
  if (use_blocked_gather(g)) { LUCID_DIRECT(conv_gather_blocked, g, y, w, bias, x) }
  if (use_direct_backward(g, sizeof(T))) { LUCID_DIRECT(conv_backward_direct, g, nullptr, w, y, bias, x, nullptr) }
  if (!use_direct(g)) return conv_gather_gemm(g, y, w, bias, x);
  LUCID_DIRECT(conv_gather_direct, g, y, w, bias, x)
}
namespace {
// The weight gradient and (gb, or null) the bias gradient: the blocked
// weight gradient sums the latter from its copies of y rows where they
// hold every y value, which saves a pass over y (build/bench/kernel_time
// ARGS float32 bwd 10, two threads, alternating builds, minima of four or
// five: U2's backward 10.4 -> 9.4 ms, U1's 4.66 -> 4.24, V1's 29.7 ->
// 28.9, K1's 11.6 -> 11.4, V2's 14.3 -> 13.9, D1's level); the others
// leave it to channel_sum.
template <class T>
void weight_grad(const ConvGeom& g, const T* x, const T* y, T* w, T* gb) {
  const auto bias = [&] {
    if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
  };
  if (!gemm_supported(g)) return conv_weight_grad_reference(g, x, y, w), bias();
  if (use_depthwise(g)) return [&] { LUCID_DIRECT(conv_weight_grad_depthwise, g, x, y, w) }(), bias();
  // The blocked weight gradient pads the y channels to whole vectors: with
  // 4 or fewer the direct backward goes first (one thread, 16 -> 1 channel at
  // 32^3, 2^3 taps at stride 2: 3.10 -> 0.51 ms; 32 -> 1, 3^3 taps: 6.65 ->
  // 1.90; 8 -> 2: 2.17 -> 0.96; with 16, 2 -> 16, the blocked one wins: 4.41
  // against 6.66).
  // So it does at any tap count (use_direct_backward takes at most 27 with
  // threads) where the padding would pass the direct kernel's cost: in
  // float32 for up to 512 channel pairs with 1 or 2 y channels, or 3 or 4
  // with up to 8192 pairs x taps; in float64 for up to 64 pairs with 1 or
  // 2. Two threads, kernel_time bwd (the blocked gather beside it), minima,
  // 4^3 taps at stride 2 unless said: 32 -> 1 channel at 32^3 8.1 -> 2.6 ms
  // (float64 8.9 -> 5.3); 16 -> 1 in two samples 10.7 -> 3.4; 256 -> 1 at
  // 16^3 10.0 -> 3.6; 256 -> 2 11.0 -> 8.4; 128 -> 1 at 24^3 12.9 -> 6.3;
  // 32 -> 2 at 24^3 4.3 -> 1.9; 32 -> 4 5.0 -> 3.3; 32 -> 3 4.6 -> 2.6; 8
  // -> 4 at 32^3 5.3 -> 3.5; 2^3 taps, 64 -> 2 at 32^3 6.1 -> 2.4, 64 -> 3
  // 4.1 -> 3.5; 3^3 taps, 32 -> 4 at 24^3 in two samples 5.1 -> 3.4, 64 ->
  // 4 4.2 -> 3.5; 5^3 taps at stride 1, 64 -> 1 at 16^3 3.3 -> 1.6; at
  // stride 3, dilation 3, 48 -> 2 at 14^3 2.4 -> 2.0. Where it lost or
  // drew level: 512 -> 2 at 12^3, 2^3 taps, 1.42 -> 1.83; 48 -> 4 and 48 ->
  // 3 with 5^3 taps 2.85 -> 3.8 and 2.65 -> 2.89; 64 -> 4 at 32^3, 4^3
  // taps, 19.2 -> 19.5; float64 8 -> 4 at 32^3 5.1 -> 6.1 (16 -> 2 at 24^3
  // 3.0 -> 1.9). (Both gradients together now take the shared-column halves
  // first where they fit: use_halves_first.) Where neither serves, with at
  // most 4 y channels, the halves do where their scratch is small
  // (halves_small), as for both gradients: Zen 3, two threads,
  // kernel_time wgrad, minima of two, 128 -> 4 at 12^3 (3^3 taps, stride
  // 2, dilation 2) 1.08 -> 0.52 ms, 48 -> 4 at 14^3 (5^3 taps, stride 3)
  // 3.2 -> 2.4, two samples of 128 -> 3 at 14^3 (5^3 taps) 11.8 -> 7.1.
  const bool direct = use_direct_backward(g, sizeof(T));
  const std::int64_t cyg = g.cy_per_group(), pairs = g.cx_per_group() * cyg;
  const bool few_y = isa() != Isa::Base && (sizeof(T) == sizeof(float)
                                                ? pairs <= 512 && (cyg <= 2 || (cyg <= 4 && pairs * g.taps() <= 8192))
                                                : pairs <= 64 && cyg <= 2);
  const auto direct_wgrad = [&] { LUCID_DIRECT(conv_backward_direct, g, x, nullptr, y, nullptr, nullptr, w) };
  if ((direct && cyg <= 4) || few_y) return direct_wgrad(), bias();
  if (cyg <= 4 && halves_small(g, sizeof(T))) return conv_backward_halves<T>(g, x, nullptr, y, nullptr, w), bias();
  if (use_blocked_backward(g, sizeof(T))) { LUCID_DIRECT(conv_weight_bias_grad_blocked, g, x, y, w, gb) }
  if (direct) return direct_wgrad(), bias();
  if (!use_direct(g)) {
    // (small halves here too: two threads, kernel_time wgrad, 8 groups of 24
    // -> 8 at 8^3 in four samples, 3^3 taps at stride 3, 9.3 -> 7.3 ms; 8
    // groups of 16 -> 64 at 4^3, one tap, 0.29 -> 0.06; level or mixed on
    // four more shapes.)
    if (halves_serve(g, sizeof(T))) conv_backward_halves<T>(g, x, nullptr, y, nullptr, w);
    else if (rows_fit(g)) conv_backward_rows<T>(g, x, nullptr, y, nullptr, w);
    else conv_weight_grad_gemm(g, x, y, w);
    return bias();
  }
  [&] { LUCID_DIRECT(conv_weight_grad_direct, g, x, y, w) }();
  bias();
}
}  // namespace
template <class T>
void conv_weight_grad(const ConvGeom& g, const T* x, const T* y, T* w) {
  weight_grad<T>(g, x, y, w, nullptr);
}
namespace {
// The blocked gather free to keep its packed weights in `spare` (w's size).
template <class T>
void gather_blocked_reusing(const ConvGeom& g, const T* y, const T* w, T* x, T* spare) {
  LUCID_DIRECT(conv_gather_blocked_reusing, g, y, w, nullptr, x, spare)
}
// The one-pass backward (both gradients and the bias gradient from one copy
// of each y row: conv_backward_blocked_onepass), where it serves within a
// tenth of what the backward produces (the callers have checked
// use_blocked_gather, so never with the base ISA). It saves two reads of y,
// which count where there are few channels per y element: on the Zen 4,
// two threads, against the blocked gather, weight gradient and bias pass
// (`build/bench/kernel_time N Cx Cy I 2 2 0 0 1 1 float32 bwd 8`, k = s =
// 2, OPENBLAS_NUM_THREADS=1), L1 (32 -> 16 at 64^3) 28.6-28.8 ms against
// 35.6-36.4, 16 -> 16 at 48^3 (N 2) 14.8 against 21.0-21.6, 48 -> 16 at
// 48^3 16.5-16.7 against 19.1, 32 -> 32 at 40^3 13.7-14.0 against
// 17.5-17.6, 64 -> 16 at 40^3 13.2-13.5 against 14.4-14.5. With AVX2
// (forced on the Zen 4) against the shared-column halves that serve there:
// L1 33.4-33.6 against 41.2-41.6 (float64 68.5 against 83-92), 16 -> 16 at
// 48^3 (N 2) 18.2-19.7 against 27.7, 48 -> 16 at 48^3 19.6-20.1 against
// 23.0, 32 -> 32 at 40^3 16.8-17.1 against 22.0-23.7, 64 -> 16 at 40^3
// 15.8-15.9 against 16.1-16.3. It was kept to 1024 channel pairs, because
// on the Zen 4 U2 (64 -> 32 at 32^3) took 14.5 ms against 13.9-14.3 and
// 48 -> 48 at 32^3 18.6 against 17.3-17.5; U2 then ran an odd number of
// parts (5), which leaves one of two threads idle at the end. With even
// parts, on the Intel Xeon (minima of three or four, alternating builds):
// U2 8.07 against 9.10 (AVX2 12.5 against 12.9, float64 16.5 against
// 17.6), 48 -> 48 at 32^3 10.4 against 14.4 (AVX2 14.7 against 18.0), 64
// -> 64 at 24^3 8.00 against 8.16; so the tenth of the output is its only
// bound now.
template <class T>
bool backward_onepass(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb) {
  if (isa() == Isa::Avx512) return avx512::conv_backward_blocked_onepass<T>(g, x, w, y, gx, gw, gb, 0.10);
  return avx2::conv_backward_blocked_onepass<T>(g, x, w, y, gx, gw, gb, 0.10);
}
}  // namespace
template <class T>
void conv_transpose_backward(const ConvGeom& g, const T* x, const T* w, const T* y, T* gx, T* gw, T* gb) {
  // Depthwise: all three gradients in one pass over y. Few channels: the
  // direct backward for both gradients (one alone goes through conv_gather
  // or conv_weight_grad, which try the blocked kernels first where those
  // measured faster). Otherwise the channels backward for short rows of
  // many channels, the one-pass backward where each y element belongs to
  // one x position and tap (with the bias gradient), the shared
  // column chunks down to small problems (chunks
  // of positions, or of column rows where there are fewer positions than
  // rows), heavily overlapping taps (and, with AVX-512, every shape the
  // blocked gather serves) the blocked gather and weight gradient; but for
  // the depthwise and one-pass kernels, and the blocked weight gradient
  // where its copies of y rows hold every y value, the bias gradient is a
  // pass of its own.
  if (gemm_supported(g) && use_depthwise(g)) { LUCID_DIRECT(conv_backward_depthwise, g, x, w, y, gx, gw, gb) }
  if (gx && gw && gemm_supported(g) && use_direct_backward(g, sizeof(T))) {
    if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
    LUCID_DIRECT(conv_backward_direct, g, x, w, y, nullptr, gx, gw)
  }
  if (gx && gw && gemm_supported(g) && use_halves_first(g, sizeof(T))) {
    conv_backward_halves(g, x, w, y, gx, gw);
    if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
    return;
  }
  if (gx && gw && gemm_supported(g) && use_channels_backward(g, sizeof(T))) {
    if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
    LUCID_DIRECT(conv_backward_channels, g, x, w, y, gx, gw)
  }
  if (gx && gw && gemm_supported(g) && use_blocked_gather(g) && backward_onepass(g, x, w, y, gx, gw, gb)) return;
  if (gx && gw && gemm_supported(g) && !use_blocked_backward(g, sizeof(T))) {
    if (halves_serve(g, sizeof(T))) conv_backward_halves(g, x, w, y, gx, gw);
    else if (rows_fit(g)) conv_backward_rows(g, x, w, y, gx, gw);
    else conv_backward_gemm(g, x, w, y, gx, gw);
  } else if (gx && gw && gemm_supported(g) && use_blocked_gather(g)) {
    // The weight gradient, computed after, overwrites all of gw: until then
    // the gather (at stride 1 as the forward) keeps its packed weights there.
    // The bias gradient comes with the weight gradient.
    gather_blocked_reusing<T>(g, y, w, gx, gw);
    return weight_grad<T>(g, x, y, gw, gb);
  } else {
    if (gx) conv_gather<T>(g, y, w, nullptr, gx);
    if (gw) conv_weight_grad<T>(g, x, y, gw);
  }
  if (gb) channel_sum<T>(g.N, g.Cy, g.y_spatial(), y, gb);
}
#undef LUCID_DIRECT

#define LUCID_INSTANTIATE(T)                                                         \
  template void conv_scatter<T>(const ConvGeom&, const T*, const T*, const T*, T*); \
  template void conv_gather<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv_weight_grad<T>(const ConvGeom&, const T*, const T*, T*); \
  template void conv_transpose_backward<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels
