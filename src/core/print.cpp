// Printing: NumPy-like nested brackets, elided past 1000 elements.
#include <cstdio>
#include <ostream>
#include <sstream>

#include "lucid/tensor.h"

namespace lucid {
namespace {

void print_rec(std::ostringstream& os, const Tensor& t, std::size_t axis, std::int64_t offset,
               bool elide, int indent) {
  const Shape& s = t.shape();
  const std::int64_t n = s[axis];
  std::int64_t stride = 1;
  for (std::size_t a = axis + 1; a < s.size(); ++a) stride *= s[a];
  os << '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (elide && n > 6 && i == 3) {
      os << "...";
      i = n - 3;
      os << (axis + 1 == s.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
    }
    if (axis + 1 == s.size()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4g", t.flat(offset + i));
      os << buf;
    } else {
      print_rec(os, t, axis + 1, offset + i * stride, elide, indent + 1);
    }
    if (i + 1 < n) os << (axis + 1 == s.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(";
  if (ndim() == 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", flat(0));
    os << buf;
  } else {
    print_rec(os, *this, 0, 0, numel() > 1000, 7);
  }
  os << ", shape=" << shape() << ", dtype=" << dtype_name(dtype());
  if (requires_grad()) os << ", requires_grad=True";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace lucid
