// The instruction set of a file compiled once per ISA (conv_direct.cpp,
// conv_blocked.cpp, conv_blocked_grad.cpp, conv_depthwise.cpp). CMake
// defines LUCID_ISA (the namespace: avx512, avx2, base) and LUCID_ISA_LEVEL
// (2, 1, 0); the file itself is compiled for baseline x86-64, and only the
// code between LUCID_ISA_BEGIN and LUCID_ISA_END targets the wider set.
// Headers are included before LUCID_ISA_BEGIN, so the inline functions and
// templates they define (the standard library's among them) are compiled for
// the baseline: the one copy of each that the linker keeps runs on every
// x86-64 CPU.
#pragma once

#if LUCID_ISA_LEVEL == 2
#define LUCID_ISA_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2\")")
#elif LUCID_ISA_LEVEL == 1
#define LUCID_ISA_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,bmi2\")")
#else
#define LUCID_ISA_BEGIN _Pragma("GCC push_options")
#endif
#define LUCID_ISA_END _Pragma("GCC pop_options")

// Unrolls a register tile's loop over its accumulators completely, early
// enough that GCC keeps them in registers: without it GCC 12 kept an array
// of 8-12 AVX2 accumulators in memory and stored each one after every
// multiply-add (the AVX2 gather of U1's shape at 41-43 GFLOP/s on one
// thread, 65-80 with it).
#define LUCID_UNROLL _Pragma("GCC unroll 64")
