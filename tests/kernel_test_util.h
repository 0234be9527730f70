// Helpers the kernel tests share: random data, the relative error against a
// reference, the element counts of a geometry's arrays, and the bias
// gradient's reference as a vector.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/conv.h"

namespace lucid::kernels::testing {

template <class T>
std::vector<T> rand_vec(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<double> d;
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// The largest difference from b, relative to b's largest magnitude; infinite
// where one holds a NaN the other does not.
template <class T>
double rel_err(const std::vector<T>& a, const std::vector<T>& b) {
  double scale = 1e-30, err = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(static_cast<double>(a[i])) != std::isnan(static_cast<double>(b[i]))) return INFINITY;  // max() would skip it
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    err = std::max(err, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return err / scale;
}

// The element counts of x, y and w.
struct Sizes {
  std::size_t nx, ny, nw;
};
inline Sizes sizes(const ConvGeom& g) {
  return {static_cast<std::size_t>(g.N * g.Cx * g.x_spatial()), static_cast<std::size_t>(g.N * g.Cy * g.y_spatial()),
          static_cast<std::size_t>(g.Cx * g.cy_per_group() * g.taps())};
}

// The bias gradient from y: each channel's sum over samples and positions
// (the channel sum's reference).
template <class T>
std::vector<T> bias_grad_reference(const ConvGeom& g, const std::vector<T>& y) {
  std::vector<T> b(static_cast<std::size_t>(g.Cy));
  channel_sum_reference<T>(g.N, g.Cy, g.y_spatial(), y.data(), b.data());
  return b;
}

}  // namespace lucid::kernels::testing
