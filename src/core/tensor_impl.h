// The state behind a Tensor handle. Private to core.
#pragma once

#include <memory>

#include "lucid/autograd.h"
#include "lucid/tensor.h"

namespace lucid {

class TensorImpl {
 public:
  std::shared_ptr<void> storage;  // owns the memory `data` points into
  void* data = nullptr;
  Shape shape;
  std::int64_t numel = 0;
  DType dtype = DType::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
};

// Allocates `bytes` (64-byte aligned) from the caching allocator; throws MemoryError.
std::shared_ptr<void> allocate(std::size_t bytes);

}  // namespace lucid
