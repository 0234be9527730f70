// Every fast kernel (matrix-product, direct in each instruction set the CPU
// has, and the dispatched entry points) against the plain-loop references,
// on random geometries including odd sizes, k < s, k = s, padding larger
// than the kernel and groups.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <random>
#include <vector>

#include "kernels/conv.h"
#include "kernels/conv_blocked.h"
#include "kernels/conv_depthwise.h"
#include "kernels/conv_direct.h"
#include "kernels/conv_gemm.h"
#include "kernel_test_util.h"

using lucid::kernels::ConvGeom;
using lucid::kernels::testing::bias_grad_reference;
using lucid::kernels::testing::rand_vec;
using lucid::kernels::testing::rel_err;
using lucid::kernels::testing::sizes;

namespace {

// The spatial axes of g, the last nd of them (the others stay 1): inputs up
// to lim.x long (lim.last along the last axis), kernels up to 4, and
// strides, dilations and paddings up to their limits; y within `slack` of
// the full output (cropped or extended: output padding).
struct AxisLimits {
  int x, last, s, d, pad, slack;
};
void random_axes(std::mt19937& rng, ConvGeom& g, int nd, const AxisLimits& lim) {
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int a = 3 - nd; a < 3; ++a) {
    g.x[a] = r(1, a == 2 ? lim.last : lim.x);
    g.k[a] = r(1, 4);
    g.s[a] = r(1, lim.s);
    g.d[a] = r(1, lim.d);
    g.pad[a] = r(0, lim.pad);
    const std::int64_t full = (g.x[a] - 1) * g.s[a] + g.d[a] * (g.k[a] - 1) + 1;
    g.y[a] = std::max<std::int64_t>(1, full - g.pad[a] + r(-lim.slack, lim.slack));
  }
}

// max_len: the longest input along the last axis (the blocked forward's rows).
ConvGeom random_geom(std::mt19937& rng, int max_channels, int max_len = 7) {
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvGeom g;
  g.groups = r(1, 3);
  g.Cx = g.groups * r(1, max_channels);
  g.Cy = g.groups * r(1, max_channels);
  g.N = r(1, 3);
  random_axes(rng, g, r(1, 3), {7, max_len, 4, 3, 4, 3});
  return g;
}

// The blocked gradients' random problems: 1-2 samples, 1-2 groups of cx and
// cy channels each, x of xs[a] along axis a (each a range [lo, hi]); the
// caller sets the taps, strides, padding and y.
ConvGeom random_grouped(std::mt19937& rng, std::array<int, 2> cx, std::array<int, 2> cy,
                        const std::array<std::array<int, 2>, 3>& xs) {
  auto r = [&](std::array<int, 2> range) { return std::uniform_int_distribution<int>(range[0], range[1])(rng); };
  ConvGeom g;
  g.N = r({1, 2});
  g.groups = r({1, 2});
  g.Cx = g.groups * r(cx);
  g.Cy = g.groups * r(cy);
  for (int a = 0; a < 3; ++a) g.x[a] = r(xs[static_cast<std::size_t>(a)]);
  return g;
}

struct Impl {
  const char* name;
  void (*scatter)(const ConvGeom&, const float*, const float*, const float*, float*);
  void (*gather)(const ConvGeom&, const float*, const float*, const float*, float*);
  void (*wgrad)(const ConvGeom&, const float*, const float*, float*);
  void (*scatter64)(const ConvGeom&, const double*, const double*, const double*, double*);
  void (*gather64)(const ConvGeom&, const double*, const double*, const double*, double*);
  void (*wgrad64)(const ConvGeom&, const double*, const double*, double*);
};

#define LUCID_IMPL(label, sc, ga, wg) \
  Impl{label, &sc<float>, &ga<float>, &wg<float>, &sc<double>, &ga<double>, &wg<double>}

template <class T>
void check(const Impl& impl, std::uint32_t seed, int cases, int max_channels, int max_len = 7) {
  namespace k = lucid::kernels;
  std::mt19937 rng(seed);
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  for (int t = 0; t < cases; ++t) {
    const ConvGeom g = random_geom(rng, max_channels, max_len);
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
    auto by = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng), bx = rand_vec<T>(static_cast<std::size_t>(g.Cx), rng);
    const bool with_bias = t % 2 == 0;
    std::vector<T> a(ny, T(7)), b(ny), c(nx, T(7)), d(nx), e(nw, T(7)), f(nw);
    if constexpr (sizeof(T) == 4) {
      impl.scatter(g, x.data(), w.data(), with_bias ? by.data() : nullptr, a.data());
      impl.gather(g, y.data(), w.data(), with_bias ? bx.data() : nullptr, c.data());
      impl.wgrad(g, x.data(), y.data(), e.data());
    } else {
      impl.scatter64(g, x.data(), w.data(), with_bias ? by.data() : nullptr, a.data());
      impl.gather64(g, y.data(), w.data(), with_bias ? bx.data() : nullptr, c.data());
      impl.wgrad64(g, x.data(), y.data(), e.data());
    }
    k::conv_scatter_reference<T>(g, x.data(), w.data(), with_bias ? by.data() : nullptr, b.data());
    k::conv_gather_reference<T>(g, y.data(), w.data(), with_bias ? bx.data() : nullptr, d.data());
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), f.data());
    // The fused backward (both gradients from shared column chunks).
    std::vector<T> gx(nx, T(7)), gw(nw, T(7)), gx_ref(nx), gx2(nx, T(7)), gw2(nw, T(7));
    k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), gx.data(), gw.data());
    k::conv_backward_gemm<T>(g, x.data(), w.data(), y.data(), gx2.data(), gw2.data());
    std::vector<T> gx3(nx, T(7)), gw3(nw, T(7));
    k::conv_backward_halves<T>(g, x.data(), w.data(), y.data(), gx3.data(), gw3.data());
    std::vector<T> gx4(nx, T(7)), gw4(nw, T(7)), gw5(nw, T(7));
    k::conv_backward_rows<T>(g, x.data(), w.data(), y.data(), gx4.data(), gw4.data());
    k::conv_backward_rows<T>(g, x.data(), nullptr, y.data(), nullptr, gw5.data());
    k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, gx_ref.data());
    ASSERT_LE(rel_err(a, b), tol) << impl.name << " scatter case " << t;
    ASSERT_LE(rel_err(c, d), tol) << impl.name << " gather case " << t;
    ASSERT_LE(rel_err(e, f), tol) << impl.name << " weight_grad case " << t;
    ASSERT_LE(rel_err(gx, gx_ref), tol) << "conv_transpose_backward input grad case " << t;
    ASSERT_LE(rel_err(gw, f), tol) << "conv_transpose_backward weight grad case " << t;
    ASSERT_LE(rel_err(gx2, gx_ref), tol) << "conv_backward_gemm input grad case " << t;
    ASSERT_LE(rel_err(gw2, f), tol) << "conv_backward_gemm weight grad case " << t;
    ASSERT_LE(rel_err(gx3, gx_ref), tol) << "conv_backward_halves input grad case " << t;
    ASSERT_LE(rel_err(gw3, f), tol) << "conv_backward_halves weight grad case " << t;
    ASSERT_LE(rel_err(gx4, gx_ref), tol) << "conv_backward_rows input grad case " << t;
    ASSERT_LE(rel_err(gw4, f), tol) << "conv_backward_rows weight grad case " << t;
    ASSERT_LE(rel_err(gw5, f), tol) << "conv_backward_rows weight grad alone case " << t;
  }
}

bool cpu_has(const char* isa) {
  __builtin_cpu_init();
  if (std::string(isa) == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (std::string(isa) == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;
}

// f(i) for each instruction set the CPU has (0 base, 1 AVX2, 2 AVX-512), traced by name.
template <class F>
void each_isa(F&& f) {
  const char* isas[3] = {"base", "avx2", "avx512"};
  for (int i = 0; i < 3; ++i) {
    if (!cpu_has(isas[i])) continue;
    SCOPED_TRACE(isas[i]);
    f(i);
  }
}

namespace k = lucid::kernels;
const Impl kGemm = LUCID_IMPL("gemm", k::conv_scatter_gemm, k::conv_gather_gemm, k::conv_weight_grad_gemm);
const Impl kTaps = LUCID_IMPL("taps", k::conv_scatter_taps, k::conv_gather_gemm, k::conv_weight_grad_gemm);
const Impl kBlocked[3] = {
    LUCID_IMPL("blocked base", k::base::conv_scatter_blocked, k::base::conv_gather_blocked,
               k::base::conv_weight_grad_blocked),
    LUCID_IMPL("blocked avx2", k::avx2::conv_scatter_blocked, k::avx2::conv_gather_blocked,
               k::avx2::conv_weight_grad_blocked),
    LUCID_IMPL("blocked avx512", k::avx512::conv_scatter_blocked, k::avx512::conv_gather_blocked,
               k::avx512::conv_weight_grad_blocked)};
const Impl kTapsBlocked[3] = {
    LUCID_IMPL("taps blocked base", k::base::conv_scatter_taps_blocked, k::base::conv_gather_blocked,
               k::base::conv_weight_grad_blocked),
    LUCID_IMPL("taps blocked avx2", k::avx2::conv_scatter_taps_blocked, k::avx2::conv_gather_blocked,
               k::avx2::conv_weight_grad_blocked),
    LUCID_IMPL("taps blocked avx512", k::avx512::conv_scatter_taps_blocked, k::avx512::conv_gather_blocked,
               k::avx512::conv_weight_grad_blocked)};
const Impl kDepthwise[3] = {
    LUCID_IMPL("depthwise base", k::base::conv_scatter_depthwise, k::base::conv_gather_depthwise,
               k::base::conv_weight_grad_depthwise),
    LUCID_IMPL("depthwise avx2", k::avx2::conv_scatter_depthwise, k::avx2::conv_gather_depthwise,
               k::avx2::conv_weight_grad_depthwise),
    LUCID_IMPL("depthwise avx512", k::avx512::conv_scatter_depthwise, k::avx512::conv_gather_depthwise,
               k::avx512::conv_weight_grad_depthwise)};
const Impl kDispatch = LUCID_IMPL("dispatch", k::conv_scatter, k::conv_gather, k::conv_weight_grad);
const Impl kDirect[3] = {
    LUCID_IMPL("direct base", k::base::conv_scatter_direct, k::base::conv_gather_direct,
               k::base::conv_weight_grad_direct),
    LUCID_IMPL("direct avx2", k::avx2::conv_scatter_direct, k::avx2::conv_gather_direct,
               k::avx2::conv_weight_grad_direct),
    LUCID_IMPL("direct avx512", k::avx512::conv_scatter_direct, k::avx512::conv_gather_direct,
               k::avx512::conv_weight_grad_direct)};

}  // namespace

TEST(Kernels, GemmMatchesReference) {
  check<float>(kGemm, 1, 150, 6);
  check<double>(kGemm, 2, 150, 6);
  check<float>(kGemm, 3, 20, 24);  // more channels: longer products
  check<float>(kTaps, 4, 150, 6);
  check<double>(kTaps, 5, 150, 6);
  check<float>(kTaps, 6, 20, 24);
}

TEST(Kernels, DirectMatchesReferenceInEveryInstructionSet) {
  const char* isas[3] = {"base", "avx2", "avx512"};
  for (int i = 0; i < 3; ++i) {
    if (!cpu_has(isas[i])) {
      std::printf("skipping %s: not supported by this CPU\n", isas[i]);
      continue;
    }
    check<float>(kDirect[i], 10 + i, 120, 5);
    check<double>(kDirect[i], 20 + i, 120, 5);
    check<float>(kBlocked[i], 40 + i, 150, 9);
    check<double>(kBlocked[i], 50 + i, 150, 9);
    check<float>(kBlocked[i], 60 + i, 40, 14, 40);  // long rows: whole tiles, one-vector tails
    check<double>(kBlocked[i], 70 + i, 40, 14, 40);
    check<float>(kTapsBlocked[i], 130 + i, 150, 9);  // the forward by (channel, tap) rows
    check<double>(kTapsBlocked[i], 140 + i, 150, 9);
    check<float>(kTapsBlocked[i], 150 + i, 30, 14, 40);  // whole tiles and zero-padded last positions
    // (any channel count is correct; the dispatcher sends one or two pairs per group)
    check<float>(kDepthwise[i], 80 + i, 200, 2);
    check<double>(kDepthwise[i], 90 + i, 200, 2);
    check<float>(kDepthwise[i], 100 + i, 60, 3, 40);  // long rows: chunks of 1-4 vectors
    check<double>(kDepthwise[i], 110 + i, 60, 3, 40);
  }
}

// Sums of y's channels over samples and positions, one running sum in double.
std::vector<double> bias_grad_ref(const ConvGeom& g, const std::vector<double>& y) {
  std::vector<double> out(static_cast<std::size_t>(g.Cy));
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t c = 0; c < g.Cy; ++c)
      for (std::int64_t i = 0; i < g.y_spatial(); ++i) out[static_cast<std::size_t>(c)] += y[static_cast<std::size_t>((n * g.Cy + c) * g.y_spatial() + i)];
  return out;
}

