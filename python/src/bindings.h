// Shared declarations of the binding files. Bindings only convert Python
// values to C++ ones, call the C++ API, and release the GIL around compute.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "lucid/lucid.h"

namespace py = pybind11;

namespace lucid::python {

// int | tuple[int, ...] | list[int] -> IntArg; TypeError naming fn and param otherwise.
IntArg to_int_arg(py::handle v, const char* fn, const char* param);
// IntArg or 'same' / 'valid' (any string is passed on; the op validates it).
PaddingArg to_padding(py::handle v, const char* fn);
// None -> default; lucid.float32 / lucid.float64 / numpy float dtypes -> DType.
DType to_dtype(py::handle v, DType fallback, const char* fn);
// A shape from *args: ints, or one tuple/list of ints.
Shape to_shape_args(const py::args& args, const char* fn);
Shape to_shape(py::handle v, const char* fn);
// A Tensor from a Tensor (shared), a NumPy array (shared when the memory
// allows), nested lists or a scalar (copied).
Tensor to_tensor(py::handle data, py::handle dtype, bool requires_grad, const char* fn);
// Optional tensor argument: None -> undefined Tensor.
Tensor optional_tensor(py::handle v, const char* fn, const char* param);
// Tensor argument, or a Python number / array-like made into one (dtype of `like`).
Tensor operand(py::handle v, const Tensor& like, const char* fn);
// A NumPy view of t's memory that keeps it alive.
py::array to_numpy(const Tensor& t);

void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_nn(py::module_& m);

}  // namespace lucid::python
