// The C++ ConvTranspose modules, used by lucid.nn for validation,
// initialisation and geometry. Their parameters are handed to Python, which
// owns the module tree (lucid/nn/module.py) and passes them back on forward.
#include "bindings.h"

namespace lucid::python {
namespace {

template <int ND>
void bind_conv_transpose_module(py::module_& m) {
  using M = nn::ConvTransposeNd<ND>;
  static const std::string cls = "_ConvTranspose" + std::to_string(ND) + "d";
  static const std::string fn = "ConvTranspose" + std::to_string(ND) + "d";
  py::class_<M, std::shared_ptr<M>>(m, cls.c_str())
      .def(py::init([](std::int64_t in_channels, std::int64_t out_channels, py::handle kernel_size, py::handle stride,
                       py::handle padding, py::handle output_padding, py::handle dilation, std::int64_t groups,
                       bool bias, py::handle dtype) {
             const char* f = fn.c_str();
             return std::make_shared<M>(in_channels, out_channels, to_int_arg(kernel_size, f, "kernel_size"),
                                        to_int_arg(stride, f, "stride"), to_padding(padding, f),
                                        to_int_arg(output_padding, f, "output_padding"),
                                        to_int_arg(dilation, f, "dilation"), groups, bias,
                                        to_dtype(dtype, DType::Float32, f));
           }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride"),
           py::arg("padding"), py::arg("output_padding"), py::arg("dilation"), py::arg("groups"), py::arg("bias"),
           py::arg("dtype"))
      .def_property_readonly("weight", [](const M& mod) { return mod.weight; })
      .def_property_readonly("bias", [](const M& mod) -> py::object {
        return mod.bias.defined() ? py::cast(mod.bias) : py::none();
      })
      .def_property_readonly("kernel_size", [](const M& mod) { return py::tuple(py::cast(mod.kernel_size())); })
      .def("extra_repr", &M::extra_repr)
      .def("forward",
           [](const M& mod, py::handle input, py::handle weight, py::handle bias, py::handle output_size) {
             const char* f = fn.c_str();
             if (!py::isinstance<Tensor>(input))
               throw lucid::TypeError("[" + fn + "] input must be a Tensor, got " +
                                      std::string(py::str(py::type::of(input).attr("__name__"))));
             const Tensor x = py::cast<Tensor>(input);
             const Tensor w = optional_tensor(weight, f, "weight");
             const Tensor b = optional_tensor(bias, f, "bias");
             std::vector<std::int64_t> size;
             if (!output_size.is_none()) size = to_int_arg(output_size, f, "output_size").values();
             py::gil_scoped_release release;
             return conv_transpose(ND, x, w, b, mod.params(), size);
           });
}

}  // namespace

void bind_nn(py::module_& m) {
  bind_conv_transpose_module<1>(m);
  bind_conv_transpose_module<2>(m);
  bind_conv_transpose_module<3>(m);
}

}  // namespace lucid::python
