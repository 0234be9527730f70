// Python values -> C++ values.
#include <cstring>

#include "bindings.h"

namespace lucid::python {
namespace {

[[noreturn]] void type_error(const std::string& msg) { throw lucid::TypeError(msg); }

std::string type_name(py::handle v) { return py::str(py::type::of(v).attr("__name__")); }

bool is_int(py::handle v) {
  return (py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v)) ||
         (py::hasattr(v, "__index__") && !py::isinstance<py::float_>(v) && !py::isinstance<py::bool_>(v) &&
          !py::isinstance<Tensor>(v) && !py::isinstance<py::array>(v));
}

std::int64_t as_int(py::handle v, const char* fn, const char* param) {
  if (!is_int(v)) type_error(std::string("[") + fn + "] " + param + " must be an int or a tuple of ints, got " + type_name(v) + " " + std::string(py::repr(v)));
  return py::cast<std::int64_t>(py::int_(py::reinterpret_borrow<py::object>(v)));
}

}  // namespace

IntArg to_int_arg(py::handle v, const char* fn, const char* param) {
  if (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) {
    std::vector<std::int64_t> out;
    for (py::handle e : v) out.push_back(as_int(e, fn, param));
    return IntArg(out);
  }
  return IntArg(as_int(v, fn, param));
}

PaddingArg to_padding(py::handle v, const char* fn) {
  if (py::isinstance<py::str>(v)) return PaddingArg(py::cast<std::string>(v));
  const IntArg a = to_int_arg(v, fn, "padding");
  return a.is_scalar() ? PaddingArg(a.values()[0]) : PaddingArg(a.values());
}

DType to_dtype(py::handle v, DType fallback, const char* fn) {
  if (v.is_none()) return fallback;
  if (py::isinstance<DType>(v)) return py::cast<DType>(v);
  // numpy dtypes and type objects, and the Python `float` type (float64, as in NumPy).
  try {
    py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(v));
    if (dt.is(py::dtype::of<float>()) || dt.equal(py::dtype::of<float>())) return DType::Float32;
    if (dt.equal(py::dtype::of<double>())) return DType::Float64;
  } catch (const py::error_already_set&) {
  }
  type_error(std::string("[") + fn + "] dtype=" + std::string(py::repr(v)) +
             " is not supported; lucid computes in lucid.float32 and lucid.float64");
}

Shape to_shape(py::handle v, const char* fn) {
  Shape s;
  if (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) {
    for (py::handle e : v) s.push_back(as_int(e, fn, "shape"));
  } else {
    s.push_back(as_int(v, fn, "shape"));
  }
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] < 0)
      throw lucid::ValueError(std::string("[") + fn + "] shape=" + s.str() + " has a negative size");
  return s;
}

Shape to_shape_args(const py::args& args, const char* fn) {
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0])))
    return to_shape(args[0], fn);
  return to_shape(py::tuple(args), fn);
}

Tensor to_tensor(py::handle data, py::handle dtype_arg, bool requires_grad, const char* fn) {
  if (data.is_none()) type_error(std::string("[") + fn + "] data is None; a tensor, array, list or number is needed");
  if (py::isinstance<Tensor>(data)) {
    Tensor t = py::cast<Tensor>(data).detach();
    const DType dt = to_dtype(dtype_arg, t.dtype(), fn);
    if (dt != t.dtype()) t = t.cast(dt);
    t.set_requires_grad(requires_grad);
    return t;
  }
  py::module_ np = py::module_::import("numpy");
  const bool is_array = py::isinstance<py::array>(data);
  py::array arr;
  try {
    arr = np.attr("asarray")(data);
  } catch (const py::error_already_set& e) {
    type_error(std::string("[") + fn + "] cannot make a tensor from " + type_name(data) + ": " + e.what());
  }
  const char kind = arr.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    type_error(std::string("[") + fn + "] cannot make a tensor from data of NumPy dtype " +
               std::string(py::str(arr.dtype())) + "; numbers are needed");
  // NumPy arrays keep float32/float64; lists, scalars and integer arrays become float32.
  DType natural = DType::Float32;
  if (is_array && arr.dtype().equal(py::dtype::of<double>())) natural = DType::Float64;
  const DType dt = to_dtype(dtype_arg, natural, fn);
  py::dtype want = dt == DType::Float32 ? py::dtype::of<float>() : py::dtype::of<double>();
  Shape shape;
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) shape.push_back(arr.shape(i));
  Tensor t;
  const int flags = py::array::c_style;
  const bool shareable = is_array && arr.dtype().equal(want) && (arr.flags() & flags) == flags &&
                         arr.writeable() && reinterpret_cast<std::uintptr_t>(arr.data()) % arr.itemsize() == 0;
  if (shareable) {
    // Share the array's memory; the tensor holds a reference to the array.
    PyObject* owner = arr.ptr();
    Py_INCREF(owner);
    std::shared_ptr<void> keep(owner, [](void* o) {
      if (!Py_IsInitialized()) return;
      py::gil_scoped_acquire gil;
      Py_DECREF(static_cast<PyObject*>(o));
    });
    t = Tensor::from_blob(arr.mutable_data(), shape, dt, std::move(keep));
  } else {
    py::array c = np.attr("ascontiguousarray")(arr, want);
    t = Tensor::empty(shape, {.dtype = dt});
    std::memcpy(t.raw_data(), c.data(), static_cast<std::size_t>(t.numel()) * dtype_size(dt));
  }
  t.set_requires_grad(requires_grad);
  return t;
}

Tensor optional_tensor(py::handle v, const char* fn, const char* param) {
  if (v.is_none()) return Tensor();
  if (!py::isinstance<Tensor>(v))
    type_error(std::string("[") + fn + "] " + param + " must be a Tensor or None, got " + type_name(v));
  return py::cast<Tensor>(v);
}

Tensor operand(py::handle v, const Tensor& like, const char* fn) {
  if (py::isinstance<Tensor>(v)) return py::cast<Tensor>(v);
  if (py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v))
    return Tensor::scalar(py::cast<double>(v), {.dtype = like.dtype()});
  return to_tensor(v, py::none(), false, fn);
}

py::array to_numpy(const Tensor& t) {
  auto* keep = new std::shared_ptr<void>(t.storage());
  py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::Float32)
    return py::array_t<float>(shape, static_cast<float*>(t.raw_data()), owner);
  return py::array_t<double>(shape, static_cast<double*>(t.raw_data()), owner);
}

}  // namespace lucid::python
