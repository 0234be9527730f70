#include <cmath>
#include <sstream>

#include "lucid/error.h"
#include "lucid/nn/init.h"
#include "lucid/nn/modules.h"

namespace lucid::nn {
namespace {

std::string tuple_str(const std::vector<std::int64_t>& v) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << (v.size() == 1 ? ",)" : ")");
  return os.str();
}

}  // namespace

template <int ND>
ConvTransposeNd<ND>::ConvTransposeNd(std::int64_t in_channels, std::int64_t out_channels, IntArg kernel_size,
                                     IntArg stride, PaddingArg padding, IntArg output_padding, IntArg dilation,
                                     std::int64_t groups, bool has_bias, DType dtype)
    : in_channels_(in_channels), out_channels_(out_channels),
      params_{stride, padding, output_padding, dilation, groups} {
  const std::string fn = type_name();
  auto fail = [&](const std::string& m) { throw ValueError("[" + fn + "] " + m); };
  if (in_channels < 1) fail("in_channels=" + std::to_string(in_channels) + " must be positive");
  if (out_channels < 1) fail("out_channels=" + std::to_string(out_channels) + " must be positive");
  if (groups < 1) fail("groups=" + std::to_string(groups) + " must be positive");
  if (in_channels % groups != 0)
    fail("groups=" + std::to_string(groups) + " must divide in_channels=" + std::to_string(in_channels));
  if (out_channels % groups != 0)
    fail("groups=" + std::to_string(groups) + " must divide out_channels=" + std::to_string(out_channels));
  kernel_size_ = kernel_size.expand(ND, fn.c_str(), "kernel_size");
  for (std::size_t i = 0; i < kernel_size_.size(); ++i)
    if (kernel_size_[i] < 1)
      fail("kernel_size[" + std::to_string(i) + "]=" + std::to_string(kernel_size_[i]) + " must be positive");
  validate_conv_transpose_params(ND, params_, fn);

  Shape wshape{in_channels, out_channels / groups};
  double fan_in = static_cast<double>(out_channels / groups);
  for (std::int64_t k : kernel_size_) {
    wshape.push_back(k);
    fan_in *= static_cast<double>(k);
  }
  weight = Tensor::empty(wshape, {.dtype = dtype});
  const double wb = std::sqrt(6.0 / fan_in);
  init::uniform_(weight, -wb, wb);
  register_parameter("weight", weight);
  if (has_bias) {
    bias = Tensor::empty({out_channels}, {.dtype = dtype});
    const double bb = 1.0 / std::sqrt(fan_in);
    init::uniform_(bias, -bb, bb);
  }
  register_parameter("bias", bias);
}

template <int ND>
Tensor ConvTransposeNd<ND>::forward(const Tensor& input) {
  return conv_transpose(ND, input, weight, bias, params_);
}

template <int ND>
Tensor ConvTransposeNd<ND>::forward(const Tensor& input, const std::vector<std::int64_t>& output_size) {
  return conv_transpose(ND, input, weight, bias, params_, output_size);
}

template <int ND>
std::string ConvTransposeNd<ND>::type_name() const {
  return "ConvTranspose" + std::to_string(ND) + "d";
}

template <int ND>
std::string ConvTransposeNd<ND>::extra_repr() const {
  std::ostringstream os;
  os << in_channels_ << ", " << out_channels_ << ", kernel_size=" << tuple_str(kernel_size_)
     << ", stride=" << tuple_str(params_.stride.expand(ND, "", "stride"));
  if (!params_.padding.mode().empty())
    os << ", padding='" << params_.padding.mode() << "'";
  else
    os << ", padding=" << tuple_str(params_.padding.ints().expand(ND, "", "padding"));
  const auto op = params_.output_padding.expand(ND, "", "output_padding");
  if (op != std::vector<std::int64_t>(ND, 0)) os << ", output_padding=" << tuple_str(op);
  const auto d = params_.dilation.expand(ND, "", "dilation");
  if (d != std::vector<std::int64_t>(ND, 1)) os << ", dilation=" << tuple_str(d);
  if (params_.groups != 1) os << ", groups=" << params_.groups;
  if (!bias.defined()) os << ", bias=False";
  return os.str();
}

template class ConvTransposeNd<1>;
template class ConvTransposeNd<2>;
template class ConvTransposeNd<3>;

}  // namespace lucid::nn
