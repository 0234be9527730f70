#include <cmath>
#include <mutex>
#include <random>

#include "lucid/random.h"

namespace lucid::random {
namespace {

struct Generator {
  std::mutex mu;
  std::mt19937_64 engine{0x6c756369640aULL};
};

Generator& gen() {
  static Generator g;
  return g;
}

// Uniform double in [0, 1) with 53 random bits: the same on every platform.
double uniform01(std::mt19937_64& e) { return static_cast<double>(e() >> 11) * 0x1.0p-53; }

template <class F>
Tensor generate(const Shape& shape, TensorOptions opts, F&& sample) {
  Tensor t = Tensor::empty(shape, {.dtype = opts.dtype});
  std::lock_guard<std::mutex> lock(gen().mu);
  auto& e = gen().engine;
  const std::int64_t n = t.numel();
  if (opts.dtype == DType::Float32) {
    float* d = t.data<float>();
    for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(sample(e));
  } else {
    double* d = t.data<double>();
    for (std::int64_t i = 0; i < n; ++i) d[i] = sample(e);
  }
  t.set_requires_grad(opts.requires_grad);
  return t;
}

}  // namespace

void seed(std::uint64_t value) {
  std::lock_guard<std::mutex> lock(gen().mu);
  gen().engine.seed(value);
}

Tensor randn(const Shape& shape, TensorOptions opts) {
  // Box–Muller, one sample per pair of uniforms: portable and reproducible.
  return generate(shape, opts, [](std::mt19937_64& e) {
    const double u1 = 1.0 - uniform01(e);  // (0, 1]
    const double u2 = uniform01(e);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
}

Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts) {
  return generate(shape, opts,
                  [low, high](std::mt19937_64& e) { return low + (high - low) * uniform01(e); });
}

Tensor rand(const Shape& shape, TensorOptions opts) { return uniform(shape, 0.0, 1.0, opts); }

}  // namespace lucid::random
