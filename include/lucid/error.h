// lucid/error.h — the exceptions lucid throws.
//
// Every error derives from lucid::Error (itself a std::runtime_error), and its
// message names the function, the parameter and the offending value, e.g.
//   [conv_transpose3d] output_padding[1]=2 must be smaller than stride[1]=2 or dilation[1]=1
// The Python package maps ValueError -> ValueError, TypeError -> TypeError,
// MemoryError -> MemoryError and the rest (AutogradError) -> RuntimeError.
#pragma once

#include <stdexcept>
#include <string>

namespace lucid {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An argument with a wrong value or shape.
class ValueError : public Error {
 public:
  using Error::Error;
};

// An argument of a wrong kind (dtype, an undefined tensor, a wrong argument type).
class TypeError : public Error {
 public:
  using Error::Error;
};

// An allocation the machine cannot make.
class MemoryError : public Error {
 public:
  using Error::Error;
};

// Misuse of the autograd graph (backward through a freed graph, no grad_fn, ...).
class AutogradError : public Error {
 public:
  using Error::Error;
};

}  // namespace lucid
