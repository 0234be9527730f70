// A sum of many values in double with eight partial sums combined in a fixed
// order: as exact as one running sum, and not waiting on each addition (the
// bias gradients read whole output gradients at memory speed with it).
#pragma once

#include <cstdint>

namespace lucid::kernels {

struct PartialSums {
  double acc[8] = {};
  template <class T>
  void add(const T* r, std::int64_t n) {
    std::int64_t s = 0;
    for (; s + 8 <= n; s += 8)
      for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(r[s + l]);
    for (; s < n; ++s) acc[s % 8] += static_cast<double>(r[s]);
  }
  // The same for a long run (a plane's values), with four sets of eight
  // running side by side, so that one set's additions do not wait on each
  // other's, combined into acc in a fixed order at the end. For callers
  // compiled for AVX2 or better (always inlined into them: this header is
  // included outside the kernels' LUCID_ISA_BEGIN); the baseline build's
  // 16 registers do not hold the sets (channel_sum: 3% slower).
  template <class T>
  [[gnu::always_inline]] inline void add_long(const T* r, std::int64_t n) {
    std::int64_t s = 0;
    if (n >= 64) {
      double q[4][8] = {};
      for (; s + 32 <= n; s += 32)
        for (int k = 0; k < 4; ++k)
          for (int l = 0; l < 8; ++l) q[k][l] += static_cast<double>(r[s + 8 * k + l]);
      for (int l = 0; l < 8; ++l) acc[l] += (q[0][l] + q[1][l]) + (q[2][l] + q[3][l]);
    }
    add(r + s, n - s);
  }
  double total() const { return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); }
};

}  // namespace lucid::kernels
