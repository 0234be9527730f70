#include "blas.h"

#include <cblas.h>

#include <climits>
#include <type_traits>
#include <mutex>

namespace lucid::kernels {
namespace {

// lucid runs its own threads (OpenMP) and calls BLAS from each of them on
// disjoint blocks, so BLAS itself must stay single-threaded: that also makes
// results independent of the thread count.
void init_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

int I(std::int64_t v) { return static_cast<int>(v); }

}  // namespace

bool blas_fits(std::int64_t v) { return v >= 0 && v <= INT_MAX; }

const char* blas_core_name() { return openblas_get_corename(); }

// The one call into CBLAS, for both element types and every transposition.
template <class T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t M, std::int64_t N, std::int64_t K, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  init_blas();
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, I(M), I(N), I(K), 1.0f, A, I(lda), B, I(ldb), beta, C, I(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, I(M), I(N), I(K), 1.0, A, I(lda), B, I(ldb), beta, C, I(ldc));
}

template <class T>
void gemm_nn(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
             std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  gemm<T>(CblasNoTrans, CblasNoTrans, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
template <class T>
void gemm_nt(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
             std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  gemm<T>(CblasNoTrans, CblasTrans, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
template <class T>
void gemm_tn(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
             std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  gemm<T>(CblasTrans, CblasNoTrans, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

#define LUCID_INSTANTIATE(T)                                                                                   \
  template void gemm_nn<T>(std::int64_t, std::int64_t, std::int64_t, const T*, std::int64_t, const T*,         \
                           std::int64_t, T, T*, std::int64_t);                                                 \
  template void gemm_nt<T>(std::int64_t, std::int64_t, std::int64_t, const T*, std::int64_t, const T*,         \
                           std::int64_t, T, T*, std::int64_t);                                                 \
  template void gemm_tn<T>(std::int64_t, std::int64_t, std::int64_t, const T*, std::int64_t, const T*,         \
                           std::int64_t, T, T*, std::int64_t);
LUCID_INSTANTIATE(float)
LUCID_INSTANTIATE(double)
#undef LUCID_INSTANTIATE

}  // namespace lucid::kernels
