#include <ostream>
#include <sstream>

#include "lucid/dtype.h"
#include "lucid/error.h"
#include "lucid/shape.h"

namespace lucid {

const char* dtype_name(DType dt) { return dt == DType::Float32 ? "float32" : "float64"; }
std::size_t dtype_size(DType dt) { return dt == DType::Float32 ? 4 : 8; }
DType promote(DType a, DType b) {
  return (a == DType::Float64 || b == DType::Float64) ? DType::Float64 : DType::Float32;
}

std::int64_t Shape::at(std::int64_t i) const {
  const std::int64_t n = ndim();
  const std::int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    throw ValueError("[Shape] axis " + std::to_string(i) + " is out of range for shape " + str());
  return dims_[static_cast<std::size_t>(j)];
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims_) {
    if (d < 0) throw ValueError("[Shape] negative size " + std::to_string(d) + " in shape " + str());
    if (__builtin_mul_overflow(n, d, &n))
      throw ValueError("[Shape] the element count of shape " + str() + " overflows 64 bits");
  }
  return n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) os << ", ";
    os << dims_[i];
  }
  if (dims_.size() == 1) os << ',';
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace lucid
