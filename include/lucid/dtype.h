// lucid/dtype.h — element types.
//
// lucid computes in float32 (the default of every factory) and float64. An op
// that mixes the two computes in float64.
#pragma once

#include <cstddef>
#include <string>

namespace lucid {

enum class DType { Float32, Float64 };

inline constexpr DType float32 = DType::Float32;
inline constexpr DType float64 = DType::Float64;

// "float32" or "float64".
const char* dtype_name(DType dt);
// Calls f(T{}) with T = float or double for dt: one place turns a runtime
// dtype into a C++ type.
template <class F>
decltype(auto) dispatch_dtype(DType dt, F&& f) {
  return dt == DType::Float32 ? f(float{}) : f(double{});
}

// Bytes per element.
std::size_t dtype_size(DType dt);
// The dtype two operands compute in: float64 if either is float64.
DType promote(DType a, DType b);

}  // namespace lucid
