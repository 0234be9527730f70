// lucid/ops.h — differentiable tensor operations.
//
// Binary elementwise ops broadcast as NumPy does and compute in float64 when
// the operands' dtypes differ. A scalar operand takes the tensor's dtype.
// Every op validates its arguments and throws (lucid/error.h) before any work.
#pragma once

#include <cstdint>
#include <vector>

#include "lucid/tensor.h"

namespace lucid {

// ---- elementwise, broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient goes to a where a >= b
Tensor minimum(const Tensor& a, const Tensor& b);  // gradient goes to a where a <= b

// ---- elementwise, unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);  // gradient 0 at 0
Tensor pow(const Tensor& x, double exponent);
Tensor relu(const Tensor& x);  // gradient 0 at 0
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// Limits each element to [low, high]; the gradient passes where low <= x <= high.
Tensor clamp(const Tensor& x, double low, double high);
// A recorded dtype conversion (the gradient converts back).
Tensor to_dtype(const Tensor& x, DType dtype);

// ---- reductions ----
// Sum / mean of all elements: a 0-d tensor.
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);
// Over the given axes (negative axes count from the end).
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim = false);
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Repeats x to `shape` by NumPy broadcasting.
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// ---- shape ----
// One size may be -1 (inferred). Shares memory with x.
Tensor reshape(const Tensor& x, const Shape& shape);
// Merges axes start..end (inclusive) into one.
Tensor flatten(const Tensor& x, std::int64_t start_axis = 0, std::int64_t end_axis = -1);
// Concatenates along an axis; all other sizes must agree.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t axis = 0);

// ---- operators ----
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// The largest absolute elementwise difference (for tests and benchmarks).
// Shapes must match. Not recorded.
double max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace lucid
