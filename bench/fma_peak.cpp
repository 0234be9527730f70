// fma_peak: the machine's float32 multiply-add peak, which bounds every
// kernel (the benchmark's ×floor column rests on the matrix-product peak,
// which lies below it). Each OpenMP thread runs a loop of twelve
// independent chains of vfmadd231ps, 512-bit where the CPU has AVX-512 and
// 256-bit where it has AVX2 (both are timed where both exist), written in
// assembly so that the compiler can neither drop nor reorder them.
//
//   fma_peak          (threads: OMP_NUM_THREADS, default the cores)
//
// Prints GFLOP/s per thread and in all, the best of three tries.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace {

constexpr long kIters = 20000000;  // 12 multiply-adds each: about 0.07 s per 512-bit try at 117 GFLOP/s

#define LUCID_FMA12(R, A, B)                                                                                          \
  "vfmadd231ps %%" A ", %%" B ", %%" R "0\n vfmadd231ps %%" A ", %%" B ", %%" R "1\n vfmadd231ps %%" A ", %%" B       \
  ", %%" R "2\n vfmadd231ps %%" A ", %%" B ", %%" R "3\n vfmadd231ps %%" A ", %%" B ", %%" R "4\n vfmadd231ps %%" A \
  ", %%" B ", %%" R "5\n vfmadd231ps %%" A ", %%" B ", %%" R "6\n vfmadd231ps %%" A ", %%" B ", %%" R               \
  "7\n vfmadd231ps %%" A ", %%" B ", %%" R "8\n vfmadd231ps %%" A ", %%" B ", %%" R "9\n vfmadd231ps %%" A ", %%" B  \
  ", %%" R "10\n vfmadd231ps %%" A ", %%" B ", %%" R "11\n"

// A function NAME, built for TARGET, returning the seconds kIters
// iterations of twelve multiply-adds in registers R (zmm or ymm) take.
#define LUCID_FMA_LOOP(NAME, TARGET, R)                                                                       \
  __attribute__((target(TARGET))) double NAME() {                                                             \
    long n = kIters;                                                                                          \
    const auto t0 = std::chrono::steady_clock::now();                                                         \
    asm volatile("vxorps %%xmm14, %%xmm14, %%xmm14\n vxorps %%xmm15, %%xmm15, %%xmm15\n"                      \
                 "1:\n" LUCID_FMA12(R, R "14", R "15") "dec %0\n jnz 1b\n"                                     \
                 : "+r"(n)                                                                                    \
                 :                                                                                            \
                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
                   "xmm14", "xmm15", "cc");                                                                   \
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();                      \
  }
LUCID_FMA_LOOP(zmm_loop, "avx512f", "zmm")
LUCID_FMA_LOOP(ymm_loop, "avx2,fma", "ymm")

// Every thread runs `loop` at once; returns each thread's GFLOP/s (the best of three tries).
std::vector<double> per_thread(double (*loop)(), int lanes) {
  const int threads = omp_get_max_threads();
  std::vector<double> best(static_cast<std::size_t>(threads), 0.0);
  for (int t = 0; t < 3; ++t) {
#pragma omp parallel num_threads(threads)
    {
      const double s = loop();
      double& b = best[static_cast<std::size_t>(omp_get_thread_num())];
      b = std::max(b, 2.0 * lanes * 12 * static_cast<double>(kIters) / s / 1e9);
    }
  }
  return best;
}

void report(const char* name, const std::vector<double>& g) {
  double sum = 0;
  std::printf("%s: ", name);
  for (std::size_t i = 0; i < g.size(); ++i) {
    std::printf("%s%.1f", i ? " + " : "", g[i]);
    sum += g[i];
  }
  std::printf(" = %.1f GFLOP/s float32 on %zu thread(s)\n", sum, g.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s (no arguments; threads from OMP_NUM_THREADS)\n", argv[0]);
    return 2;
  }
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("no AVX2 and FMA on this CPU: nothing to time\n");
    return 0;
  }
  if (__builtin_cpu_supports("avx512f")) report("512-bit vfmadd231ps", per_thread(zmm_loop, 16));
  report("256-bit vfmadd231ps", per_thread(ymm_loop, 8));
  return 0;
}
