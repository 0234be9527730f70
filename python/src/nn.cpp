// The C++ convolution modules, used by lucid.nn for validation,
// initialisation and geometry. Their parameters are handed to Python, which
// owns the module tree (lucid/nn/module.py) and passes them back on forward.
#include "bindings.h"

namespace lucid::python {
namespace {

template <class M>
void common(py::class_<M, std::shared_ptr<M>>& c) {
  c.def_property_readonly("weight", [](const M& mod) { return mod.weight; })
      .def_property_readonly("bias", [](const M& mod) -> py::object {
        return mod.bias.defined() ? py::cast(mod.bias) : py::none();
      })
      .def_property_readonly("kernel_size", [](const M& mod) { return py::tuple(py::cast(mod.kernel_size())); })
      .def("extra_repr", &M::extra_repr);
}

Tensor module_input(py::handle input, const std::string& fn) {
  if (!py::isinstance<Tensor>(input))
    throw lucid::TypeError("[" + fn + "] input must be a Tensor, got " +
                           std::string(py::str(py::type::of(input).attr("__name__"))));
  return py::cast<Tensor>(input);
}

template <int ND>
void bind_conv_transpose_module(py::module_& m) {
  using M = nn::ConvTransposeNd<ND>;
  static const std::string cls = "_ConvTranspose" + std::to_string(ND) + "d";
  static const std::string fn = "ConvTranspose" + std::to_string(ND) + "d";
  py::class_<M, std::shared_ptr<M>> c(m, cls.c_str());
  c.def(py::init([](std::int64_t in_channels, std::int64_t out_channels, py::handle kernel_size, py::handle stride,
                    py::handle padding, py::handle output_padding, py::handle dilation, std::int64_t groups, bool bias,
                    py::handle dtype) {
          const char* f = fn.c_str();
          return std::make_shared<M>(in_channels, out_channels, to_int_arg(kernel_size, f, "kernel_size"),
                                     to_int_arg(stride, f, "stride"), to_padding(padding, f),
                                     to_int_arg(output_padding, f, "output_padding"),
                                     to_int_arg(dilation, f, "dilation"), groups, bias,
                                     to_dtype(dtype, DType::Float32, f));
        }),
        py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("output_padding"), py::arg("dilation"), py::arg("groups"), py::arg("bias"), py::arg("dtype"))
      .def("forward", [](const M& mod, py::handle input, py::handle weight, py::handle bias, py::handle output_size) {
        const char* f = fn.c_str();
        const Tensor x = module_input(input, fn);
        const Tensor w = optional_tensor(weight, f, "weight");
        const Tensor b = optional_tensor(bias, f, "bias");
        std::vector<std::int64_t> size;
        if (!output_size.is_none()) size = to_int_arg(output_size, f, "output_size").values();
        py::gil_scoped_release release;
        return conv_transpose(ND, x, w, b, mod.params(), size);
      });
  common(c);
}

template <int ND>
void bind_conv_module(py::module_& m) {
  using M = nn::ConvNd<ND>;
  static const std::string cls = "_Conv" + std::to_string(ND) + "d";
  static const std::string fn = "Conv" + std::to_string(ND) + "d";
  py::class_<M, std::shared_ptr<M>> c(m, cls.c_str());
  c.def(py::init([](std::int64_t in_channels, std::int64_t out_channels, py::handle kernel_size, py::handle stride,
                    py::handle padding, py::handle dilation, std::int64_t groups, bool bias, py::handle dtype) {
          const char* f = fn.c_str();
          return std::make_shared<M>(in_channels, out_channels, to_int_arg(kernel_size, f, "kernel_size"),
                                     to_int_arg(stride, f, "stride"), to_padding(padding, f),
                                     to_int_arg(dilation, f, "dilation"), groups, bias,
                                     to_dtype(dtype, DType::Float32, f));
        }),
        py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("bias"), py::arg("dtype"))
      .def("forward", [](const M& mod, py::handle input, py::handle weight, py::handle bias) {
        const char* f = fn.c_str();
        const Tensor x = module_input(input, fn);
        const Tensor w = optional_tensor(weight, f, "weight");
        const Tensor b = optional_tensor(bias, f, "bias");
        py::gil_scoped_release release;
        return conv(ND, x, w, b, mod.params());
      });
  common(c);
}

void bind_optim(py::module_& m) {
  using namespace lucid::optim;
  auto params_of = [](py::iterable ps, const char* fn) {
    std::vector<Tensor> out;
    for (py::handle p : ps) {
      if (!py::isinstance<Tensor>(p))
        throw lucid::TypeError(std::string("[") + fn + "] params must hold Tensors, got " +
                               std::string(py::str(py::type::of(p).attr("__name__"))));
      out.push_back(py::cast<Tensor>(p));
    }
    if (out.empty()) throw lucid::ValueError(std::string("[") + fn + "] params is empty");
    return out;
  };
  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "_Optimizer")
      .def("step", &Optimizer::step, py::call_guard<py::gil_scoped_release>())
      .def("zero_grad", &Optimizer::zero_grad)
      .def_property("lr", &Optimizer::lr, &Optimizer::set_lr);
  py::class_<SGD, Optimizer, std::shared_ptr<SGD>>(m, "_SGD")
      .def(py::init([params_of](py::iterable ps, double lr, double momentum, double dampening, double wd,
                                bool nesterov) {
             return std::make_shared<SGD>(params_of(ps, "SGD"), lr, momentum, dampening, wd, nesterov);
           }),
           py::arg("params"), py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"),
           py::arg("nesterov"));
  py::class_<Adam, Optimizer, std::shared_ptr<Adam>>(m, "_Adam")
      .def(py::init([params_of](py::iterable ps, double lr, std::pair<double, double> betas, double eps, double wd) {
             return std::make_shared<Adam>(params_of(ps, "Adam"), lr, betas, eps, wd);
           }),
           py::arg("params"), py::arg("lr"), py::arg("betas"), py::arg("eps"), py::arg("weight_decay"));
  py::class_<AdamW, Adam, std::shared_ptr<AdamW>>(m, "_AdamW")
      .def(py::init([params_of](py::iterable ps, double lr, std::pair<double, double> betas, double eps, double wd) {
             return std::make_shared<AdamW>(params_of(ps, "AdamW"), lr, betas, eps, wd);
           }),
           py::arg("params"), py::arg("lr"), py::arg("betas"), py::arg("eps"), py::arg("weight_decay"));
}

}  // namespace