// The depthwise backward computes the input, weight and bias gradients in
// one pass, or any of them alone; so does the dispatched backward.
TEST(Kernels, DepthwiseBackwardAllOrAny) {
  using Fn = void (*)(const ConvGeom&, const double*, const double*, const double*, double*, double*, double*);
  const Fn fns[4] = {&k::base::conv_backward_depthwise<double>, &k::avx2::conv_backward_depthwise<double>,
                     &k::avx512::conv_backward_depthwise<double>, &k::conv_transpose_backward<double>};
  const char* isas[4] = {"base", "avx2", "avx512", "dispatch"};
  for (int i = 0; i < 4; ++i) {
    if (!cpu_has(isas[i == 3 ? 0 : i])) continue;
    std::mt19937 rng(120 + i);
    for (int t = 0; t < 60; ++t) {
      const ConvGeom g = random_geom(rng, i == 3 ? 5 : 2, 30);
      const auto [nx, ny, nw] = sizes(g);
      const std::size_t nb = static_cast<std::size_t>(g.Cy);
      auto x = rand_vec<double>(nx, rng), y = rand_vec<double>(ny, rng), w = rand_vec<double>(nw, rng);
      std::vector<double> gx_ref(nx), gw_ref(nw);
      k::conv_gather_reference<double>(g, y.data(), w.data(), nullptr, gx_ref.data());
      k::conv_weight_grad_reference<double>(g, x.data(), y.data(), gw_ref.data());
      const std::vector<double> gb_ref = bias_grad_ref(g, y);
      std::vector<double> gx(nx, 7.0), gw(nw, 7.0), gb(nb, 7.0), gx1(nx, 7.0), gw1(nw, 7.0), gb1(nb, 7.0);
      fns[i](g, x.data(), w.data(), y.data(), gx.data(), gw.data(), gb.data());
      fns[i](g, x.data(), w.data(), y.data(), gx1.data(), nullptr, nullptr);
      fns[i](g, x.data(), w.data(), y.data(), nullptr, gw1.data(), nullptr);
      fns[i](g, x.data(), w.data(), y.data(), nullptr, nullptr, gb1.data());
      ASSERT_LE(rel_err(gx, gx_ref), 1e-13) << isas[i] << " all, input grad, case " << t;
      ASSERT_LE(rel_err(gw, gw_ref), 1e-13) << isas[i] << " all, weight grad, case " << t;
      ASSERT_LE(rel_err(gb, gb_ref), 1e-13) << isas[i] << " all, bias grad, case " << t;
      ASSERT_LE(rel_err(gx1, gx_ref), 1e-13) << isas[i] << " input grad alone, case " << t;
      ASSERT_LE(rel_err(gw1, gw_ref), 1e-13) << isas[i] << " weight grad alone, case " << t;
      ASSERT_LE(rel_err(gb1, gb_ref), 1e-13) << isas[i] << " bias grad alone, case " << t;
    }
  }
}

// The depthwise gradients hold whole y planes in a ring (band 0) or pack
// bands of rows (large planes, few of them): each way, and bands of 1, 2
// and 5 rows of x (the last one short, rows shared by two bands, taps
// reaching past y), gives the reference's gradients in each instruction set.
TEST(Kernels, DepthwiseBackwardPlanesOrBands) {
  using Fn = void (*)(const ConvGeom&, const double*, const double*, const double*, double*, double*, double*,
                      std::int64_t);
  const Fn fns[2] = {&k::avx2::conv_backward_depthwise_bands<double>, &k::avx512::conv_backward_depthwise_bands<double>};
  const char* isas[2] = {"avx2", "avx512"};
  for (int i = 0; i < 2; ++i) {
    if (!cpu_has(isas[i])) continue;
    std::mt19937 rng(140 + i);
    for (int t = 0; t < 40; ++t) {
      const ConvGeom g = random_geom(rng, 2, 30);
      const auto [nx, ny, nw] = sizes(g);
      auto x = rand_vec<double>(nx, rng), y = rand_vec<double>(ny, rng), w = rand_vec<double>(nw, rng);
      std::vector<double> gx_ref(nx), gw_ref(nw);
      k::conv_gather_reference<double>(g, y.data(), w.data(), nullptr, gx_ref.data());
      k::conv_weight_grad_reference<double>(g, x.data(), y.data(), gw_ref.data());
      const std::vector<double> gb_ref = bias_grad_ref(g, y);
      for (std::int64_t band : {0, 1, 2, 5}) {
        std::vector<double> gx(nx, 7.0), gw(nw, 7.0), gb(static_cast<std::size_t>(g.Cy), 7.0);
        fns[i](g, x.data(), w.data(), y.data(), gx.data(), gw.data(), gb.data(), band);
        ASSERT_LE(rel_err(gx, gx_ref), 1e-13) << isas[i] << " band " << band << ", case " << t;
        ASSERT_LE(rel_err(gw, gw_ref), 1e-13) << isas[i] << " band " << band << ", case " << t;
        ASSERT_LE(rel_err(gb, gb_ref), 1e-13) << isas[i] << " band " << band << ", case " << t;
      }
    }
  }
}

// The forward vectorised over channels (conv_channels_forward.cpp), called
// directly in each instruction set the CPU has (with AVX-512, in tiles of 9
// and of 12 outputs, the counts channels_forward_rows picks between) and
// through the dispatcher, with a bias: output channel counts in whole
// vectors (one- and two-vector blocks), short rows, every stride, dilation
// and padding (larger than the kernel too), k < s, cropped and extended
// outputs, groups, input channels in several chunks (each chunk's sums
// added to the earlier ones'), outputs in several ranges, and deep decoder
// shapes (many output channels, stride 2 and up) whose phases run in sets.
// Also bitwise the same with one thread and two.
TEST(Kernels, ChannelsForwardMatchesReference) {
  using Fn = void (*)(const ConvGeom&, const double*, const double*, const double*, double*, int);
  using Fn32 = void (*)(const ConvGeom&, const float*, const float*, const float*, float*, int);
  const Fn fns[4] = {&k::avx2::conv_scatter_channels<double>, &k::avx512::conv_scatter_channels<double>,
                     &k::avx512::conv_scatter_channels<double>,
                     [](const ConvGeom& g, const double* x, const double* w, const double* b, double* y, int) {
                       k::conv_scatter<double>(g, x, w, b, y);
                     }};
  const Fn32 fns32[4] = {&k::avx2::conv_scatter_channels<float>, &k::avx512::conv_scatter_channels<float>,
                         &k::avx512::conv_scatter_channels<float>,
                         [](const ConvGeom& g, const float* x, const float* w, const float* b, float* y, int) {
                           k::conv_scatter<float>(g, x, w, b, y);
                         }};
  const char* names[4] = {"avx2", "avx512", "avx512", "dispatch"};
  const int rows[4] = {0, 9, 12, 0};
  for (int i = 0; i < 4; ++i) {
    if (i < 3 && !cpu_has(names[i])) continue;
    std::mt19937 rng(170 + i);
    auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int split = 0;
    for (int t = 0; t < 75; ++t) {
      ConvGeom g;
      g.groups = r(1, 2);
      g.Cx = g.groups * r(1, 40);
      g.Cy = g.groups * 8 * r(1, 5);
      g.N = r(1, 3);
      random_axes(rng, g, r(1, 3), {5, 5, 3, 2, 4, 2});
      if (t >= 60) {  // the deep end of a decoder: many output channels, where phases run in sets
        g.groups = 1;
        g.Cx = r(1, 40);
        g.Cy = 8 * r(12, 16);
        random_axes(rng, g, 3, {4, 4, 3, 1, 2, 1});
        for (int a = 0; a < 3; ++a) g.s[a] = std::max<std::int64_t>(2, g.s[a]);
        for (int a = 0; a < 3; ++a) g.y[a] = (g.x[a] - 1) * g.s[a] + g.k[a] - g.pad[a] + r(0, 1);
        for (int a = 0; a < 3; ++a) g.y[a] = std::max<std::int64_t>(1, g.y[a]);
      }
      const auto [nx, ny, nw] = sizes(g);
      auto x = rand_vec<double>(nx, rng), w = rand_vec<double>(nw, rng);
      auto b = rand_vec<double>(static_cast<std::size_t>(g.Cy), rng);
      std::vector<double> y_ref(ny), y(ny, 7.0);
      k::conv_scatter_reference<double>(g, x.data(), w.data(), b.data(), y_ref.data());
      fns[i](g, x.data(), w.data(), b.data(), y.data(), rows[i]);
      ASSERT_LE(rel_err(y, y_ref), 1e-13) << names[i] << " rows " << rows[i] << " case " << t;
      std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end()), bf(b.begin(), b.end());
      std::vector<float> yf(ny, 7.0f), y1(ny, 5.0f);
      fns32[i](g, xf.data(), wf.data(), bf.data(), yf.data(), rows[i]);
      ASSERT_LE(rel_err(std::vector<double>(yf.begin(), yf.end()), y_ref), 2e-6) << names[i] << " float, case " << t;
      const int threads = omp_get_max_threads();
      omp_set_num_threads(1);
      fns32[i](g, xf.data(), wf.data(), bf.data(), y1.data(), rows[i]);
      omp_set_num_threads(threads);
      ASSERT_TRUE(y1 == yf) << names[i] << " one thread differs, case " << t;
      // Input channels per chunk: 16 KiB of float weights for every tap of
      // the largest phase (16 channels each), and at most half the budget
      // (4.5% of y); the largest phase has at least k/s taps per axis
      // (rounded up), so this overestimates the chunk.
      std::int64_t phase_taps = 1;
      for (int a = 0; a < 3; ++a) phase_taps *= (g.k[a] + g.s[a] - 1) / g.s[a];
      const double chunk = std::min(16384.0 / static_cast<double>(phase_taps * 64),
                                    0.045 * static_cast<double>(ny) / 2 / static_cast<double>(phase_taps * 16));
      split += static_cast<double>(g.cx_per_group()) > std::max(1.0, std::floor(chunk));
    }
    if (i < 3) EXPECT_GE(split, 10) << names[i] << ": too few cases with the input channels in chunks";
  }
}

