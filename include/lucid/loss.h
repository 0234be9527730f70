// lucid/loss.h — loss functions and pooling built from differentiable ops.
//
// reduction: "mean" (default), "sum" or "none" (elementwise). input and target
// must have the same shape; they are not broadcast (a silent broadcast in a
// loss is almost always a bug).
#pragma once

#include <string>

#include "lucid/conv.h"
#include "lucid/tensor.h"

namespace lucid {

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
// input: probabilities in [0, 1]; the logs are clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");

// Average pooling over nd = 1, 2 or 3 spatial axes: a depthwise convolution
// with constant weights 1/prod(kernel_size), so it runs on the convolution
// kernels. stride defaults to kernel_size (pass an empty IntArg{} for that);
// padded positions count as zeros (count_include_pad, PyTorch's default).
Tensor avg_pool(int nd, const Tensor& input, IntArg kernel_size, IntArg stride = std::vector<std::int64_t>{},
                IntArg padding = 0);

}  // namespace lucid
