#include "blas.h"

#include <cblas.h>

#include <climits>
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

template <>
void gemm_nn<float>(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                    const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  init_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, I(M), I(N), I(K), 1.0f, A, I(lda), B, I(ldb), beta, C,
              I(ldc));
}
template <>
void gemm_nn<double>(std::int64_t M, std::int64_t N, std::int64_t K, const double* A, std::int64_t lda,
                     const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc) {
  init_blas();
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, I(M), I(N), I(K), 1.0, A, I(lda), B, I(ldb), beta, C,
              I(ldc));
}
template <>
void gemm_nt<float>(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                    const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  init_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, I(M), I(N), I(K), 1.0f, A, I(lda), B, I(ldb), beta, C,
              I(ldc));
}
template <>
void gemm_nt<double>(std::int64_t M, std::int64_t N, std::int64_t K, const double* A, std::int64_t lda,
                     const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc) {
  init_blas();
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, I(M), I(N), I(K), 1.0, A, I(lda), B, I(ldb), beta, C,
              I(ldc));
}

template <>
void gemm_tn<float>(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                    const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  init_blas();
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I(M), I(N), I(K), 1.0f, A, I(lda), B, I(ldb), beta, C,
              I(ldc));
}
template <>
void gemm_tn<double>(std::int64_t M, std::int64_t N, std::int64_t K, const double* A, std::int64_t lda,
                     const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc) {
  init_blas();
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I(M), I(N), I(K), 1.0, A, I(lda), B, I(ldb), beta, C,
              I(ldc));
}

}  // namespace lucid::kernels
