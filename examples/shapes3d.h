// A synthetic volumetric dataset for the demos: random solid spheres, cubes
// and tori in size^3 volumes (1 inside, 0 outside), made in memory.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

#include "lucid/lucid.h"

namespace demo {

// `count` volumes of shape (count, 1, size, size, size), float32.
inline lucid::Tensor make_shapes(std::int64_t count, std::int64_t size, std::uint64_t seed) {
  lucid::Tensor vol = lucid::Tensor::zeros({count, 1, size, size, size});
  float* v = vol.data<float>();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  const double S = static_cast<double>(size);
  for (std::int64_t n = 0; n < count; ++n) {
    const int kind = static_cast<int>(n % 3);  // sphere, cube, torus in turn
    const double r = S * (0.15 + 0.15 * U(rng));
    const double cz = S * (0.3 + 0.4 * U(rng)), cy = S * (0.3 + 0.4 * U(rng)), cx = S * (0.3 + 0.4 * U(rng));
    const double tube = r * (0.3 + 0.2 * U(rng));
    const int axis = static_cast<int>(U(rng) * 3);
    float* out = v + n * size * size * size;
    for (std::int64_t z = 0; z < size; ++z)
      for (std::int64_t y = 0; y < size; ++y)
        for (std::int64_t x = 0; x < size; ++x) {
          const double dz = z + 0.5 - cz, dy = y + 0.5 - cy, dx = x + 0.5 - cx;
          bool inside = false;
          if (kind == 0) {
            inside = dz * dz + dy * dy + dx * dx <= r * r;
          } else if (kind == 1) {
            inside = std::abs(dz) <= 0.8 * r && std::abs(dy) <= 0.8 * r && std::abs(dx) <= 0.8 * r;
          } else {
            // torus around `axis`: distance from the ring of radius r
            const double a = axis == 0 ? dz : axis == 1 ? dy : dx;
            const double p = axis == 0 ? dy : dz, q = axis == 1 ? dx : (axis == 0 ? dx : dy);
            const double ring = std::sqrt(p * p + q * q) - r;
            inside = ring * ring + a * a <= tube * tube;
          }
          out[(z * size + y) * size + x] = inside ? 1.0f : 0.0f;
        }
  }
  return vol;
}

}  // namespace demo
