// The bias gradients: out[c] = sum over samples and positions of in[n, c, s].
// It reads the whole output gradient, so it must run at memory speed: eight
// partial sums in double per channel (as exact as one running sum, and not
// waiting on each addition), combined in a fixed order. One thread per
// channel, so the result does not depend on the thread count.
#include <cstdint>

#include "conv.h"

namespace lucid::kernels {

template <class T>
void channel_sum(std::int64_t N, std::int64_t C, std::int64_t S, const T* in, T* out) {
  constexpr int L = 8;
#pragma omp parallel for schedule(static) if (N * C * S > (1 << 16))
  for (std::int64_t c = 0; c < C; ++c) {
    double acc[L] = {};
    for (std::int64_t n = 0; n < N; ++n) {
      const T* r = in + (n * C + c) * S;
      std::int64_t s = 0;
      for (; s + L <= S; s += L)
        for (int l = 0; l < L; ++l) acc[l] += static_cast<double>(r[s + l]);
      for (; s < S; ++s) acc[s % L] += static_cast<double>(r[s]);
    }
    out[c] = static_cast<T>(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
  }
}

template void channel_sum<float>(std::int64_t, std::int64_t, std::int64_t, const float*, float*);
template void channel_sum<double>(std::int64_t, std::int64_t, std::int64_t, const double*, double*);

}  // namespace lucid::kernels
