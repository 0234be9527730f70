// Memory from the system for tensor storage (the caching allocator's fresh
// blocks, and the kernel timer's buffers, so that both see the same pages).
#pragma once

#include <cstddef>
#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lucid {

inline constexpr std::size_t kStorageAlign = 64;
inline constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Blocks of at least this many bytes start on a huge-page boundary and ask
// the kernel for transparent huge pages (where it grants them on request,
// the madvise setting): a 32-128 MiB activation then takes a TLB entry per
// 2 MiB instead of per 4 KiB, and faults in 512 times fewer pages on its
// first use. Smaller blocks would waste up to a huge page each.
inline constexpr std::size_t kHugeMin = std::size_t{4} << 20;

// size bytes (a multiple of kStorageAlign), or null; free with std::free.
inline void* system_alloc(std::size_t size) {
  if (size < kHugeMin) return std::aligned_alloc(kStorageAlign, size);
  const std::size_t whole = (size + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, whole);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p) madvise(p, whole, MADV_HUGEPAGE);  // advice only: refused, the pages stay small
#endif
  return p;
}

}  // namespace lucid