// The backward vectorised over channels (conv_channels_grad.cpp), called
// directly in each instruction set the CPU has and through the dispatcher:
// channel counts in whole vectors (one- and two-vector blocks), short rows,
// every stride, dilation and padding, groups, and sizes whose copies do not
// fit in one chunk (so that chunks of samples, planes and rows all occur).
// Also bitwise the same with one thread and two.
TEST(Kernels, ChannelsBackwardMatchesReference) {
  using Fn = void (*)(const ConvGeom&, const double*, const double*, const double*, double*, double*);
  using Fn32 = void (*)(const ConvGeom&, const float*, const float*, const float*, float*, float*);
  const Fn fns[2] = {&k::avx2::conv_backward_channels<double>, &k::avx512::conv_backward_channels<double>};
  const Fn32 fns32[2] = {&k::avx2::conv_backward_channels<float>, &k::avx512::conv_backward_channels<float>};
  const char* isas[2] = {"avx2", "avx512"};
  for (int i = 0; i < 3; ++i) {
    if (i < 2 && !cpu_has(isas[i])) continue;
    std::mt19937 rng(160 + i);
    auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (int t = 0; t < 40; ++t) {
      ConvGeom g;
      g.groups = r(1, 2);
      g.Cx = g.groups * 8 * r(2, 7);
      g.Cy = g.groups * 8 * r(2, 6);
      g.N = r(1, 3);
      random_axes(rng, g, r(2, 3), {6, 6, 3, 2, 3, 2});
      const auto [nx, ny, nw] = sizes(g);
      auto x = rand_vec<double>(nx, rng), y = rand_vec<double>(ny, rng), w = rand_vec<double>(nw, rng);
      std::vector<double> gx_ref(nx), gw_ref(nw), gx(nx, 7.0), gw(nw, 7.0);
      k::conv_gather_reference<double>(g, y.data(), w.data(), nullptr, gx_ref.data());
      k::conv_weight_grad_reference<double>(g, x.data(), y.data(), gw_ref.data());
      const char* name = i < 2 ? isas[i] : "dispatch";
      if (i < 2) fns[i](g, x.data(), w.data(), y.data(), gx.data(), gw.data());
      else k::conv_transpose_backward<double>(g, x.data(), w.data(), y.data(), gx.data(), gw.data());
      ASSERT_LE(rel_err(gx, gx_ref), 1e-13) << name << " input grad, case " << t;
      ASSERT_LE(rel_err(gw, gw_ref), 1e-13) << name << " weight grad, case " << t;
      if (i == 2) continue;
      std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end()), wf(w.begin(), w.end());
      std::vector<float> gxf(nx, 7.0f), gwf(nw, 7.0f), gx1(nx), gw1(nw);
      fns32[i](g, xf.data(), wf.data(), yf.data(), gxf.data(), gwf.data());
      ASSERT_LE(rel_err(std::vector<double>(gxf.begin(), gxf.end()), gx_ref), 2e-6) << name << " float input grad, case " << t;
      ASSERT_LE(rel_err(std::vector<double>(gwf.begin(), gwf.end()), gw_ref), 2e-6) << name << " float weight grad, case " << t;
      const int threads = omp_get_max_threads();
      omp_set_num_threads(1);
      fns32[i](g, xf.data(), wf.data(), yf.data(), gx1.data(), gw1.data());
      omp_set_num_threads(threads);
      ASSERT_TRUE(gx1 == gxf && gw1 == gwf) << name << " one thread differs, case " << t;
    }
  }
}

// The blocked forward, gather and weight gradient on the given shapes (rows
// of `len` x positions), in every instruction set the CPU has, against the
// reference.
struct TileShape {
  std::int64_t cx, cy, len, k, s, d;
};
template <class T>
void check_tile_shapes(const std::vector<TileShape>& shapes, double tol) {
  std::mt19937 rng(90);
  for (const TileShape& sh : shapes) {
    ConvGeom g;
    g.N = 2;
    g.Cx = sh.cx;
    g.Cy = sh.cy;
    g.x[0] = 2;
    g.x[1] = 3;
    g.x[2] = sh.len;
    for (int a = 0; a < 3; ++a) {
      g.k[a] = sh.k;
      g.s[a] = sh.s;
      g.d[a] = sh.d;
      g.y[a] = (g.x[a] - 1) * sh.s + sh.d * (sh.k - 1) + 1;
    }
    auto x = rand_vec<T>(static_cast<std::size_t>(g.N * g.Cx * g.x_spatial()), rng);
    auto w = rand_vec<T>(static_cast<std::size_t>(g.Cx * g.Cy * g.taps()), rng);
    auto b = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng);
    auto y = rand_vec<T>(static_cast<std::size_t>(g.N * g.Cy * g.y_spatial()), rng);
    auto bx = rand_vec<T>(static_cast<std::size_t>(g.Cx), rng);
    std::vector<T> want(static_cast<std::size_t>(g.N * g.Cy * g.y_spatial())), want_x(x.size());
    k::conv_scatter_reference<T>(g, x.data(), w.data(), b.data(), want.data());
    k::conv_gather_reference<T>(g, y.data(), w.data(), bx.data(), want_x.data());
    std::vector<T> want_w(w.size());
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
    const char* isas[2] = {"avx2", "avx512"};
    for (int i = 0; i < 2; ++i) {
      if (!cpu_has(isas[i])) continue;
      std::vector<T> got(want.size(), T(7));
      (i == 0 ? k::avx2::conv_scatter_blocked<T> : k::avx512::conv_scatter_blocked<T>)(g, x.data(), w.data(), b.data(),
                                                                                     got.data());
      EXPECT_LE(rel_err(got, want), tol) << isas[i] << " Cy " << sh.cy << " row " << sh.len;
      std::vector<T> got_x(x.size(), T(7));
      (i == 0 ? k::avx2::conv_gather_blocked<T> : k::avx512::conv_gather_blocked<T>)(g, y.data(), w.data(), bx.data(),
                                                                                   got_x.data());
      EXPECT_LE(rel_err(got_x, want_x), tol) << isas[i] << " gather Cx " << sh.cx << " row " << sh.len;
      std::vector<T> got_w(w.size(), T(7));
      (i == 0 ? k::avx2::conv_weight_grad_blocked<T> : k::avx512::conv_weight_grad_blocked<T>)(g, x.data(), y.data(),
                                                                                             got_w.data());
      EXPECT_LE(rel_err(got_w, want_w), tol) << isas[i] << " weight grad Cx " << sh.cx << " Cy " << sh.cy;
    }
  }
}

// Rows whose length suits 4 x 3 tiles better than 6 x 2 (24, 48 positions,
// channel counts 6 does not divide), ones that suit 6 x 2, and (AVX-512)
// channel counts a multiple of 8 with rows that suit 8 x 2 (16, 32) or 8 x 3
// (24), and rows of 17 to 24 floats or 9 to 12 doubles, which take tiles of
// 8 x a pair and a half (tile_half): the forward (rows of y, Cy channels),
// the gather (rows of x, Cx channels) and the weight gradient (Cx channels
// by vectors of Cy).
TEST(Kernels, BlockedTileShapes) {
  check_tile_shapes<float>({{5, 10, 22, 3, 1, 1},  {3, 20, 44, 5, 1, 1},  {4, 32, 20, 3, 1, 2},
                            {6, 32, 30, 3, 1, 1},  {7, 14, 24, 2, 2, 1},  {13, 8, 48, 3, 1, 2},
                            {16, 16, 32, 3, 1, 1}, {24, 32, 24, 3, 1, 2}, {8, 40, 16, 2, 2, 1},
                            {32, 24, 22, 3, 1, 1}, {16, 20, 19, 3, 1, 1},
                            // weights past 128 KB and a twentieth of the output: the forward
                            // packs them per item (per block group) rather than once
                            {40, 48, 20, 3, 1, 1}, {48, 44, 26, 4, 2, 1}},
                           2e-6);
  check_tile_shapes<double>({{16, 16, 10, 3, 1, 1}, {24, 32, 12, 2, 2, 1}, {9, 12, 11, 3, 1, 1}, {8, 24, 16, 3, 1, 1}},
                            1e-12);
}

// The blocked gather and weight gradient, which the backward takes for rows
// of 12 and more with heavily overlapping taps: in each instruction set the
// CPU has, against the reference, the gather keeping its packed weights in
// spare memory (filled with NaN: none of it may reach the result), the
// weight gradient summing sets of tap pairs in halves of the rows (sets of
// one pair, and of whole k0 planes in the last case), bitwise the same on 1
// and 2 threads;
// and the dispatched backward, whose gather uses gw's memory that way (and
// whose weight gradient sums the bias gradient where it can).
TEST(Kernels, BlockedBackwardMatchesReference) {
  std::mt19937 rng(95);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const float nan = std::nanf("");
  const char* isas[2] = {"avx2", "avx512"};
  for (int t = 0; t < 26; ++t) {
    ConvGeom g;
    if (t < 24) {
      g = random_grouped(rng, {1, 40}, {1, 24}, {{{1, 3}, {1, 4}, {12, 20}}});
      for (int a = 0; a < 3; ++a) {
        g.k[a] = r(2, 4);
        g.s[a] = r(1, 2);
        g.d[a] = r(1, 2);
        g.pad[a] = r(0, 3);
      }
    } else if (t == 25) {
      // 2^3 taps at stride 2, channels in whole tiles of 6 and of 8: the
      // weight gradient reads x in place.
      g.N = 2;
      g.Cx = 24;
      g.Cy = 20;
      const std::int64_t xs[3] = {3, 4, 20};
      for (int a = 0; a < 3; ++a) {
        g.x[a] = xs[a];
        g.k[a] = 2;
        g.s[a] = 2;
      }
    } else {
      // Large x next to small weights: the weight gradient's tap sets hold
      // whole k0 planes (three pairs each, two sets).
      g.N = 3;
      g.Cx = 8;
      g.Cy = 16;
      const std::int64_t xs[3] = {4, 8, 64}, ks[3] = {2, 3, 3};
      for (int a = 0; a < 3; ++a) {
        g.x[a] = xs[a];
        g.k[a] = ks[a];
        g.pad[a] = 1;
      }
    }
    for (int a = 0; a < 3; ++a) {
      const std::int64_t full = (g.x[a] - 1) * g.s[a] + g.d[a] * (g.k[a] - 1) + 1;
      g.y[a] = std::max<std::int64_t>(1, full - g.pad[a] + (t < 24 ? r(-2, 2) : t == 25 ? 1 : 0));
    }
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
    std::vector<float> want_x(nx), want_w(nw);
    k::conv_gather_reference<float>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<float>(g, x.data(), y.data(), want_w.data());
    for (int i = 0; i < 2; ++i) {
      if (!cpu_has(isas[i])) continue;
      std::vector<float> gx(nx, 7.0f), spare(nw, nan), gw1(nw, nan), gw2(nw, nan);
      (i == 0 ? k::avx2::conv_gather_blocked_reusing<float> : k::avx512::conv_gather_blocked_reusing<float>)(
          g, y.data(), w.data(), nullptr, gx.data(), spare.data());
      EXPECT_LE(rel_err(gx, want_x), 2e-6) << isas[i] << " gather case " << t;
      auto wgrad = i == 0 ? k::avx2::conv_weight_grad_blocked<float> : k::avx512::conv_weight_grad_blocked<float>;
      const int threads = omp_get_max_threads();
      omp_set_num_threads(1);
      wgrad(g, x.data(), y.data(), gw1.data());
      omp_set_num_threads(std::max(2, threads));
      wgrad(g, x.data(), y.data(), gw2.data());
      omp_set_num_threads(threads);
      EXPECT_LE(rel_err(gw1, want_w), 2e-6) << isas[i] << " weight grad case " << t;
      EXPECT_EQ(std::memcmp(gw1.data(), gw2.data(), nw * sizeof(float)), 0) << isas[i] << " 1 vs 2 threads case " << t;
    }
    std::vector<float> gx(nx, 7.0f), gw(nw, nan), gb(static_cast<std::size_t>(g.Cy), nan);
    k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), gx.data(), gw.data(), gb.data());
    const std::vector<float> want_b = bias_grad_reference(g, y);
    EXPECT_LE(rel_err(gx, want_x), 2e-6) << "dispatched input grad case " << t;
    EXPECT_LE(rel_err(gw, want_w), 2e-6) << "dispatched weight grad case " << t;
    EXPECT_LE(rel_err(gb, want_b), 2e-6) << "dispatched bias grad case " << t;
  }
}

