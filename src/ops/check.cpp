#include "check.h"

namespace lucid::ops {

std::string join(const std::vector<std::int64_t>& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  if (v.size() == 1) s += ',';
  return s + ")";
}

void require_defined(const Tensor& t, const char* fn, const char* param) {
  if (!t.defined()) throw TypeError(std::string("[") + fn + "] " + param + " is undefined (None)");
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* fn, const char* what) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw ValueError(std::string("[") + fn + "] " + what + " overflows 64 bits");
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* fn, const char* what) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw ValueError(std::string("[") + fn + "] " + what + " overflows 64 bits");
  return r;
}

std::int64_t checked_numel(const Shape& shape, const char* fn, const char* what) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    std::int64_t r;
    if (__builtin_mul_overflow(n, d, &r))
      throw ValueError(std::string("[") + fn + "] the element count of the " + what + " shape " +
                       shape.str() + " overflows 64 bits");
    n = r;
  }
  if (n > (std::int64_t{1} << 60))  // 8-byte elements would overflow the byte count
    throw ValueError(std::string("[") + fn + "] the " + what + " shape " + shape.str() + " has " +
                     std::to_string(n) + " elements; its byte count overflows 64 bits");
  return n;
}

std::int64_t wrap_axis(std::int64_t axis, std::int64_t ndim, const char* fn) {
  const std::int64_t a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    throw ValueError(std::string("[") + fn + "] axis=" + std::to_string(axis) +
                     " is out of range for a " + std::to_string(ndim) + "-D tensor");
  return a;
}

Tensor alias(const Tensor& t, const Shape& shape) {
  return Tensor::from_blob(t.raw_data(), shape, t.dtype(), t.storage());
}

}  // namespace lucid::ops
