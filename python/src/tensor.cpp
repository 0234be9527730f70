// lucid.Tensor, dtypes, factories, random, grad mode, threads, allocator.
#include <cstring>

#include "bindings.h"

namespace lucid::python {
namespace {

TensorOptions opts(py::handle dtype, bool requires_grad, const char* fn) {
  return {.dtype = to_dtype(dtype, DType::Float32, fn), .requires_grad = requires_grad};
}

py::tuple shape_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

std::vector<std::int64_t> axes_arg(py::handle axis, const char* fn) {
  if (axis.is_none()) return {};
  return to_int_arg(axis, fn, "axis").values();
}

}  // namespace

void bind_tensor(py::module_& m) {
  py::enum_<DType>(m, "dtype", "lucid's element types: float32 (the default) and float64.")
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .def_property_readonly("itemsize", [](DType d) { return dtype_size(d); });

  py::class_<Tensor> t(m, "Tensor", R"doc(
A multi-dimensional array of float32 or float64 with reverse-mode autograd.

Tensor(data, requires_grad=False, dtype=None)

``data`` may be a Tensor (its memory is shared), a NumPy array (float32 and
float64 arrays that are C-contiguous share their memory with the tensor;
anything else is copied), a nested list or a number. Lists, numbers and
integer arrays become float32 unless ``dtype`` says otherwise.
)doc");
  t.def(py::init([](py::handle data, bool requires_grad, py::handle dtype) {
          return to_tensor(data, dtype, requires_grad, "Tensor");
        }),
        py::arg("data"), py::arg("requires_grad") = false, py::arg("dtype") = py::none())
      .def_static(
          "randn",
          [](py::args shape, bool requires_grad, py::handle dtype) {
            return Tensor::randn(to_shape_args(shape, "Tensor.randn"), opts(dtype, requires_grad, "Tensor.randn"));
          },
          py::arg("requires_grad") = false, py::arg("dtype") = py::none(),
          "Tensor.randn(*shape, requires_grad=False, dtype=None): standard normal samples (float32 by default).")
      .def_property_readonly("shape", [](const Tensor& x) { return shape_tuple(x.shape()); },
                             "The sizes, as a tuple.")
      .def_property_readonly("ndim", &Tensor::ndim, "The number of axes.")
      .def_property_readonly("size", &Tensor::numel, "The number of elements.")
      .def_property_readonly("dtype", &Tensor::dtype, "lucid.float32 or lucid.float64.")
      .def_property(
          "requires_grad", &Tensor::requires_grad,
          [](Tensor& x, bool r) { x.set_requires_grad(r); }, "Whether backward computes a gradient for this tensor.")
      .def_property_readonly("is_leaf", &Tensor::is_leaf, "True when no recorded op produced this tensor.")
      .def_property(
          "grad",
          [](const Tensor& x) -> py::object {
            Tensor g = x.grad();
            return g.defined() ? py::cast(g) : py::none();
          },
          [](Tensor& x, py::handle g) { x.set_grad(optional_tensor(g, "Tensor.grad", "grad")); },
          "The accumulated gradient (a Tensor), or None before any backward.")
      .def(
          "backward",
          [](const Tensor& x, py::handle gradient, bool retain_graph) {
            Tensor g = gradient.is_none() ? Tensor() : operand(gradient, x, "backward");
            py::gil_scoped_release release;
            x.backward(g, retain_graph);
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = false,
          "Back-propagates from this tensor. Without `gradient`, the upstream gradient is ones of this\n"
          "tensor's shape (also for non-scalars). The graph is freed unless retain_graph=True; a second\n"
          "backward through a freed graph raises RuntimeError.")
      .def("detach", &Tensor::detach, "The same data without autograd history.")
      .def("clone", &Tensor::clone, "A copy of the data (not recorded).")
      .def("zero_grad", &Tensor::zero_grad, "Drops the accumulated gradient (grad becomes None).")
      .def("item", &Tensor::item, "The value of a one-element tensor as a Python float.")
      .def("numpy", &to_numpy, "A NumPy array sharing this tensor's memory.")
      .def(
          "__array__",
          [](const Tensor& x, py::handle dtype, py::handle copy) -> py::object {
            py::array a = to_numpy(x);
            if (!dtype.is_none()) return a.attr("astype")(dtype);
            if (!copy.is_none() && py::cast<bool>(copy)) return a.attr("copy")();
            return a;
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("__len__",
           [](const Tensor& x) {
             if (x.ndim() == 0) throw lucid::TypeError("[Tensor.__len__] len() of a 0-d tensor");
             return x.shape()[0];
           })
      .def("__repr__", &Tensor::str)
      .def("astype", [](const Tensor& x, py::handle dtype) { return to_dtype(x, python::to_dtype(dtype, x.dtype(), "astype")); },
           py::arg("dtype"), "A recorded conversion to another dtype.")
      .def("reshape",
           [](const Tensor& x, py::args shape) {
             py::object s = shape.size() == 1 && !py::isinstance<py::int_>(shape[0]) ? py::object(shape[0]) : py::object(shape);
             return reshape(x, Shape(to_int_arg(s, "reshape", "shape").values()));
           },
           "reshape(*shape): the same data with another shape; one size may be -1.")
      .def("flatten", &flatten, py::arg("start_axis") = 0, py::arg("end_axis") = -1)
      .def(
          "sum",
          [](const Tensor& x, py::handle axis, bool keepdims) {
            return axis.is_none() && !keepdims ? sum(x) : sum(x, axes_arg(axis, "sum"), keepdims);
          },
          py::arg("axis") = py::none(), py::arg("keepdims") = false)
      .def(
          "mean",
          [](const Tensor& x, py::handle axis, bool keepdims) {
            return axis.is_none() && !keepdims ? mean(x) : mean(x, axes_arg(axis, "mean"), keepdims);
          },
          py::arg("axis") = py::none(), py::arg("keepdims") = false)
      .def("relu", &relu)
      .def("exp", [](const Tensor& x) { return lucid::exp(x); })
      .def("log", [](const Tensor& x) { return lucid::log(x); })
      .def("sqrt", [](const Tensor& x) { return lucid::sqrt(x); })
      .def("abs", [](const Tensor& x) { return lucid::abs(x); })
      .def("__neg__", [](const Tensor& x) { return -x; })
      .def("__pos__", [](const Tensor& x) { return x; })
      .def("__abs__", [](const Tensor& x) { return lucid::abs(x); })
      .def("__add__", [](const Tensor& a, py::handle b) { return a + operand(b, a, "add"); }, py::is_operator())
      .def("__radd__", [](const Tensor& a, py::handle b) { return operand(b, a, "add") + a; }, py::is_operator())
      .def("__sub__", [](const Tensor& a, py::handle b) { return a - operand(b, a, "sub"); }, py::is_operator())
      .def("__rsub__", [](const Tensor& a, py::handle b) { return operand(b, a, "sub") - a; }, py::is_operator())
      .def("__mul__", [](const Tensor& a, py::handle b) { return a * operand(b, a, "mul"); }, py::is_operator())
      .def("__rmul__", [](const Tensor& a, py::handle b) { return operand(b, a, "mul") * a; }, py::is_operator())
      .def("__truediv__", [](const Tensor& a, py::handle b) { return a / operand(b, a, "div"); }, py::is_operator())
      .def("__rtruediv__", [](const Tensor& a, py::handle b) { return operand(b, a, "div") / a; }, py::is_operator())
      .def("__pow__", [](const Tensor& a, double p) { return lucid::pow(a, p); }, py::is_operator());

  m.def("_copy_into", [](Tensor& dst, const Tensor& src) {
    // In-place copy for load_state_dict; shapes are checked by the caller.
    if (dst.shape() != src.shape())
      throw lucid::ValueError("[copy] shapes " + dst.shape().str() + " and " + src.shape().str() + " differ");
    const Tensor s = src.dtype() == dst.dtype() ? src : src.cast(dst.dtype());
    std::memmove(dst.raw_data(), s.raw_data(), static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype()));
  });

  // ---- factories ----
  auto factory = [&](const char* name, auto make, const char* doc) {
    m.def(
        name,
        [make, name](py::args shape, py::handle dtype, bool requires_grad) {
          return make(to_shape_args(shape, name), opts(dtype, requires_grad, name));
        },
        py::arg("dtype") = py::none(), py::arg("requires_grad") = false, doc);
  };
  factory("zeros", [](const Shape& s, TensorOptions o) { return Tensor::zeros(s, o); },
          "zeros(*shape, dtype=None, requires_grad=False): a tensor of zeros (float32 by default).");
  factory("ones", [](const Shape& s, TensorOptions o) { return Tensor::ones(s, o); },
          "ones(*shape, dtype=None, requires_grad=False): a tensor of ones (float32 by default).");
  factory("empty", [](const Shape& s, TensorOptions o) { return Tensor::empty(s, o); },
          "empty(*shape, dtype=None, requires_grad=False): an uninitialised tensor (float32 by default).");
  m.def(
      "full",
      [](py::handle shape, double value, py::handle dtype, bool requires_grad) {
        return Tensor::full(to_shape(shape, "full"), value, opts(dtype, requires_grad, "full"));
      },
      py::arg("shape"), py::arg("fill_value"), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
      "full(shape, fill_value, dtype=None, requires_grad=False): a tensor filled with fill_value.");

  // ---- random ----
  m.def("_seed", [](std::uint64_t s) { random::seed(s); }, py::arg("seed"));
  factory("_randn", [](const Shape& s, TensorOptions o) { return random::randn(s, o); }, "");
  factory("_rand", [](const Shape& s, TensorOptions o) { return random::rand(s, o); }, "");
  m.def(
      "_uniform",
      [](double low, double high, py::handle shape, py::handle dtype, bool requires_grad) {
        return random::uniform(to_shape(shape, "uniform"), low, high, opts(dtype, requires_grad, "uniform"));
      },
      py::arg("low"), py::arg("high"), py::arg("size"), py::arg("dtype") = py::none(),
      py::arg("requires_grad") = false);

  // ---- grad mode, threads, allocator ----
  m.def("is_grad_enabled", &is_grad_enabled, "Whether ops record the autograd graph.");
  m.def("set_grad_enabled", &set_grad_enabled, py::arg("enabled"),
        "Turns graph recording on or off for this thread (lucid.no_grad() is the scoped form).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Threads used by lucid's kernels (results do not depend on it).");
  m.def("get_num_threads", &get_num_threads, "Threads used by lucid's kernels.");
  m.def("empty_cache", &empty_cache, "Releases the memory lucid keeps for reuse; returns the bytes freed.");
  m.def("cached_bytes", &cached_bytes, "Bytes of freed tensor memory kept for reuse.");
  m.def("allocated_bytes", &allocated_bytes, "Bytes of memory held by live tensors.");
}

}  // namespace lucid::python