// Random taps (1 to 4), strides and dilations (1 or 2) and padding (0 to
// 3; with `within`, no more than the taps span) along every axis, and for
// every fourth case t taps along axis 1 that make rows run two apart
// (k 3, s 1, d 2).
template <class Rand>
void random_taps(ConvGeom& g, Rand&& r, int t, bool within) {
  for (int a = 0; a < 3; ++a) {
    g.k[a] = r(1, 4);
    g.s[a] = r(1, 2);
    g.d[a] = r(1, 2);
    g.pad[a] = r(0, within ? std::min<int>(3, static_cast<int>(g.d[a] * (g.k[a] - 1))) : 3);
  }
  if (t % 4 == 0) g.k[1] = 3, g.s[1] = 1, g.d[1] = 2;
}

// Runs fn(out) on one thread and then on two, each into its own buffer
// (filled with 7s first): the first must lie within tol of want, the
// second be bitwise the same as the first.
template <class T, class Fn>
void check_one_and_two_threads(const std::vector<T>& want, Fn&& fn, double tol, int t) {
  std::vector<T> a(want.size(), T(7)), b(want.size(), T(7));
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  fn(a.data());
  omp_set_num_threads(std::max(2, threads));
  fn(b.data());
  omp_set_num_threads(threads);
  ASSERT_LE(rel_err(a, want), tol) << "case " << t;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)), 0) << "1 vs 2 threads, case " << t;
}

// The blocked weight gradient with the bias gradient, in each instruction
// set from AVX2 up: random channels, groups, taps, strides, dilation and
// padding, rows of 12 to 20, y cut short or long (rows and positions no
// tap meets: the bias gradient then takes a pass of its own), every third
// case k = s with y whole (each y value copied once) and the next with
// rows partitioned but longer than the taps reach, float32 and
// float64: both gradients against the reference, each bitwise the same on
// 1 and 2 threads.
template <class T>
void check_weight_bias_grad(std::uint32_t seed) {
  using Fn = void (*)(const ConvGeom&, const T*, const T*, T*, T*);
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 18; ++t) {
    ConvGeom g = random_grouped(rng, {1, 40}, {1, 40}, {{{1, 4}, {1, 5}, {12, 20}}});
    random_taps(g, r, t, false);
    // every third case y whole and partitioned; the next, its rows so too
    // but each row 3 positions longer than the taps reach
    const bool whole = t % 3 == 0, rows_whole = t % 3 == 1;
    for (int a = 0; a < 3; ++a) {
      if (whole || (rows_whole && a < 2)) g.k[a] = g.s[a], g.d[a] = 1, g.pad[a] = 0;
      const std::int64_t full = (g.x[a] - 1) * g.s[a] + g.d[a] * (g.k[a] - 1) + 1;
      g.y[a] = whole || (rows_whole && a < 2) ? full
               : rows_whole                    ? full - g.pad[a] + 3
                                               : std::max<std::int64_t>(1, full - 2 * g.pad[a] + r(-2, 2));
    }
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng);
    std::vector<T> want_w(nw);
    const std::vector<T> want_b = bias_grad_reference(g, y);
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
    const Fn fns[2] = {&k::avx2::conv_weight_bias_grad_blocked<T>, &k::avx512::conv_weight_bias_grad_blocked<T>};
    const char* isas[2] = {"avx2", "avx512"};
    for (int i = 0; i < 2; ++i) {
      if (!cpu_has(isas[i])) continue;
      SCOPED_TRACE(isas[i]);
      std::vector<T> gw(nw), gb(static_cast<std::size_t>(g.Cy), T(7));
      check_one_and_two_threads<T>(want_w, [&](T* w) { fns[i](g, x.data(), y.data(), w, gb.data()); }, tol, t);
      check_one_and_two_threads<T>(want_b, [&](T* b) { fns[i](g, x.data(), y.data(), gw.data(), b); }, tol, t);
    }
  }
}

TEST(Kernels, BlockedWeightBiasGradMatchesReference) {
  check_weight_bias_grad<float>(321);
  check_weight_bias_grad<double>(322);
}

// Pointwise convolutions (one tap, stride 1, no padding): the shared-column
// halves read y in place as their columns (leading dimension X, runs as
// long as a sample's half). Random channels, groups, samples and sizes
// (rows of 1 to 13), float32 and float64: both gradients against the
// reference, each bitwise the same on 1 and 2 threads; and the dispatched
// backward on a shape it sends there (8 -> 256 channels at 29^3).
template <class T>
void check_pointwise_halves(std::uint32_t seed) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 24; ++t) {
    ConvGeom g = random_grouped(rng, {1, 40}, {1, 40}, {{{1, 6}, {1, 7}, {1, 13}}});
    g.N = r(1, 3);
    for (int a = 0; a < 3; ++a) g.k[a] = g.s[a] = g.d[a] = 1, g.pad[a] = 0, g.y[a] = g.x[a];
    ASSERT_TRUE(k::pointwise(g));
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
    std::vector<T> want_x(nx), want_w(nw), gx(nx), gw(nw);
    k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
    check_one_and_two_threads<T>(want_x, [&](T* out) { k::conv_backward_halves<T>(g, x.data(), w.data(), y.data(), out, gw.data()); }, tol, t);
    check_one_and_two_threads<T>(want_w, [&](T* out) { k::conv_backward_halves<T>(g, x.data(), w.data(), y.data(), gx.data(), out); }, tol, t);
    check_one_and_two_threads<T>(want_w, [&](T* out) { k::conv_backward_halves<T>(g, x.data(), w.data(), y.data(), nullptr, out); }, tol, t);
  }
}

TEST(Kernels, PointwiseHalvesMatchReference) {
  check_pointwise_halves<float>(331);
  check_pointwise_halves<double>(332);
  ConvGeom g;
  g.Cx = 8;
  g.Cy = 256;
  for (int a = 0; a < 3; ++a) g.x[a] = g.y[a] = 29;
  ASSERT_TRUE(k::pointwise(g) && k::halves_fit(g, sizeof(float)));
  const auto [nx, ny, nw] = sizes(g);
  std::mt19937 rng(333);
  auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
  std::vector<float> want_x(nx), want_w(nw), gw(nw), gb(256);
  k::conv_gather_reference<float>(g, y.data(), w.data(), nullptr, want_x.data());
  k::conv_weight_grad_reference<float>(g, x.data(), y.data(), want_w.data());
  check_one_and_two_threads<float>(want_x, [&](float* out) { k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), out, gw.data(), gb.data()); }, 2e-6, 0);
  EXPECT_LE(rel_err(gw, want_w), 2e-6);
  EXPECT_LE(rel_err(gb, bias_grad_reference(g, y)), 2e-6);
}

// The blocked gather with AVX-512 on rows of x one pair wide (9 to 16
// floats, 5 to 8 doubles) and enough channels for 16 x one pair: it runs
// two rows at a time where the next row lies in the same plane (the other
// row reading zeros for a tap only one meets), a row alone elsewhere.
// Random channels, groups, bias, taps, strides, dilation (rows run `step`
// apart when d1 = 2 and s1 = 1) and padding (taps that meet no y row at the
// planes' edges), odd and even plane heights, y cut short or long, float32
// and float64: against the reference, and bitwise the same on 1 and 2
// threads (whose chunks of rows split the pairs differently).
template <class T>
void check_gather_two_rows(std::uint32_t seed) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  const int W = sizeof(T) == 4 ? 8 : 4;  // a vector; rows of W + 1 to 2 W values are one pair
  std::mt19937 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 24; ++t) {
    ConvGeom g = random_grouped(rng, {16, 72}, {1, 40}, {{{1, 4}, {1, 7}, {W + 1, 2 * W}}});
    random_taps(g, r, t, false);
    for (int a = 0; a < 3; ++a) {
      const std::int64_t full = (g.x[a] - 1) * g.s[a] + g.d[a] * (g.k[a] - 1) + 1;
      g.y[a] = std::max<std::int64_t>(1, full - g.pad[a] + r(-2, 2));
    }
    const auto [nx, ny, nw] = sizes(g);
    auto y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng), b = rand_vec<T>(static_cast<std::size_t>(g.Cx), rng);
    const T* bias = t % 2 ? b.data() : nullptr;
    std::vector<T> want(nx);
    k::conv_gather_reference<T>(g, y.data(), w.data(), bias, want.data());
    check_one_and_two_threads<T>(want, [&](T* x) { k::avx512::conv_gather_blocked<T>(g, y.data(), w.data(), bias, x); }, tol, t);
  }
}

TEST(Kernels, BlockedGatherTwoRowsMatchesReference) {
  if (!cpu_has("avx512")) GTEST_SKIP() << "two rows at a time with AVX-512 only";
  check_gather_two_rows<float>(301);
  check_gather_two_rows<double>(302);
}

// The blocked forward with AVX-512 on phase rows one pair wide (9 to 16
// floats, 5 to 8 doubles along the last axis) and enough channels for 16 x
// one pair, or a pair and a half wide (17 to 24 floats, 9 to 12 doubles:
// tile_two_rows with Half): it runs two rows of a plane at a time (the other
// row reading zeros for a tap only one meets; a phase of one vector or
// less, and a row alone at a plane's end or a residue's, as one row) where
// its scratch allows. Random channels (mostly whole
// tiles of 16), groups, bias, taps, strides, dilation (rows run `step`
// apart when d1 = 2 and s1 = 1), padding and output lengths (phases of
// unequal widths, taps that meet no input row at the planes' edges), odd
// and even plane heights, float32 and float64: against the reference, and
// bitwise the same on 1 and 2 threads (whose chunks of rows split the
// pairs differently).
template <class T>
void check_forward_two_rows(std::uint32_t seed) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  const int W = sizeof(T) == 4 ? 8 : 4;  // a vector; phase rows of W + 1 to 2 W values are one pair
  std::mt19937 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 24; ++t) {
    ConvGeom g = random_grouped(rng, {1, 40}, {16, 72}, {{{1, 4}, {1, 7}, {2, 3 * W + 2}}});
    if (t % 3) g.Cy = g.groups * 16 * r(1, 4);
    random_taps(g, r, t, true);
    if (t % 4 == 0) g.x[1] = r(8, 12);  // rows `step` apart: residues long enough to meet whole
    for (int a = 0; a < 2; ++a) {
      const std::int64_t full = (g.x[a] - 1) * g.s[a] + g.d[a] * (g.k[a] - 1) + 1;
      g.y[a] = std::max<std::int64_t>(1, full - 2 * g.pad[a] + r(0, 1));
    }
    g.y[2] = g.s[2] * r(W, 3 * W) + (g.s[2] == 2 ? r(-1, 0) : 0);  // phases of W to 3 W
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), w = rand_vec<T>(nw, rng), b = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng);
    const T* bias = t % 2 ? b.data() : nullptr;
    std::vector<T> want(ny);
    k::conv_scatter_reference<T>(g, x.data(), w.data(), bias, want.data());
    check_one_and_two_threads<T>(want, [&](T* y) { k::avx512::conv_scatter_blocked<T>(g, x.data(), w.data(), bias, y); }, tol, t);
  }
}

