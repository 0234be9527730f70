// lucid._C functional ops. Convolutions release the GIL while they compute.
#include "bindings.h"

namespace lucid::python {
namespace {

Tensor need(py::handle v, const char* fn, const char* param) {
  if (!py::isinstance<Tensor>(v))
    throw lucid::TypeError(std::string("[") + fn + "] " + param + " must be a Tensor, got " +
                           std::string(py::str(py::type::of(v).attr("__name__"))));
  return py::cast<Tensor>(v);
}

template <int ND>
void bind_conv_transpose(py::module_& m) {
  static const std::string name = "conv_transpose" + std::to_string(ND) + "d";
  m.def(
      name.c_str(),
      [](py::handle input, py::handle weight, py::handle bias, py::handle stride, py::handle padding,
         py::handle output_padding, py::handle dilation, std::int64_t groups) {
        const char* fn = name.c_str();
        const Tensor x = need(input, fn, "input"), w = need(weight, fn, "weight");
        const Tensor b = optional_tensor(bias, fn, "bias");
        ConvTransposeParams p{to_int_arg(stride, fn, "stride"), to_padding(padding, fn),
                              to_int_arg(output_padding, fn, "output_padding"), to_int_arg(dilation, fn, "dilation"),
                              groups};
        py::gil_scoped_release release;
        return conv_transpose(ND, x, w, b, p);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
      py::arg("padding") = 0, py::arg("output_padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1);
}

template <int ND>
void bind_conv(py::module_& m) {
  static const std::string name = "conv" + std::to_string(ND) + "d";
  m.def(
      name.c_str(),
      [](py::handle input, py::handle weight, py::handle bias, py::handle stride, py::handle padding,
         py::handle dilation, std::int64_t groups) {
        const char* fn = name.c_str();
        const Tensor x = need(input, fn, "input"), w = need(weight, fn, "weight");
        const Tensor b = optional_tensor(bias, fn, "bias");
        ConvParams p{to_int_arg(stride, fn, "stride"), to_padding(padding, fn), to_int_arg(dilation, fn, "dilation"),
                     groups};
        py::gil_scoped_release release;
        return conv(ND, x, w, b, p);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
      py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1);
}

std::vector<std::int64_t> axes_of(py::handle axis, const char* fn) {
  return axis.is_none() ? std::vector<std::int64_t>{} : to_int_arg(axis, fn, "axis").values();
}

}  // namespace

void bind_ops(py::module_& m) {
  bind_conv_transpose<1>(m);
  bind_conv_transpose<2>(m);
  bind_conv_transpose<3>(m);
  bind_conv<1>(m);
  bind_conv<2>(m);
  bind_conv<3>(m);

  auto unary = [&](const char* name, Tensor (*f)(const Tensor&), const char* doc) {
    m.def(name, [f, name](py::handle x) { return f(need(x, name, "input")); }, py::arg("input"), doc);
  };
  unary("relu", &relu, "max(x, 0), elementwise (gradient 0 at 0).");
  unary("sigmoid", &sigmoid, "1 / (1 + exp(-x)), elementwise.");
  unary("tanh", &tanh, "tanh(x), elementwise.");
  unary("exp", &exp, "exp(x), elementwise.");
  unary("log", &log, "Natural logarithm, elementwise.");
  unary("sqrt", &sqrt, "Square root, elementwise.");
  unary("abs", &abs, "|x|, elementwise (gradient 0 at 0).");
  unary("neg", &neg, "-x, elementwise.");
  m.def("leaky_relu", [](py::handle x, double slope) { return leaky_relu(need(x, "leaky_relu", "input"), slope); },
        py::arg("input"), py::arg("negative_slope") = 0.01, "x if x > 0 else negative_slope * x, elementwise.");
  m.def("clamp", [](py::handle x, double lo, double hi) { return clamp(need(x, "clamp", "input"), lo, hi); },
        py::arg("input"), py::arg("min"), py::arg("max"), "Limits every element to [min, max].");
  m.def("pow", [](py::handle x, double p) { return pow(need(x, "pow", "input"), p); }, py::arg("input"),
        py::arg("exponent"), "x ** exponent, elementwise (a number exponent).");

  auto binary = [&](const char* name, Tensor (*f)(const Tensor&, const Tensor&), const char* doc) {
    m.def(
        name,
        [f, name](py::handle a, py::handle b) {
          if (py::isinstance<Tensor>(a)) {
            const Tensor ta = py::cast<Tensor>(a);
            return f(ta, operand(b, ta, name));
          }
          const Tensor tb = need(b, name, "other");
          return f(operand(a, tb, name), tb);
        },
        py::arg("input"), py::arg("other"), doc);
  };
  binary("add", &add, "input + other, broadcasting as NumPy does (float64 if the dtypes differ).");
  binary("sub", &sub, "input - other, broadcasting as NumPy does.");
  binary("mul", &mul, "input * other, broadcasting as NumPy does.");
  binary("div", &div, "input / other, broadcasting as NumPy does.");
  binary("maximum", &maximum, "The larger of input and other, elementwise (gradient to input on ties).");
  binary("minimum", &minimum, "The smaller of input and other, elementwise (gradient to input on ties).");

  m.def(
      "sum",
      [](py::handle x, py::handle axis, bool keepdims) {
        const Tensor t = need(x, "sum", "input");
        return axis.is_none() && !keepdims ? sum(t) : sum(t, axes_of(axis, "sum"), keepdims);
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("keepdims") = false,
      "Sum of all elements (a 0-d tensor), or over axis (an int or a tuple).");
  m.def(
      "mean",
      [](py::handle x, py::handle axis, bool keepdims) {
        const Tensor t = need(x, "mean", "input");
        return axis.is_none() && !keepdims ? mean(t) : mean(t, axes_of(axis, "mean"), keepdims);
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("keepdims") = false,
      "Mean of all elements (a 0-d tensor), or over axis (an int or a tuple).");
  m.def(
      "reshape",
      [](py::handle x, py::handle shape) {
        return reshape(need(x, "reshape", "input"), Shape(to_int_arg(shape, "reshape", "shape").values()));
      },
      py::arg("input"), py::arg("shape"), "The same data with another shape (one size may be -1).");
  m.def("flatten", [](py::handle x, std::int64_t s, std::int64_t e) { return flatten(need(x, "flatten", "input"), s, e); },
        py::arg("input"), py::arg("start_axis") = 0, py::arg("end_axis") = -1,
        "Merges axes start_axis..end_axis into one.");
  auto loss = [&](const char* name, Tensor (*f)(const Tensor&, const Tensor&, const std::string&)) {
    m.def(
        name,
        [f, name](py::handle input, py::handle target, const std::string& reduction) {
          const Tensor x = need(input, name, "input");
          return f(x, operand(target, x, name), reduction);
        },
        py::arg("input"), py::arg("target"), py::arg("reduction") = "mean");
  };
  loss("mse_loss", &mse_loss);
  loss("l1_loss", &l1_loss);
  loss("binary_cross_entropy", &binary_cross_entropy);
  m.def(
      "avg_pool",
      [](int nd, py::handle input, py::handle kernel_size, py::handle stride, py::handle padding) {
        const std::string fn = "avg_pool" + std::to_string(nd) + "d";
        const Tensor x = need(input, fn.c_str(), "input");
        const IntArg k = to_int_arg(kernel_size, fn.c_str(), "kernel_size");
        const IntArg s = stride.is_none() ? IntArg(std::vector<std::int64_t>{}) : to_int_arg(stride, fn.c_str(), "stride");
        const IntArg p = to_int_arg(padding, fn.c_str(), "padding");
        py::gil_scoped_release release;
        return avg_pool(nd, x, k, s, p);
      },
      py::arg("nd"), py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0);
  m.def(
      "cat",
      [](py::sequence ts, std::int64_t axis) {
        std::vector<Tensor> v;
        for (py::handle t : ts) v.push_back(need(t, "cat", "tensors[i]"));
        return cat(v, axis);
      },
      py::arg("tensors"), py::arg("axis") = 0, "Concatenates tensors along axis (e.g. channels for skip connections).");
}

}  // namespace lucid::python
