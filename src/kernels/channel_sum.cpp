// The bias gradients: out[c] = sum over samples and positions of in[n, c, s].
// It reads the whole output gradient, so it must run at memory speed
// (PartialSums). One thread per channel, so the result does not depend on
// the thread count.
#include <cstdint>

#include "conv.h"
#include "partial_sums.h"

namespace lucid::kernels {

template <class T>
void channel_sum(std::int64_t N, std::int64_t C, std::int64_t S, const T* in, T* out) {
#pragma omp parallel for schedule(static) if (N * C * S > (1 << 16))
  for (std::int64_t c = 0; c < C; ++c) {
    PartialSums sum;
    for (std::int64_t n = 0; n < N; ++n) sum.add(in + (n * C + c) * S, S);
    out[c] = static_cast<T>(sum.total());
  }
}

template void channel_sum<float>(std::int64_t, std::int64_t, std::int64_t, const float*, float*);
template void channel_sum<double>(std::int64_t, std::int64_t, std::int64_t, const double*, double*);

}  // namespace lucid::kernels