// Two rows at a time `step` apart (dilation 2 along axis 1 at stride 1:
// rows run in two residues, and only rows `step` apart pair, the slots
// sized for them), odd plane heights, outputs large enough that two rows
// at a time fit the scratch budget: against the reference and bitwise the
// same on 1 and 2 threads.
TEST(Kernels, BlockedForwardTwoRowsStepApart) {
  if (!cpu_has("avx512")) GTEST_SKIP() << "two rows at a time with AVX-512 only";
  std::mt19937 rng(314);
  for (int t = 0; t < 2; ++t) {
    ConvGeom g;
    g.N = 2;
    g.Cx = 4;
    g.Cy = 16;
    const std::int64_t xs[3] = {8, t == 0 ? 15 : 13, t == 0 ? 12 : 20}, ks[3] = {1, 4, 3}, ds[3] = {1, 2, 1}, ps[3] = {0, 3, 1};
    for (int a = 0; a < 3; ++a) {
      g.x[a] = xs[a], g.k[a] = ks[a], g.d[a] = ds[a], g.pad[a] = ps[a];
      g.y[a] = (g.x[a] - 1) + g.d[a] * (g.k[a] - 1) + 1 - 2 * g.pad[a];
    }
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<float>(nx, rng), w = rand_vec<float>(nw, rng);
    std::vector<float> want(ny);
    k::conv_scatter_reference<float>(g, x.data(), w.data(), nullptr, want.data());
    check_one_and_two_threads<float>(
        want, [&](float* y) { k::avx512::conv_scatter_blocked<float>(g, x.data(), w.data(), nullptr, y); }, 2e-6, t);
  }
}

TEST(Kernels, BlockedForwardTwoRowsMatchesReference) {
  if (!cpu_has("avx512")) GTEST_SKIP() << "two rows at a time with AVX-512 only";
  check_forward_two_rows<float>(311);
  check_forward_two_rows<double>(312);
}

// The blocked forward with AVX-512 in blocks of 14 output channels and then
// 8 (78 = 14 x 5 + 8), its weights past 128 KB and a twentieth of the
// output, so packed per item, two blocks a block group (one group mixing
// widths): rows of 16 (two rows at a time) and of 32 (8 x two pairs
// widened), with bias; and the gather the other way round (78 x channels,
// rows of 16 and 30, stride 2), its packed weights in spare memory (NaN: none may
// reach the result): against the reference, and bitwise the same on 1 and
// 2 threads.
TEST(Kernels, BlockedWideBlocksMatchReference) {
  if (!cpu_has("avx512")) GTEST_SKIP() << "blocks of 14 channels with AVX-512 only";
  std::mt19937 rng(313);
  const std::int64_t shapes[2][3] = {{22, 22, 14}, {10, 22, 30}};
  for (int t = 0; t < 2; ++t) {
    ConvGeom g;
    g.N = 1;
    g.Cx = 20;
    g.Cy = 78;
    for (int a = 0; a < 3; ++a) {
      g.x[a] = shapes[t][a];
      g.k[a] = 3;
      g.y[a] = g.x[a] + 2;
    }
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<float>(nx, rng), w = rand_vec<float>(nw, rng), b = rand_vec<float>(static_cast<std::size_t>(g.Cy), rng);
    std::vector<float> want(ny);
    k::conv_scatter_reference<float>(g, x.data(), w.data(), b.data(), want.data());
    check_one_and_two_threads<float>(
        want, [&](float* y) { k::avx512::conv_scatter_blocked<float>(g, x.data(), w.data(), b.data(), y); }, 2e-6, t);
    std::swap(g.Cx, g.Cy);
    g.x[2] = t == 0 ? 16 : 30;
    for (int a = 0; a < 3; ++a) {  // stride 2 (at stride 1 the gather runs as the forward)
      g.s[a] = 2;
      g.y[a] = 2 * g.x[a] + 1;
    }
    const auto [mx, my, mw] = sizes(g);
    auto yg = rand_vec<float>(my, rng), wg = rand_vec<float>(mw, rng), bx = rand_vec<float>(static_cast<std::size_t>(g.Cx), rng);
    std::vector<float> want_x(mx);
    k::conv_gather_reference<float>(g, yg.data(), wg.data(), bx.data(), want_x.data());
    check_one_and_two_threads<float>(
        want_x,
        [&](float* xo) {
          std::vector<float> spare(mw, std::nanf(""));
          k::avx512::conv_gather_blocked_reusing<float>(g, yg.data(), wg.data(), bx.data(), xo, spare.data());
        },
        2e-6, t);
  }
}

// AVX2's blocks of 6 channels then 4 (with_tail_blocks): channel counts 6
// does not divide (7 and 8 take blocks of 4 alone; 16, 20, 32, 44 blocks
// of 6 then 4), at stride 1 and 2, with groups and bias, float32 and
// float64: the forward and the weight gradient with the bias gradient
// against the reference, bitwise the same on 1 and 2 threads.
template <class T>
void check_tail_blocks(std::uint32_t seed) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  const std::int64_t channels[] = {7, 8, 16, 20, 32, 44};
  for (int t = 0; t < 6; ++t) {
    ConvGeom g;
    g.groups = t % 3 == 2 ? 2 : 1;
    g.N = 1 + t % 2;
    g.Cx = channels[t] * g.groups;
    g.Cy = channels[5 - t] * g.groups;
    for (int a = 0; a < 3; ++a) {
      g.x[a] = a == 2 ? 13 + 3 * t : 3 + t % 2;
      g.k[a] = 3;
      g.s[a] = 1 + t % 2;
      g.y[a] = (g.x[a] - 1) * g.s[a] + g.k[a];
    }
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), w = rand_vec<T>(nw, rng), y = rand_vec<T>(ny, rng);
    auto b = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng);
    std::vector<T> want(ny), want_w(nw);
    k::conv_scatter_reference<T>(g, x.data(), w.data(), b.data(), want.data());
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
    const std::vector<T> want_b = bias_grad_reference(g, y);
    check_one_and_two_threads<T>(
        want, [&](T* out) { k::avx2::conv_scatter_blocked<T>(g, x.data(), w.data(), b.data(), out); }, tol, t);
    std::vector<T> gw(nw), gb(static_cast<std::size_t>(g.Cy));
    check_one_and_two_threads<T>(
        want_w, [&](T* out) { k::avx2::conv_weight_bias_grad_blocked<T>(g, x.data(), y.data(), out, gb.data()); }, tol,
        t);
    check_one_and_two_threads<T>(
        want_b, [&](T* out) { k::avx2::conv_weight_bias_grad_blocked<T>(g, x.data(), y.data(), gw.data(), out); }, tol,
        t);
  }
}

TEST(Kernels, BlockedTailBlocksMatchReference) {
  if (!cpu_has("avx2")) GTEST_SKIP() << "blocks of 6 then 4 channels with AVX2";
  check_tail_blocks<float>(331);
  check_tail_blocks<double>(332);
}

// The gather at stride 1 as the blocked forward (taps reversed, channels'
// roles exchanged, padding d (k - 1) - p), called directly in each
// instruction set from AVX2 up: random channels (tiles of 1 to 16 and
// padded ones), groups, bias, taps, dilation, padding within the taps'
// span, rows of 12 to 40 and x cut short or long, float32 and float64,
// its packed weights in scratch or (every third case) in spare memory of
// w's size: against the reference, and bitwise the same on 1 and 2
// threads. It declines (false, x untouched) at stride 2 and with padding
// beyond the taps' span.
template <class T>
void check_gather_as_forward(int isa, std::uint32_t seed) {
  using Fn = bool (*)(const ConvGeom&, const T*, const T*, const T*, T*, T*);
  const Fn fn = isa == 2 ? &k::avx512::conv_gather_as_forward<T> : &k::avx2::conv_gather_as_forward<T>;
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 24; ++t) {
    ConvGeom g = random_grouped(rng, {1, 40}, {1, 40}, {{{1, 4}, {1, 6}, {12, 40}}});
    for (int a = 0; a < 3; ++a) {
      g.k[a] = r(1, 4);
      g.d[a] = r(1, 2);
      g.pad[a] = r(0, static_cast<int>(g.d[a] * (g.k[a] - 1)));
      const std::int64_t full = g.x[a] - 1 + g.d[a] * (g.k[a] - 1) + 1;
      g.y[a] = std::max<std::int64_t>(1, full - 2 * g.pad[a] + r(0, 1));
    }
    const auto [nx, ny, nw] = sizes(g);
    auto y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng), b = rand_vec<T>(static_cast<std::size_t>(g.Cx), rng);
    const T* bias = t % 2 ? b.data() : nullptr;
    std::vector<T> want(nx);
    k::conv_gather_reference<T>(g, y.data(), w.data(), bias, want.data());
    std::vector<T> spare(nw, std::numeric_limits<T>::quiet_NaN());
    T* sp = t % 3 == 0 ? spare.data() : nullptr;
    check_one_and_two_threads<T>(want, [&](T* x) { ASSERT_TRUE(fn(g, y.data(), w.data(), bias, x, sp)) << "case " << t; }, tol, t);
    // Declined: stride 2 along one axis, or padding beyond the taps' span.
    ConvGeom h = g;
    if (t % 2) h.s[t % 3] = 2;
    else h.pad[t % 3] = h.d[t % 3] * (h.k[t % 3] - 1) + 1;
    std::vector<T> x(nx, T(7));
    EXPECT_FALSE(fn(h, y.data(), w.data(), bias, x.data(), sp)) << "case " << t;
    EXPECT_EQ(std::count(x.begin(), x.end(), T(7)), static_cast<std::ptrdiff_t>(nx)) << "case " << t;
  }
}

TEST(Kernels, GatherAsForwardMatchesReference) {
  each_isa([](int i) {
    if (i == 0) return;  // no blocked forward without AVX2
    check_gather_as_forward<float>(i, 320 + i);
    check_gather_as_forward<double>(i, 330 + i);
  });
}

// The one-pass backward (both gradients and the bias gradient from one copy
// of each y row) where every y element belongs to one x position and tap
// (k = s along each axis, 1 to 3, no padding), called directly in each
// instruction set the CPU has from AVX2 up: random channel counts (padded
// tiles on both sides), rows of 9 to 40, groups, float32 and float64,
// against the references, and bitwise the same on one thread and two (with
// no bound on its scratch: these problems are small next to it). Every case
// must be served.
template <class T>
void check_onepass(int isa, std::uint32_t seed) {
  using Fn = bool (*)(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*, double);
  const Fn fn = isa == 2 ? &k::avx512::conv_backward_blocked_onepass<T> : &k::avx2::conv_backward_blocked_onepass<T>;
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 24; ++t) {
    ConvGeom g = random_grouped(rng, {5, 40}, {9, 40}, {{{1, 3}, {1, 5}, {9, 40}}});
    for (int a = 0; a < 3; ++a) {
      g.k[a] = g.s[a] = r(1, 3);
      g.y[a] = g.x[a] * g.s[a];
    }
    if (t == 0) g.k[2] = g.s[2] = 2;  // the stride-2 row split in registers, at least once
    g.y[2] = g.x[2] * g.s[2];
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
    std::vector<T> want_x(nx), want_w(nw), want_b(static_cast<std::size_t>(g.Cy));
    k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
    for (std::int64_t c = 0; c < g.Cy; ++c) {
      double sum = 0;
      for (std::int64_t n = 0; n < g.N; ++n)
        for (std::int64_t i = 0; i < g.y_spatial(); ++i) sum += static_cast<double>(y[static_cast<std::size_t>((n * g.Cy + c) * g.y_spatial() + i)]);
      want_b[static_cast<std::size_t>(c)] = static_cast<T>(sum);
    }
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::vector<T> gx1(nx, T(7)), gw1(nw, nan), gb1(want_b.size(), nan), gx2(nx, T(7)), gw2(nw, nan), gb2(want_b.size(), nan);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const double any = std::numeric_limits<double>::infinity();
    ASSERT_TRUE(fn(g, x.data(), w.data(), y.data(), gx1.data(), gw1.data(), gb1.data(), any)) << "case " << t;
    omp_set_num_threads(std::max(2, threads));
    ASSERT_TRUE(fn(g, x.data(), w.data(), y.data(), gx2.data(), gw2.data(), gb2.data(), any)) << "case " << t;
    omp_set_num_threads(threads);
    ASSERT_LE(rel_err(gx1, want_x), tol) << "input grad, case " << t;
    ASSERT_LE(rel_err(gw1, want_w), tol) << "weight grad, case " << t;
    ASSERT_LE(rel_err(gb1, want_b), tol) << "bias grad, case " << t;
    EXPECT_EQ(std::memcmp(gx1.data(), gx2.data(), nx * sizeof(T)), 0) << "1 vs 2 threads, case " << t;
    EXPECT_EQ(std::memcmp(gw1.data(), gw2.data(), nw * sizeof(T)), 0) << "1 vs 2 threads, case " << t;
    EXPECT_EQ(std::memcmp(gb1.data(), gb2.data(), want_b.size() * sizeof(T)), 0) << "1 vs 2 threads, case " << t;
  }
}

