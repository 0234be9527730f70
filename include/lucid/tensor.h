// lucid/tensor.h — the Tensor: a shared handle to a dense, contiguous,
// row-major array of float32 or float64, plus its autograd state.
//
// Copying a Tensor copies the handle (both copies see the same data and the
// same .grad), as in PyTorch. Sizes are 64-bit. A default-constructed Tensor
// is "undefined" (defined() == false); it stands for "no tensor" (e.g. grad()
// before any backward, or a missing bias).
//
// Factories take a TensorOptions, written with designated initializers:
//   auto x = lucid::Tensor::randn({1, 4, 8, 8, 8}, {.requires_grad = true});
//   auto y = lucid::Tensor::zeros({3}, {.dtype = lucid::float64});
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "lucid/dtype.h"
#include "lucid/shape.h"

namespace lucid {

struct TensorOptions {
  DType dtype = DType::Float32;
  bool requires_grad = false;
};

class TensorImpl;  // storage, shape, dtype and autograd fields (core)
class Node;        // a recorded operation (lucid/autograd.h)

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  // ---- factories (all default to float32, requires_grad = false) ----
  // Uninitialised memory (reused from lucid's allocator cache when possible).
  static Tensor empty(const Shape& shape, TensorOptions opts = {});
  static Tensor zeros(const Shape& shape, TensorOptions opts = {});
  static Tensor ones(const Shape& shape, TensorOptions opts = {});
  static Tensor full(const Shape& shape, double value, TensorOptions opts = {});
  // Standard normal / uniform [0, 1) samples from the global generator
  // (lucid::random::seed makes them reproducible).
  static Tensor randn(const Shape& shape, TensorOptions opts = {});
  static Tensor rand(const Shape& shape, TensorOptions opts = {});
  // A 0-d tensor.
  static Tensor scalar(double value, TensorOptions opts = {});
  // Copies values (converted to opts.dtype); values.size() must equal shape.numel().
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            TensorOptions opts = {});
  // Wraps memory owned elsewhere without copying. `owner` keeps it alive; the
  // memory must be contiguous, row-major, and at least numel elements long.
  static Tensor from_blob(void* data, const Shape& shape, DType dtype,
                          std::shared_ptr<void> owner);

  // ---- properties ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  std::int64_t ndim() const;
  std::int64_t numel() const;
  // Size of one axis; negative axes count from the end.
  std::int64_t size(std::int64_t axis) const;
  DType dtype() const;

  // Typed access to the elements. Throws TypeError when T does not match dtype().
  template <class T> T* data();
  template <class T> const T* data() const;
  void* raw_data() const;
  // The object keeping the memory alive (for zero-copy views from bindings).
  std::shared_ptr<void> storage() const;

  // The value of a one-element tensor, as a double. Throws ValueError otherwise.
  double item() const;
  // Element at a flat (row-major) index, as a double.
  double flat(std::int64_t index) const;
  // All elements as doubles, row-major.
  std::vector<double> to_vector() const;

  // ---- autograd ----
  bool requires_grad() const;
  // Only leaves (tensors not produced by a recorded op) may change this.
  Tensor& set_requires_grad(bool requires_grad = true);
  bool is_leaf() const;
  // The accumulated gradient, or an undefined Tensor before any backward.
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  // Drops the accumulated gradient (grad() becomes undefined).
  void zero_grad();
  // Reverse-mode differentiation from this tensor. Without `gradient`, the
  // upstream gradient is ones of this tensor's shape (also for non-scalars).
  // The graph is freed afterwards unless retain_graph; a second backward
  // through a freed graph throws AutogradError.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  std::shared_ptr<Node> grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> fn);
  // Same data, no autograd history, requires_grad = false.
  Tensor detach() const;
  // A copy of the data (not recorded).
  Tensor clone() const;
  // A copy in another dtype (not recorded; see lucid::to_dtype for the op).
  Tensor cast(DType dtype) const;

  // ---- printing ----
  // "Tensor(shape=(2, 3), dtype=float32, requires_grad=True)\n[[...]]"-like text.
  std::string str() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Releases the memory lucid's allocator keeps for reuse; returns the bytes freed.
std::size_t empty_cache();
// Bytes the allocator holds for reuse, and bytes currently handed out to tensors.
std::size_t cached_bytes();
std::size_t allocated_bytes();

}  // namespace lucid