void bind_nn(py::module_& m) {
  bind_conv_transpose_module<1>(m);
  bind_conv_transpose_module<2>(m);
  bind_conv_transpose_module<3>(m);
  bind_conv_module<1>(m);
  bind_conv_module<2>(m);
  bind_conv_module<3>(m);
  bind_optim(m);

  m.def(
      "save",
      [](py::iterable items, const std::string& path) {
        NamedTensors named;
        for (py::handle item : items) {
          auto pair = py::reinterpret_borrow<py::tuple>(item);
          if (pair.size() != 2 || !py::isinstance<py::str>(pair[0]) || !py::isinstance<Tensor>(pair[1]))
            throw lucid::TypeError("[save] every entry must be a (str, Tensor) pair");
          named.emplace_back(py::cast<std::string>(pair[0]), py::cast<Tensor>(pair[1]));
        }
        py::gil_scoped_release release;
        save(named, path);
      },
      py::arg("items"), py::arg("path"));
  m.def(
      "load",
      [](const std::string& path) {
        NamedTensors named;
        {
          py::gil_scoped_release release;
          named = load(path);
        }
        py::list out;
        for (auto& [name, t] : named) out.append(py::make_tuple(name, t));
        return out;
      },
      py::arg("path"));
}

}  // namespace lucid::python