TEST(Kernels, OnePassBackwardMatchesReference) {
  each_isa([](int i) {
    if (i == 0) return;  // no one-pass backward without AVX2
    check_onepass<float>(i, 210 + i);
    check_onepass<double>(i, 220 + i);
  });
}

// A cubic geometry: N samples, Cx -> Cy channels, inputs I^3, kernel k^3,
// stride s, padding p, output padding op, dilation d.
struct Cubic {
  std::int64_t N, Cx, Cy, I, k, s, p, op = 0, d = 1, groups = 1;
  ConvGeom geom() const {
    ConvGeom g;
    g.N = N;
    g.groups = groups;
    g.Cx = Cx;
    g.Cy = Cy;
    for (int a = 0; a < 3; ++a) {
      g.x[a] = I;
      g.k[a] = k;
      g.s[a] = s;
      g.pad[a] = p;
      g.d[a] = d;
      g.y[a] = (I - 1) * s - 2 * p + d * (k - 1) + op + 1;
    }
    return g;
  }
};

// The scratch bytes one kernel call keeps, run on two threads: the memory
// budget is the benchmark's, on two threads (each keeps its own scratch),
// whatever the machine's core count.
template <class Call>
double scratch_on_two_threads(Call&& call) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(2);
  k::release_scratch();
  call();
  omp_set_num_threads(threads);
  return static_cast<double>(k::scratch_bytes());
}

// The direct backward (both gradients, or either alone, the input gradient
// with and without a bias added), called directly in each instruction set
// the CPU has: random geometries with few channels, rows from 1 to 20 long
// (vector tails), and samples of more rows than one block copies (blocks
// that straddle depths and samples).
template <class T>
void check_direct_backward(int isa, std::uint32_t seed) {
  using Fn = void (*)(const ConvGeom&, const T*, const T*, const T*, const T*, T*, T*);
  const Fn fns[3] = {&k::base::conv_backward_direct<T>, &k::avx2::conv_backward_direct<T>,
                     &k::avx512::conv_backward_direct<T>};
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  for (int t = 0; t < 150; ++t) {
    ConvGeom g = random_geom(rng, 4, t % 3 == 0 ? 20 : 7);
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
    auto bx = rand_vec<T>(static_cast<std::size_t>(g.Cx), rng);
    std::vector<T> gx_ref(nx), gxb_ref(nx), gw_ref(nw);
    k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, gx_ref.data());
    k::conv_gather_reference<T>(g, y.data(), w.data(), bx.data(), gxb_ref.data());
    k::conv_weight_grad_reference<T>(g, x.data(), y.data(), gw_ref.data());
    std::vector<T> gx(nx, T(7)), gw(nw, T(7)), gx1(nx, T(7)), gw1(nw, T(7));
    fns[isa](g, x.data(), w.data(), y.data(), nullptr, gx.data(), gw.data());
    fns[isa](g, nullptr, w.data(), y.data(), bx.data(), gx1.data(), nullptr);
    fns[isa](g, x.data(), nullptr, y.data(), nullptr, nullptr, gw1.data());
    ASSERT_LE(rel_err(gx, gx_ref), tol) << "input grad, case " << t;
    ASSERT_LE(rel_err(gw, gw_ref), tol) << "weight grad, case " << t;
    ASSERT_LE(rel_err(gx1, gxb_ref), tol) << "input grad alone, with bias, case " << t;
    ASSERT_LE(rel_err(gw1, gw_ref), tol) << "weight grad alone, case " << t;
  }
}

TEST(Kernels, DirectBackwardMatchesReference) {
  each_isa([](int i) {
    check_direct_backward<float>(i, 180 + i);
    check_direct_backward<double>(i, 190 + i);
  });
}

// The direct backward on problems worth threads (a decoder's last layer,
// 16 -> 1 channel; 3^3 taps at stride 2 in two samples; groups; a 2-D
// one; 2 -> 16 channels at stride 2), through the dispatcher: against the
// reference, and bitwise the same with one thread and two (its parts of the
// weight gradient do not depend on the thread count). float64 takes it
// with one y channel per group.
template <class T>
void check_direct_backward_threads(const ConvGeom& g) {
  ASSERT_TRUE(g.worth_threads());
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  const auto [nx, ny, nw] = sizes(g);
  std::mt19937 rng(99);
  auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
  std::vector<T> want_x(nx), want_w(nw);
  k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, want_x.data());
  k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
  std::vector<T> gx[2], gw[2], gx1[2], gw1[2];
  const int threads = omp_get_max_threads();
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t + 1);
    gx[t].assign(nx, T(7));
    gw[t].assign(nw, T(7));
    gx1[t].assign(nx, T(7));
    gw1[t].assign(nw, T(7));
    k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), gx[t].data(), gw[t].data());
    k::conv_gather<T>(g, y.data(), w.data(), nullptr, gx1[t].data());
    k::conv_weight_grad<T>(g, x.data(), y.data(), gw1[t].data());
  }
  omp_set_num_threads(threads);
  const std::string name = "Cx=" + std::to_string(g.Cx) + " Cy=" + std::to_string(g.Cy) + " " + (sizeof(T) == 4 ? "float" : "double");
  EXPECT_LE(rel_err(gx[0], want_x), tol) << name;
  EXPECT_LE(rel_err(gw[0], want_w), tol) << name;
  EXPECT_LE(rel_err(gx1[0], want_x), tol) << name;
  EXPECT_LE(rel_err(gw1[0], want_w), tol) << name;
  EXPECT_TRUE(gx[0] == gx[1] && gw[0] == gw[1] && gx1[0] == gx1[1] && gw1[0] == gw1[1]) << name;
  // One gradient alone through the backward takes the kernel conv_gather or
  // conv_weight_grad takes: the same bits.
  std::vector<T> gx2(nx, T(7)), gw2(nw, T(7));
  k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), gx2.data(), nullptr);
  k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), nullptr, gw2.data());
  EXPECT_TRUE(gx2 == gx1[1] && gw2 == gw1[1]) << name << ": one gradient alone";
}

TEST(Kernels, DirectBackwardThreadsBitwise) {
  std::vector<ConvGeom> geoms = {Cubic{1, 16, 1, 32, 2, 2, 0}.geom(), Cubic{2, 8, 1, 20, 3, 2, 1, 1}.geom()};
  ConvGeom grouped = Cubic{1, 4, 4, 24, 3, 1, 1}.geom();
  grouped.groups = 2;
  geoms.push_back(grouped);
  ConvGeom flat;
  flat.N = 2;
  flat.Cx = 8;
  flat.Cy = 2;
  flat.x[1] = flat.x[2] = 96;
  flat.k[1] = flat.k[2] = 3;
  flat.pad[1] = flat.pad[2] = 1;
  flat.y[1] = flat.y[2] = 96;
  geoms.push_back(flat);
  geoms.push_back(Cubic{1, 2, 16, 24, 3, 2, 1, 1}.geom());  // few x channels, many y channels
  for (const ConvGeom& g : geoms) check_direct_backward_threads<float>(g);
  check_direct_backward_threads<double>(geoms[0]);
  check_direct_backward_threads<double>(geoms[1]);
}

// The direct forward, called directly in each instruction set the CPU has:
// random geometries with up to 8 channels, rows from 1 to 40 long (vector
// tails, y rows of several 512-bit chunks), with and without a bias, and in
// a third of them 5 to 7 taps along the last axis (taps taken four at a
// time); y starts out holding garbage.
template <class T>
void check_direct_forward(int isa, std::uint32_t seed) {
  using Fn = void (*)(const ConvGeom&, const T*, const T*, const T*, T*);
  const Fn fns[3] = {&k::base::conv_forward_direct<T>, &k::avx2::conv_forward_direct<T>,
                     &k::avx512::conv_forward_direct<T>};
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::mt19937 rng(seed);
  for (int t = 0; t < 200; ++t) {
    ConvGeom g = random_geom(rng, 8, t % 2 == 0 ? 40 : 7);
    if (t % 3 == 0) {
      g.k[2] = std::uniform_int_distribution<int>(5, 7)(rng);
      const std::int64_t full = (g.x[2] - 1) * g.s[2] + g.d[2] * (g.k[2] - 1) + 1;
      g.y[2] = std::max<std::int64_t>(1, full - g.pad[2] + std::uniform_int_distribution<int>(-3, 3)(rng));
    }
    const auto [nx, ny, nw] = sizes(g);
    auto x = rand_vec<T>(nx, rng), w = rand_vec<T>(nw, rng), b = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng);
    const T* bias = t % 2 == 0 ? b.data() : nullptr;
    std::vector<T> want(ny), got(ny, T(7));
    k::conv_scatter_reference<T>(g, x.data(), w.data(), bias, want.data());
    fns[isa](g, x.data(), w.data(), bias, got.data());
    ASSERT_LE(rel_err(got, want), tol) << "case " << t << " k2=" << g.k[2] << " x2=" << g.x[2] << " s2=" << g.s[2];
  }
}

TEST(Kernels, DirectForwardMatchesReference) {
  each_isa([](int i) {
    check_direct_forward<float>(i, 280 + i);
    check_direct_forward<double>(i, 290 + i);
  });
}

// Through the dispatcher, the shapes the direct forward serves with AVX2 and
// AVX-512 (S1, S2, 16 -> 16 channels at 4^3, and on threads 64 -> 64 at 2^3 and
// 16 -> 8 at 6^3 in two samples): against the reference, bitwise the same
// on one thread and two, and their scratch within a tenth of y (S2's was 84%
// with the blocked forward, whose packed weights are half its output).
TEST(Kernels, DirectForwardThreadsAndScratch) {
  const std::vector<Cubic> cases = {{1, 4, 2, 8, 3, 2, 1, 1}, {2, 8, 4, 4, 4, 2, 1}, {1, 16, 16, 4, 4, 2, 1},
                                    {1, 64, 64, 2, 4, 2, 1}, {2, 16, 8, 6, 4, 2, 1}};
  for (const Cubic& c : cases) {
    const ConvGeom g = c.geom();
    const auto [nx, ny, nw] = sizes(g);
    std::mt19937 rng(95);
    auto x = rand_vec<float>(nx, rng), w = rand_vec<float>(nw, rng), b = rand_vec<float>(g.Cy, rng);
    std::vector<float> want(ny), y1(ny, 7.f), y2(ny, 7.f);
    k::conv_scatter_reference<float>(g, x.data(), w.data(), b.data(), want.data());
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    k::conv_scatter<float>(g, x.data(), w.data(), b.data(), y1.data());
    omp_set_num_threads(threads);
    const double scratch =
        scratch_on_two_threads([&] { k::conv_scatter<float>(g, x.data(), w.data(), b.data(), y2.data()); });
    EXPECT_LE(rel_err(y1, want), 2e-6) << "Cx=" << c.Cx << " I=" << c.I;
    EXPECT_TRUE(y1 == y2) << "Cx=" << c.Cx << " I=" << c.I << ": one thread and two";
    if (std::string(k::kernel_isa()) != "base")
      EXPECT_LE(scratch, 0.10 * static_cast<double>(ny * sizeof(float))) << "Cx=" << c.Cx << " I=" << c.I;
  }
}

