// lucid/nn/modules.h — the layers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "lucid/conv.h"
#include "lucid/nn/module.h"

namespace lucid::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU"; }
};

// Runs its modules in order, each on the previous one's output. Children are
// named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  void append(std::shared_ptr<Module> module);
  std::size_t size() const { return children().size(); }
  std::shared_ptr<Module> operator[](std::size_t i) const;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }
};

// Transposed convolution over ND = 1, 2 or 3 spatial axes, in the argument
// order of lucid 2.x:
//   ConvTranspose3d(in_channels, out_channels, kernel_size, stride = 1, padding = 0,
//                   output_padding = 0, dilation = 1, groups = 1, bias = true)
// kernel_size, stride, output_padding, dilation: an int or ND values; padding
// also "same" or "valid" (see lucid/conv.h for the semantics).
// weight: (in_channels, out_channels / groups, *kernel_size)
//   ~ U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))
// bias: (out_channels,) ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in))
//   with fan_in = (out_channels / groups) * prod(kernel_size), as lucid 2.x.
// The constructor throws ValueError for a bad configuration, naming the
// module and the parameter.
template <int ND>
class ConvTransposeNd : public Module {
 public:
  ConvTransposeNd(std::int64_t in_channels, std::int64_t out_channels, IntArg kernel_size, IntArg stride = 1,
                  PaddingArg padding = 0, IntArg output_padding = 0, IntArg dilation = 1,
                  std::int64_t groups = 1, bool bias = true, DType dtype = DType::Float32);

  Tensor forward(const Tensor& input) override;
  // `output_size` (ND sizes, or ND + 2 with batch and channels) picks the
  // output padding, as in PyTorch.
  Tensor forward(const Tensor& input, const std::vector<std::int64_t>& output_size);
  std::string type_name() const override;
  std::string extra_repr() const override;

  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t out_channels() const { return out_channels_; }
  const std::vector<std::int64_t>& kernel_size() const { return kernel_size_; }
  const ConvTransposeParams& params() const { return params_; }

  Tensor weight;
  Tensor bias;  // undefined when bias = false

 private:
  std::int64_t in_channels_, out_channels_;
  std::vector<std::int64_t> kernel_size_;
  ConvTransposeParams params_;
};

using ConvTranspose1d = ConvTransposeNd<1>;
using ConvTranspose2d = ConvTransposeNd<2>;
using ConvTranspose3d = ConvTransposeNd<3>;

extern template class ConvTransposeNd<1>;
extern template class ConvTransposeNd<2>;
extern template class ConvTransposeNd<3>;

}  // namespace lucid::nn
