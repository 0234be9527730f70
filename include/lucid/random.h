// lucid/random.h — the global random generator (a 64-bit Mersenne Twister).
#pragma once

#include <cstdint>

#include "lucid/tensor.h"

namespace lucid::random {

// Reseeds the global generator; the same seed gives the same sequence.
void seed(std::uint64_t value);
// Standard normal samples.
Tensor randn(const Shape& shape, TensorOptions opts = {});
// Uniform samples in [low, high).
Tensor rand(const Shape& shape, TensorOptions opts = {});
Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts = {});

}  // namespace lucid::random