// The benchmark's small cases (S1, the seed example: 4 -> 2 channels, 8^3,
// 3^3 taps at stride 2; S2: 8 -> 4 channels, 4^3 in 2 samples, 4^3 taps at
// stride 2) and a decoder's last layer (16 -> 1 channel, 32^3, 2^3 taps at
// stride 2, on two threads), which take the direct backward, keep within a
// tenth of what they produce: both gradients (371% and 267% with the
// shared-column products before, for S1 and S2) and the input gradient alone. The weight gradient alone
// sizes its blocks against x, which it reads (far larger than its result:
// 768 bytes for S1's, 89% of its 864 bytes, where the per-tap loops kept none
// but took 7.7 times as long): within a tenth of x and w together, what the
// benchmark counts for a backward.
TEST(Kernels, DirectBackwardScratchWithinATenth) {
  if (std::string(k::kernel_isa()) == "base") GTEST_SKIP() << "the direct backward serves AVX2 and up";
  for (const Cubic& c : {Cubic{1, 4, 2, 8, 3, 2, 1, 1}, Cubic{2, 8, 4, 4, 4, 2, 1}, Cubic{1, 16, 1, 32, 2, 2, 0}}) {
    const ConvGeom g = c.geom();
    const auto [nx, ny, nw] = sizes(g);
    std::mt19937 rng(98);
    auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
    std::vector<float> gx(nx), gw(nw), gx1(nx), gw1(nw), want_x(nx), want_w(nw);
    const double both = scratch_on_two_threads(
        [&] { k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), gx.data(), gw.data()); });
    const double sx = scratch_on_two_threads([&] { k::conv_gather<float>(g, y.data(), w.data(), nullptr, gx1.data()); });
    const double sw = scratch_on_two_threads([&] { k::conv_weight_grad<float>(g, x.data(), y.data(), gw1.data()); });
    EXPECT_LE(both, 0.10 * static_cast<double>((nx + nw) * sizeof(float))) << "Cx=" << c.Cx;
    EXPECT_LE(sx, 0.10 * static_cast<double>(nx * sizeof(float))) << "Cx=" << c.Cx;
    EXPECT_LE(sw, 0.10 * static_cast<double>((nx + nw) * sizeof(float))) << "Cx=" << c.Cx;
    k::conv_gather_reference<float>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<float>(g, x.data(), y.data(), want_w.data());
    EXPECT_LE(rel_err(gx, want_x), 2e-6) << "Cx=" << c.Cx;
    EXPECT_LE(rel_err(gw, want_w), 2e-6) << "Cx=" << c.Cx;
    EXPECT_LE(rel_err(gx1, want_x), 2e-6) << "Cx=" << c.Cx;
    EXPECT_LE(rel_err(gw1, want_w), 2e-6) << "Cx=" << c.Cx;
  }
}

// The backward of the VAE decoder's shape (rows of 16, 4^3 taps at stride
// 2: the blocked gather and weight gradient) keeps within a tenth of what it
// produces, and so does the U-Net up-convolution's (2^3 taps at stride 2,
// 128 -> 64 channels: with AVX-512 its copies of x rows count against the
// budget, 11% before; with AVX2 the shared-column halves kept 22%, their
// copy of the weight gradient alone 11%, and it now takes the blocked
// kernels there too). A U-Net up-convolution with fewer channels (L1's, on
// 32^3) takes the one-pass backward with AVX-512: its copies of the weight
// gradient count too; with AVX2 the shared-column halves, whose column
// chunks kept 10.4% before they were sized to the bound. So does U2's
// (64 -> 32 on 32^3, 2048 channel pairs: four copies). D1's shape (stride
// 1: the gather runs as the forward, its packed weights in the weight
// gradient's memory; 12% while they took scratch) is measured for its
// scratch alone (its reference takes long; the gather's results are
// checked in GatherAsForwardMatchesReference).
TEST(Kernels, BlockedBackwardScratchWithinATenth) {
  if (std::string(k::kernel_isa()) == "base") GTEST_SKIP() << "no blocked kernels without AVX2";
  const std::vector<Cubic> cases = {
      {4, 64, 32, 16, 4, 2, 1}, {1, 128, 64, 16, 2, 2, 0}, {1, 32, 16, 32, 2, 2, 0}, {1, 64, 32, 32, 2, 2, 0}};
  for (const Cubic& c : cases) {
    const ConvGeom g = c.geom();
    const auto [nx, ny, nw] = sizes(g);
    std::mt19937 rng(96);
    auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
    std::vector<float> gx(nx), gw(nw);
    const double scratch = scratch_on_two_threads(
        [&] { k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), gx.data(), gw.data()); });
    EXPECT_LE(scratch, 0.10 * static_cast<double>((nx + nw) * sizeof(float)))
        << "Cx=" << c.Cx << " k=" << c.k << ": scratch " << scratch / static_cast<double>((nx + nw) * sizeof(float))
        << " of what the backward produces";
    std::vector<float> want_x(nx), want_w(nw);
    k::conv_gather_reference<float>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<float>(g, x.data(), y.data(), want_w.data());
    EXPECT_LE(rel_err(gx, want_x), 2e-6) << "Cx=" << c.Cx;
    EXPECT_LE(rel_err(gw, want_w), 2e-6) << "Cx=" << c.Cx;
  }
  const ConvGeom g = Cubic{1, 32, 32, 24, 3, 1, 2, 0, 2}.geom();
  const auto [nx, ny, nw] = sizes(g);
  std::mt19937 rng(95);
  auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
  std::vector<float> gx(nx), gw(nw);
  const double scratch = scratch_on_two_threads(
      [&] { k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), gx.data(), gw.data()); });
  EXPECT_LE(scratch, 0.10 * static_cast<double>((nx + nw) * sizeof(float)))
      << "D1: scratch " << scratch / static_cast<double>((nx + nw) * sizeof(float)) << " of what the backward produces";
}

// Small inputs with many channels x taps: the halves pass a tenth of the
// result there, and the dispatcher sends both gradients, and the weight
// gradient alone, to them where their scratch stays within 512 KiB
// (halves_small). Decoder output layers (128 -> 4 channels at 12^3 with 3^3
// taps, stride 2, dilation 2; 48 -> 4 at 14^3 with 5^3 taps, stride 3,
// padding 5, dilation 3; float64 64 -> 1 at 12^3 with 5^3 taps), where the
// halves go first, and shapes where they replace the column-row and
// shared-column products (48 -> 64 at 10^3 with 2^3 taps at stride 1; 8
// groups of 16 -> 64 at 4^3, one tap, in four samples; 2 groups of 32 ->
// 32 at 3^3 in four samples). Against the reference, bitwise the same on 1
// and 2 threads, and the scratch measured: the halves' own, so that a call
// sent to another kernel fails. (The float64 64 -> 1 weight gradient alone
// takes the direct kernel, which goes before: float64 with one y channel.)
template <class T>
void check_small_halves(const Cubic& c, std::uint32_t seed, bool wgrad_halves = true) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  const ConvGeom g = c.geom();
  ASSERT_FALSE(k::halves_fit(g, sizeof(T)));
  ASSERT_LE(k::halves_scratch(g, sizeof(T)), 512.0 * 1024);
  const auto [nx, ny, nw] = sizes(g);
  std::mt19937 rng(seed);
  auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
  std::vector<T> want_x(nx), want_w(nw), gx(nx), gw(nw), gb(static_cast<std::size_t>(g.Cy));
  k::conv_gather_reference<T>(g, y.data(), w.data(), nullptr, want_x.data());
  k::conv_weight_grad_reference<T>(g, x.data(), y.data(), want_w.data());
  check_one_and_two_threads<T>(want_x, [&](T* out) { k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), out, gw.data(), gb.data()); }, tol, 0);
  check_one_and_two_threads<T>(want_w, [&](T* out) { k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), gx.data(), out, gb.data()); }, tol, 0);
  EXPECT_LE(rel_err(gb, bias_grad_reference(g, y)), tol);
  check_one_and_two_threads<T>(want_w, [&](T* out) { k::conv_weight_grad<T>(g, x.data(), y.data(), out); }, tol, 0);
  // The scratch is the halves' (to within alignment): they ran.
  const double halves = k::halves_scratch(g, sizeof(T));
  const double scratch = scratch_on_two_threads(
      [&] { k::conv_transpose_backward<T>(g, x.data(), w.data(), y.data(), gx.data(), gw.data(), gb.data()); });
  EXPECT_NEAR(scratch, halves, 1024) << "Cx=" << c.Cx << " Cy=" << c.Cy;
  if (wgrad_halves) {
    const double alone = scratch_on_two_threads([&] { k::conv_weight_grad<T>(g, x.data(), y.data(), gw.data()); });
    EXPECT_NEAR(alone, halves, 1024) << "weight gradient alone, Cx=" << c.Cx << " Cy=" << c.Cy;
  }
}

TEST(Kernels, SmallHalvesMatchReference) {
  check_small_halves<float>(Cubic{1, 128, 4, 12, 3, 2, 0, 0, 2}, 341);
  check_small_halves<float>(Cubic{1, 48, 4, 14, 5, 3, 5, 0, 3}, 342);
  check_small_halves<double>(Cubic{1, 64, 1, 12, 5, 1, 1}, 343, false);
  check_small_halves<float>(Cubic{1, 48, 64, 10, 2, 1, 0}, 344);
  check_small_halves<float>(Cubic{4, 128, 512, 4, 1, 1, 0, 0, 1, 8}, 345);
  check_small_halves<float>(Cubic{4, 64, 64, 3, 3, 2, 0, 0, 1, 2}, 346);
}

// The blocked forward's scratch (packed weights, packed input rows, staged
// output rows) stays within a tenth of its output on the benchmark's dilated
// case and on the seed example: input rows are packed only as wide as the
// tiles read them (rounded up to whole vectors, D1 took 10.5% and S1 10.4%).
// (With AVX-512 the seed example takes the direct forward.)
TEST(Kernels, BlockedForwardScratchWithinATenth) {
  if (std::string(k::kernel_isa()) == "base") GTEST_SKIP() << "no blocked kernels without AVX2";
  for (const Cubic& c : {Cubic{1, 32, 32, 24, 3, 1, 2, 0, 2}, Cubic{1, 4, 2, 8, 3, 2, 1, 1, 1}}) {
    const ConvGeom g = c.geom();
    const auto [nx, ny, nw] = sizes(g);
    std::mt19937 rng(97);
    auto x = rand_vec<float>(nx, rng), w = rand_vec<float>(nw, rng), b = rand_vec<float>(g.Cy, rng);
    std::vector<float> y(ny), want(ny);
    const double scratch =
        scratch_on_two_threads([&] { k::conv_scatter<float>(g, x.data(), w.data(), b.data(), y.data()); });
    EXPECT_LE(scratch, 0.10 * static_cast<double>(ny * sizeof(float))) << "I=" << c.I;
    k::conv_scatter_reference<float>(g, x.data(), w.data(), b.data(), want.data());
    EXPECT_LE(rel_err(y, want), 1e-5) << "I=" << c.I;
  }
}

