// The dispatched kernels against their plain-loop references, on random
// geometries, bit for bit where the reference is the kernel and within
// rounding otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/conv.h"

using lucid::kernels::ConvGeom;

namespace {

template <class T>
std::vector<T> rand_vec(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<double> d;
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <class T>
double rel_err(const std::vector<T>& a, const std::vector<T>& b) {
  double scale = 1e-30, err = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    err = std::max(err, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return err / scale;
}

ConvGeom random_geom(std::mt19937& rng) {
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvGeom g;
  g.groups = r(1, 3);
  g.Cx = g.groups * r(1, 5);
  g.Cy = g.groups * r(1, 5);
  g.N = r(1, 3);
  const int nd = r(1, 3);
  for (int a = 3 - nd; a < 3; ++a) {
    g.x[a] = r(1, 7);
    g.k[a] = r(1, 4);
    g.s[a] = r(1, 4);
    g.d[a] = r(1, 3);
    g.pad[a] = r(0, 4);
    const std::int64_t full = (g.x[a] - 1) * g.s[a] + g.d[a] * (g.k[a] - 1) + 1;
    g.y[a] = std::max<std::int64_t>(1, full - g.pad[a] + r(-3, 3));
  }
  return g;
}

template <class T>
void check_against_reference(std::uint32_t seed) {
  std::mt19937 rng(seed);
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  for (int t = 0; t < 200; ++t) {
    const ConvGeom g = random_geom(rng);
    const std::size_t nx = static_cast<std::size_t>(g.N * g.Cx * g.x_spatial());
    const std::size_t ny = static_cast<std::size_t>(g.N * g.Cy * g.y_spatial());
    const std::size_t nw = static_cast<std::size_t>(g.Cx * g.cy_per_group() * g.taps());
    auto x = rand_vec<T>(nx, rng), y = rand_vec<T>(ny, rng), w = rand_vec<T>(nw, rng);
    auto by = rand_vec<T>(static_cast<std::size_t>(g.Cy), rng), bx = rand_vec<T>(static_cast<std::size_t>(g.Cx), rng);
    std::vector<T> a(ny), b(ny), c(nx), d(nx), e(nw), f(nw);
    lucid::kernels::conv_scatter<T>(g, x.data(), w.data(), by.data(), a.data());
    lucid::kernels::conv_scatter_reference<T>(g, x.data(), w.data(), by.data(), b.data());
    ASSERT_LE(rel_err(a, b), tol) << "scatter case " << t;
    lucid::kernels::conv_gather<T>(g, y.data(), w.data(), bx.data(), c.data());
    lucid::kernels::conv_gather_reference<T>(g, y.data(), w.data(), bx.data(), d.data());
    ASSERT_LE(rel_err(c, d), tol) << "gather case " << t;
    lucid::kernels::conv_weight_grad<T>(g, x.data(), y.data(), e.data());
    lucid::kernels::conv_weight_grad_reference<T>(g, x.data(), y.data(), f.data());
    ASSERT_LE(rel_err(e, f), tol) << "weight_grad case " << t;
  }
}

}  // namespace

TEST(Kernels, Float32MatchesReference) { check_against_reference<float>(1); }
TEST(Kernels, Float64MatchesReference) { check_against_reference<double>(2); }

TEST(Kernels, ChannelSum) {
  std::vector<float> in{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // N=2, C=2, S=3
  std::vector<float> out(2);
  lucid::kernels::channel_sum<float>(2, 2, 3, in.data(), out.data());
  EXPECT_EQ(out[0], 1 + 2 + 3 + 7 + 8 + 9);
  EXPECT_EQ(out[1], 4 + 5 + 6 + 10 + 11 + 12);
}
