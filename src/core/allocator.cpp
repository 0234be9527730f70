// A caching allocator: freed tensor memory is kept, by exact size, and handed
// to the next tensor of that size, so a training loop in its steady state
// faults in no fresh pages. Fresh blocks come from system_alloc (huge pages
// for large ones).
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "lucid/error.h"
#include "system_memory.h"
#include "tensor_impl.h"

namespace lucid {
namespace {

constexpr std::size_t kAlign = kStorageAlign;
constexpr std::size_t kMaxCached = std::size_t{4} << 30;  // never keep more than 4 GiB idle

struct Cache {
  std::mutex mu;
  std::multimap<std::size_t, void*> free_blocks;
  std::size_t cached = 0;
  std::size_t allocated = 0;
};

Cache& cache() {
  static Cache* c = new Cache();  // intentionally leaked: outlives static tensors
  return *c;
}

std::size_t round_size(std::size_t bytes) {
  if (bytes == 0) return kAlign;
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

void release(void* p, std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.allocated -= bytes;
  if (c.cached + bytes > kMaxCached) {
    std::free(p);
    return;
  }
  c.free_blocks.emplace(bytes, p);
  c.cached += bytes;
}

}  // namespace

std::shared_ptr<void> allocate(std::size_t bytes) {
  if (bytes > (std::size_t{1} << 62))
    throw MemoryError("[allocate] cannot allocate " + std::to_string(bytes) + " bytes");
  const std::size_t size = round_size(bytes);
  Cache& c = cache();
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end()) {
      p = it->second;
      c.free_blocks.erase(it);
      c.cached -= size;
    }
    c.allocated += size;
  }
  if (p == nullptr) {
    p = system_alloc(size);
    if (p == nullptr) {
      // Give the cache back to the system and try once more.
      empty_cache();
      p = system_alloc(size);
    }
    if (p == nullptr) {
      std::lock_guard<std::mutex> lock(c.mu);
      c.allocated -= size;
      throw MemoryError("[allocate] out of memory: cannot allocate " + std::to_string(bytes) +
                        " bytes");
    }
  }
  return std::shared_ptr<void>(p, [size](void* q) { release(q, size); });
}

std::size_t empty_cache() {
  Cache& c = cache();
  std::vector<void*> blocks;
  std::size_t freed = 0;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [size, p] : c.free_blocks) blocks.push_back(p);
    c.free_blocks.clear();
    freed = c.cached;
    c.cached = 0;
  }
  for (void* p : blocks) std::free(p);
  return freed;
}

std::size_t cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().cached;
}

std::size_t allocated_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().allocated;
}

}  // namespace lucid
