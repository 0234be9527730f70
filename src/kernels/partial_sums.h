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
  double total() const { return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); }
};

}  // namespace lucid::kernels
