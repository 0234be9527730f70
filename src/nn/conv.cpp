#include <sstream>

#include "conv_common.h"
#include "lucid/nn/modules.h"

namespace lucid::nn {

template <int ND>
ConvNd<ND>::ConvNd(std::int64_t in_channels, std::int64_t out_channels, IntArg kernel_size, IntArg stride,
                   PaddingArg padding, IntArg dilation, std::int64_t groups, bool has_bias, DType dtype)
    : in_channels_(in_channels), out_channels_(out_channels), params_{stride, padding, dilation, groups} {
  const std::string fn = type_name();
  detail::check_channels(fn, in_channels, out_channels, groups);
  kernel_size_ = detail::kernel_sizes(fn, kernel_size, ND);
  validate_conv_params(ND, params_, fn);
  detail::init_parameters(*this, weight, bias, out_channels, in_channels / groups, kernel_size_, out_channels,
                          has_bias, dtype);
}

template <int ND>
Tensor ConvNd<ND>::forward(const Tensor& input) {
  return conv(ND, input, weight, bias, params_);
}

template <int ND>
std::string ConvNd<ND>::type_name() const {
  return "Conv" + std::to_string(ND) + "d";
}

template <int ND>
std::string ConvNd<ND>::extra_repr() const {
  std::ostringstream os;
  os << in_channels_ << ", " << out_channels_ << ", kernel_size=" << detail::tuple_str(kernel_size_)
     << detail::geometry_repr(ND, params_.stride, params_.padding, params_.dilation, params_.groups, bias.defined());
  return os.str();
}

template class ConvNd<1>;
template class ConvNd<2>;
template class ConvNd<3>;

}  // namespace lucid::nn
