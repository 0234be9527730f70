// Thin typed wrappers over the CBLAS matrix product (row-major). OpenBLAS
// picks its micro-kernel for the CPU at run time (AVX-512, AVX2, ...);
// OPENBLAS_CORETYPE=Haswell forces the AVX2 one.
#pragma once

#include <cstdint>

namespace lucid::kernels {

// C[M x N] = A[M x K] * B[K x N] + beta * C
template <class T>
void gemm_nn(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
             std::int64_t ldb, T beta, T* C, std::int64_t ldc);
// C[M x N] = A[M x K] * B[N x K]^T + beta * C
template <class T>
void gemm_nt(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
             std::int64_t ldb, T beta, T* C, std::int64_t ldc);
// C[M x N] = A[K x M]^T * B[K x N] + beta * C
template <class T>
void gemm_tn(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
             std::int64_t ldb, T beta, T* C, std::int64_t ldc);
// True when every size and leading dimension of a problem fits BLAS's int.
bool blas_fits(std::int64_t v);
// The BLAS kernel family in use (e.g. "Zen", "Haswell", "SkylakeX").
const char* blas_core_name();

}  // namespace lucid::kernels
