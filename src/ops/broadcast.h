// NumPy broadcasting for elementwise loops.
#pragma once

#include <vector>

#include "lucid/tensor.h"

namespace lucid::ops {

// The broadcast shape of a and b, or ValueError naming fn.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* fn);

// Element strides of `in` viewed as `out` (0 on broadcast axes), right-aligned.
std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out);

// out[i] = f(a[ia], b[ib]) over every index of `shape`, where the operands are
// read with the given (possibly zero) strides.
template <class T, class F>
void broadcast_loop(const Shape& shape, const T* a, const std::vector<std::int64_t>& sa, const T* b,
                    const std::vector<std::int64_t>& sb, T* out, F&& f) {
  const std::int64_t n = shape.numel();
  if (n == 0) return;
  const std::size_t r = shape.size();
  if (r == 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  const std::int64_t inner = shape[r - 1];
  const std::int64_t ia = sa[r - 1], ib = sb[r - 1];
  std::vector<std::int64_t> idx(r, 0);
  std::int64_t oa = 0, ob = 0;
  for (std::int64_t base = 0; base < n; base += inner) {
    for (std::int64_t j = 0; j < inner; ++j) out[base + j] = f(a[oa + j * ia], b[ob + j * ib]);
    // advance the outer index (all axes but the last)
    for (std::size_t ax = r - 1; ax-- > 0;) {
      ++idx[ax];
      oa += sa[ax];
      ob += sb[ax];
      if (idx[ax] < shape[ax]) break;
      oa -= sa[ax] * shape[ax];
      ob -= sb[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
}

}  // namespace lucid::ops
