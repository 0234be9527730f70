#include "conv_common.h"

#include <cmath>
#include <sstream>

#include "lucid/error.h"
#include "lucid/nn/init.h"

namespace lucid::nn::detail {

void check_channels(const std::string& fn, std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups) {
  auto fail = [&](const std::string& m) { throw ValueError("[" + fn + "] " + m); };
  if (in_channels < 1) fail("in_channels=" + std::to_string(in_channels) + " must be positive");
  if (out_channels < 1) fail("out_channels=" + std::to_string(out_channels) + " must be positive");
  if (groups < 1) fail("groups=" + std::to_string(groups) + " must be positive");
  if (in_channels % groups != 0)
    fail("groups=" + std::to_string(groups) + " must divide in_channels=" + std::to_string(in_channels));
  if (out_channels % groups != 0)
    fail("groups=" + std::to_string(groups) + " must divide out_channels=" + std::to_string(out_channels));
}

std::vector<std::int64_t> kernel_sizes(const std::string& fn, const IntArg& kernel_size, int nd) {
  std::vector<std::int64_t> k = kernel_size.expand(nd, fn.c_str(), "kernel_size");
  for (std::size_t i = 0; i < k.size(); ++i)
    if (k[i] < 1)
      throw ValueError("[" + fn + "] kernel_size[" + std::to_string(i) + "]=" + std::to_string(k[i]) +
                       " must be positive");
  return k;
}

void init_parameters(Module& m, Tensor& weight, Tensor& bias, std::int64_t lead, std::int64_t per_group,
                     const std::vector<std::int64_t>& kernel, std::int64_t out_channels, bool has_bias, DType dtype) {
  Shape wshape{lead, per_group};
  double fan_in = static_cast<double>(per_group);
  for (std::int64_t k : kernel) {
    wshape.push_back(k);
    fan_in *= static_cast<double>(k);
  }
  weight = Tensor::empty(wshape, {.dtype = dtype});
  const double wb = std::sqrt(6.0 / fan_in);
  init::uniform_(weight, -wb, wb);
  m.register_parameter("weight", weight);
  if (has_bias) {
    bias = Tensor::empty({out_channels}, {.dtype = dtype});
    const double bb = 1.0 / std::sqrt(fan_in);
    init::uniform_(bias, -bb, bb);
  }
  m.register_parameter("bias", bias);
}

std::string tuple_str(const std::vector<std::int64_t>& v) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << (v.size() == 1 ? ",)" : ")");
  return os.str();
}

std::string geometry_repr(int nd, const IntArg& stride, const PaddingArg& padding, const IntArg& dilation,
                          std::int64_t groups, bool has_bias) {
  std::ostringstream os;
  os << ", stride=" << tuple_str(stride.expand(nd, "", "stride"));
  if (!padding.mode().empty())
    os << ", padding='" << padding.mode() << "'";
  else
    os << ", padding=" << tuple_str(padding.ints().expand(nd, "", "padding"));
  const auto d = dilation.expand(nd, "", "dilation");
  if (d != std::vector<std::int64_t>(static_cast<std::size_t>(nd), 1)) os << ", dilation=" << tuple_str(d);
  if (groups != 1) os << ", groups=" << groups;
  if (!has_bias) os << ", bias=False";
  return os.str();
}

}  // namespace lucid::nn::detail
