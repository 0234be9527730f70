// lucid/nn/modules.h — the layers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "lucid/conv.h"
#include "lucid/loss.h"
#include "lucid/nn/module.h"

namespace lucid::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;

 private:
  double negative_slope_;
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Tanh"; }
};

// Merges axes start_axis..end_axis (default: all but the batch axis).
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_axis = 1, std::int64_t end_axis = -1) : start_(start_axis), end_(end_axis) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  std::int64_t start_, end_;
};

// Average pooling over ND axes (stride defaults to kernel_size).
template <int ND>
class AvgPoolNd : public Module {
 public:
  explicit AvgPoolNd(IntArg kernel_size, IntArg stride = std::vector<std::int64_t>{}, IntArg padding = 0);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool" + std::to_string(ND) + "d"; }
  std::string extra_repr() const override;

 private:
  IntArg kernel_size_, stride_, padding_;
};
using AvgPool1d = AvgPoolNd<1>;
using AvgPool2d = AvgPoolNd<2>;
using AvgPool3d = AvgPoolNd<3>;
extern template class AvgPoolNd<1>;
extern template class AvgPoolNd<2>;
extern template class AvgPoolNd<3>;

// Losses: call with (input, target); reduction "mean", "sum" or "none".
class MSELoss {
 public:
  explicit MSELoss(std::string reduction = "mean") : reduction_(std::move(reduction)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  std::string reduction_;
};
class L1Loss {
 public:
  explicit L1Loss(std::string reduction = "mean") : reduction_(std::move(reduction)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  std::string reduction_;
};
class BCELoss {
 public:
  explicit BCELoss(std::string reduction = "mean") : reduction_(std::move(reduction)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  std::string reduction_;
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

// Convolution over ND = 1, 2 or 3 spatial axes, lucid 2.x's signature:
//   Conv3d(in_channels, out_channels, kernel_size, stride = 1, padding = 0,
//          dilation = 1, groups = 1, bias = true)
// padding also "same" (stride 1) or "valid". weight: (out_channels,
// in_channels / groups, *kernel_size), initialised like the transposed
// convolution with fan_in = (in_channels / groups) * prod(kernel_size).
template <int ND>
class ConvNd : public Module {
 public:
  ConvNd(std::int64_t in_channels, std::int64_t out_channels, IntArg kernel_size, IntArg stride = 1,
         PaddingArg padding = 0, IntArg dilation = 1, std::int64_t groups = 1, bool bias = true,
         DType dtype = DType::Float32);

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override;
  std::string extra_repr() const override;
  const ConvParams& params() const { return params_; }
  const std::vector<std::int64_t>& kernel_size() const { return kernel_size_; }

  Tensor weight;
  Tensor bias;  // undefined when bias = false

 private:
  std::int64_t in_channels_, out_channels_;
  std::vector<std::int64_t> kernel_size_;
  ConvParams params_;
};

using Conv1d = ConvNd<1>;
using Conv2d = ConvNd<2>;
using Conv3d = ConvNd<3>;
extern template class ConvNd<1>;
extern template class ConvNd<2>;
extern template class ConvNd<3>;

using ConvTranspose1d = ConvTransposeNd<1>;
using ConvTranspose2d = ConvTransposeNd<2>;
using ConvTranspose3d = ConvTransposeNd<3>;

extern template class ConvTransposeNd<1>;
extern template class ConvTransposeNd<2>;
extern template class ConvTransposeNd<3>;

}  // namespace lucid::nn
