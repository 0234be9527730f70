// Argument checks shared by the ops. Every message starts with "[fn]".
#pragma once

#include <string>
#include <vector>

#include "lucid/error.h"
#include "lucid/tensor.h"

namespace lucid::ops {

std::string join(const std::vector<std::int64_t>& v);
// Throws TypeError "[fn] param is undefined (None)" when t is undefined.
void require_defined(const Tensor& t, const char* fn, const char* param);
// a * b, throwing ValueError "[fn] ... overflows 64 bits" on overflow.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* fn, const char* what);
std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* fn, const char* what);
// The element count of `shape`, throwing ValueError naming fn on overflow.
std::int64_t checked_numel(const Shape& shape, const char* fn, const char* what);
// Wraps axis into [0, ndim) or throws ValueError naming fn.
std::int64_t wrap_axis(std::int64_t axis, std::int64_t ndim, const char* fn);
// The same memory seen with another shape (not recorded).
Tensor alias(const Tensor& t, const Shape& shape);

}  // namespace lucid::ops
