// What the convolution modules share: argument checks, lucid's
// initialisation and the pieces of their repr.
#pragma once

#include <string>
#include <vector>

#include "lucid/conv.h"
#include "lucid/nn/module.h"

namespace lucid::nn::detail {

// Channels and groups must be positive and divide; throws ValueError naming fn.
void check_channels(const std::string& fn, std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups);
// kernel_size expanded to nd positive sizes.
std::vector<std::int64_t> kernel_sizes(const std::string& fn, const IntArg& kernel_size, int nd);
// Creates and registers weight, shape (lead, per_group, *kernel), and bias
// (out_channels, or undefined): weight ~ U(+-sqrt(6/fan_in)), bias ~
// U(+-1/sqrt(fan_in)), fan_in = per_group * prod(kernel). The transposed
// convolution passes (in_channels, out_channels/groups), the convolution
// (out_channels, in_channels/groups).
void init_parameters(Module& m, Tensor& weight, Tensor& bias, std::int64_t lead, std::int64_t per_group,
                     const std::vector<std::int64_t>& kernel, std::int64_t out_channels, bool has_bias, DType dtype);
// "(3, 3, 3)"
std::string tuple_str(const std::vector<std::int64_t>& v);
// ", stride=(..), padding=(..)|'same'" and the non-default dilation/groups/bias parts.
std::string geometry_repr(int nd, const IntArg& stride, const PaddingArg& padding, const IntArg& dilation,
                          std::int64_t groups, bool has_bias);

}  // namespace lucid::nn::detail