// Two rows at a time in passes over the taps along axis 0 (rows a pair and
// a half wide, dilation 2 as D1's, few outputs per weight): one sample's
// output is small next to the packed weights, so two rows' slots for every
// tap would pass a tenth of it, and so would one row's (9 slots); each pass
// holds 5, within the tenth, which the scratch shows. Its sums continue in
// y from pass to pass: bitwise the same as four samples' (whose slots fit
// in one pass) for the same first sample, as the reference within
// rounding, and on 1 and 2 threads.
template <class T>
void check_forward_passes(std::uint32_t seed) {
  const std::int64_t W = sizeof(T) == 4 ? 8 : 4, side = sizeof(T) == 4 ? 16 : 21;
  ConvGeom one;
  one.Cx = 16;
  one.Cy = 32;
  for (int a = 0; a < 3; ++a) {
    one.x[a] = one.y[a] = a == 2 ? 3 * W : side;
    one.k[a] = 3, one.d[a] = 2, one.pad[a] = 2;
  }
  ConvGeom four = one;
  four.N = 4;
  const auto [nx, ny, nw] = sizes(four);
  std::mt19937 rng(seed);
  auto x = rand_vec<T>(nx, rng), w = rand_vec<T>(nw, rng), b = rand_vec<T>(static_cast<std::size_t>(one.Cy), rng);
  std::vector<T> y4(ny), y1(ny / 4), want(ny / 4);
  k::avx512::conv_scatter_blocked<T>(four, x.data(), w.data(), b.data(), y4.data());
  const double scratch = scratch_on_two_threads(
      [&] { k::avx512::conv_scatter_blocked<T>(one, x.data(), w.data(), b.data(), y1.data()); });
  EXPECT_LE(scratch, 0.10 * static_cast<double>(y1.size() * sizeof(T))) << "passes, scratch of the output";
  EXPECT_EQ(std::memcmp(y1.data(), y4.data(), y1.size() * sizeof(T)), 0) << "passes against one pass";
  k::conv_scatter_reference<T>(one, x.data(), w.data(), b.data(), want.data());
  check_one_and_two_threads<T>(
      want, [&](T* y) { k::avx512::conv_scatter_blocked<T>(one, x.data(), w.data(), b.data(), y); },
      sizeof(T) == 4 ? 2e-6 : 1e-13, 0);
}

TEST(Kernels, BlockedForwardInPasses) {
  if (!cpu_has("avx512")) GTEST_SKIP() << "two rows at a time with AVX-512 only";
  check_forward_passes<float>(315);
  check_forward_passes<double>(316);
}

// The depthwise kernels keep within a tenth of what they produce, forward
// and backward: on G1's shape (with 16 channels), and on a 2-D one with 8
// channels of 128^2, where whole planes would weigh: staged output planes
// in the forward (32%; rows are staged in bands of 4 KB), and in the
// backward a ring of whole y planes, here a whole channel of y (52%; it
// packs bands of rows instead).
TEST(Kernels, DepthwiseScratchWithinATenth) {
  if (std::string(k::kernel_isa()) == "base") GTEST_SKIP() << "the depthwise kernels serve AVX2 and up";
  ConvGeom planar;  // 1 x 8 x 64 x 64 -> 128 x 128, 3 x 3 taps at stride 2
  planar.Cx = planar.Cy = planar.groups = 8;
  for (int a = 1; a < 3; ++a) {
    planar.x[a] = 64;
    planar.k[a] = 3;
    planar.s[a] = 2;
    planar.pad[a] = 1;
    planar.y[a] = 128;
  }
  ConvGeom g1 = Cubic{2, 16, 16, 16, 3, 2, 1, 1}.geom();
  g1.groups = 16;
  for (const ConvGeom& g : {g1, planar}) {
    const auto [nx, ny, nw] = sizes(g);
    std::mt19937 rng(99);
    auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
    auto b = rand_vec<float>(g.Cy, rng);
    std::vector<float> out(ny), want(ny), gx(nx), gw(nw), want_x(nx), want_w(nw);
    const double fwd = scratch_on_two_threads([&] { k::conv_scatter<float>(g, x.data(), w.data(), b.data(), out.data()); });
    const double bwd = scratch_on_two_threads(
        [&] { k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), gx.data(), gw.data()); });
    EXPECT_LE(fwd, 0.10 * static_cast<double>(ny * sizeof(float))) << "x[0]=" << g.x[0];
    EXPECT_LE(bwd, 0.10 * static_cast<double>((nx + nw) * sizeof(float))) << "x[0]=" << g.x[0];
    k::conv_scatter_reference<float>(g, x.data(), w.data(), b.data(), want.data());
    k::conv_gather_reference<float>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<float>(g, x.data(), y.data(), want_w.data());
    EXPECT_LE(rel_err(out, want), 1e-5) << "x[0]=" << g.x[0];
    EXPECT_LE(rel_err(gx, want_x), 2e-6) << "x[0]=" << g.x[0];
    EXPECT_LE(rel_err(gw, want_w), 2e-6) << "x[0]=" << g.x[0];
  }
}

// Outputs beyond the caches (over 4 MB) are written with streaming stores:
// one of 2 -> 16 channels at 64^3 with y[0] from the second phase, and V1's
// shape with 8 input channels (rows of phases one pair wide: two rows at a
// time with AVX-512).
TEST(Kernels, BlockedForwardStreamsLargeOutputs) {
  for (int c = 0; c < 2; ++c) {
    ConvGeom g;
    g.Cx = c == 0 ? 2 : 8;
    g.Cy = c == 0 ? 16 : 32;
    const std::int64_t xs[3] = {c == 0 ? 32 : 16, c == 0 ? 64 : 16, c == 0 ? 64 : 16};
    for (int a = 0; a < 3; ++a) {
      g.x[a] = xs[a];
      g.k[a] = c == 0 ? 2 : 4;
      g.s[a] = 2;
      g.pad[a] = c == 1 || a == 2 ? 1 : 0;  // c = 0: y[0] from the second phase
      g.y[a] = 2 * xs[a];                   // and on the last axis padding 1 and output_padding 2
    }
    ASSERT_GT(static_cast<double>(g.Cy * g.y_spatial()) * 4, 4.0e6);
    std::mt19937 rng(80);
    auto x = rand_vec<float>(static_cast<std::size_t>(g.Cx * g.x_spatial()), rng);
    auto w = rand_vec<float>(static_cast<std::size_t>(g.Cx * g.Cy * g.taps()), rng);
    auto b = rand_vec<float>(static_cast<std::size_t>(g.Cy), rng);
    const std::size_t ny = static_cast<std::size_t>(g.Cy * g.y_spatial());
    float* y = static_cast<float*>(std::aligned_alloc(64, ny * sizeof(float)));
    std::vector<float> want(ny);
    k::conv_scatter<float>(g, x.data(), w.data(), b.data(), y);
    k::conv_scatter_reference<float>(g, x.data(), w.data(), b.data(), want.data());
    const std::vector<float> got(y, y + ny);
    std::free(y);
    EXPECT_LE(rel_err(got, want), 2e-6) << "case " << c;
  }
}

// Input gradients beyond the caches (over 4 MB) are written with streaming
// stores: by the blocked gather (rows of 16, two at a time with AVX-512)
// and by the one-pass backward (k = s = 2, rows of 48), into memory from
// 64-byte boundaries as tensors' is (rows must cover whole cache lines).
TEST(Kernels, BlockedGatherStreamsLargeResults) {
  if (std::string(k::kernel_isa()) == "base") GTEST_SKIP() << "no blocked kernels without AVX2";
  for (const Cubic& c : {Cubic{4, 64, 16, 16, 3, 2, 1}, Cubic{1, 16, 16, 48, 2, 2, 0}}) {
    ConvGeom g = c.geom();
    const auto [nx, ny, nw] = sizes(g);
    ASSERT_GT(static_cast<double>(nx) * 4, 4.0e6);
    std::mt19937 rng(81);
    auto x = rand_vec<float>(nx, rng), y = rand_vec<float>(ny, rng), w = rand_vec<float>(nw, rng);
    float* gx = static_cast<float*>(std::aligned_alloc(64, nx * sizeof(float)));
    std::vector<float> gw(nw), want_x(nx), want_w(nw);
    k::conv_transpose_backward<float>(g, x.data(), w.data(), y.data(), gx, gw.data());
    const std::vector<float> got(gx, gx + nx);
    std::free(gx);
    k::conv_gather_reference<float>(g, y.data(), w.data(), nullptr, want_x.data());
    k::conv_weight_grad_reference<float>(g, x.data(), y.data(), want_w.data());
    EXPECT_LE(rel_err(got, want_x), 2e-6) << "Cx=" << c.Cx;
    EXPECT_LE(rel_err(gw, want_w), 2e-6) << "Cx=" << c.Cx;
  }
}

TEST(Kernels, DispatchedMatchesReference) {
  std::printf("direct kernels run as %s\n", k::kernel_isa());
  check<float>(kDispatch, 30, 100, 12);
  check<double>(kDispatch, 31, 100, 12);
}

// Weights of 4 MB and more with short output rows (a GAN decoder's first
// layers): the dispatcher takes the register-tiled taps products.
TEST(Kernels, DispatchedLargeWeights) {
  ConvGeom g;
  g.N = 2;
  g.Cx = 176;  // 4.5 MB of weights
  g.Cy = 100;
  for (int a = 0; a < 3; ++a) {
    g.x[a] = a == 2 ? 6 : 5;
    g.k[a] = 4;
    g.s[a] = 2;
    g.pad[a] = 1;
    g.y[a] = (g.x[a] - 1) * 2 - 2 + 4;
  }
  std::mt19937 rng(160);
  auto x = rand_vec<float>(static_cast<std::size_t>(g.N * g.Cx * g.x_spatial()), rng);
  auto w = rand_vec<float>(static_cast<std::size_t>(g.Cx * g.Cy * g.taps()), rng);
  auto b = rand_vec<float>(static_cast<std::size_t>(g.Cy), rng);
  std::vector<float> got(static_cast<std::size_t>(g.N * g.Cy * g.y_spatial()), 7.0f), want(got.size());
  k::conv_scatter<float>(g, x.data(), w.data(), b.data(), got.data());
  k::conv_scatter_reference<float>(g, x.data(), w.data(), b.data(), want.data());
  EXPECT_LE(rel_err(got, want), 2e-6);
}

TEST(Kernels, ChannelSum) {
  std::vector<float> in{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // N=2, C=2, S=3
  std::vector<float> out(2);
  lucid::kernels::channel_sum<float>(2, 2, 3, in.data(), out.data());
  EXPECT_EQ(out[0], 1 + 2 + 3 + 7 + 8 + 9);
  EXPECT_EQ(out[1], 4 + 5 + 6 + 10 + 11 + 12);
  std::vector<float> ref(2);
  lucid::kernels::channel_sum_reference<float>(2, 2, 3, in.data(), ref.data());
  EXPECT_EQ(ref, out);
  // Long rows (partial sums and a tail), against the reference (one running
  // sum in double).
  std::mt19937 rng(170);
  const std::int64_t N = 3, C = 5, S = 1237;
  auto big = rand_vec<float>(static_cast<std::size_t>(N * C * S), rng);
  std::vector<float> got(C);
  lucid::kernels::channel_sum<float>(N, C, S, big.data(), got.data());
  std::vector<float> want(C);
  lucid::kernels::channel_sum_reference<float>(N, C, S, big.data(), want.data());
  for (std::int64_t c = 0; c < C; ++c) {
    const float e = want[static_cast<std::size_t>(c)];
    EXPECT_NEAR(got[static_cast<std::size_t>(c)], e, 1e-5 * std::abs(e) + 1e-6) << "channel " << c;
  }
}
