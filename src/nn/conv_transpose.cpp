#include <sstream>

#include "conv_common.h"
#include "lucid/nn/modules.h"

namespace lucid::nn {

template <int ND>
ConvTransposeNd<ND>::ConvTransposeNd(std::int64_t in_channels, std::int64_t out_channels, IntArg kernel_size,
                                     IntArg stride, PaddingArg padding, IntArg output_padding, IntArg dilation,
                                     std::int64_t groups, bool has_bias, DType dtype)
    : in_channels_(in_channels), out_channels_(out_channels),
      params_{stride, padding, output_padding, dilation, groups} {
  const std::string fn = type_name();
  detail::check_channels(fn, in_channels, out_channels, groups);
  kernel_size_ = detail::kernel_sizes(fn, kernel_size, ND);
  validate_conv_transpose_params(ND, params_, fn);
  detail::init_parameters(*this, weight, bias, in_channels, out_channels / groups, kernel_size_, out_channels,
                          has_bias, dtype);
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
  os << in_channels_ << ", " << out_channels_ << ", kernel_size=" << detail::tuple_str(kernel_size_);
  const std::string geo = detail::geometry_repr(ND, params_.stride, params_.padding, params_.dilation, params_.groups,
                                                bias.defined());
  // output_padding sits after padding, as in the signature.
  const auto op = params_.output_padding.expand(ND, "", "output_padding");
  const std::string ops = op != std::vector<std::int64_t>(ND, 0) ? ", output_padding=" + detail::tuple_str(op) : "";
  const std::size_t cut = geo.find(", dilation=") != std::string::npos ? geo.find(", dilation=")
                          : geo.find(", groups=") != std::string::npos ? geo.find(", groups=")
                          : geo.find(", bias=") != std::string::npos   ? geo.find(", bias=")
                                                                       : geo.size();
  os << geo.substr(0, cut) << ops << geo.substr(cut);
  return os.str();
}

template class ConvTransposeNd<1>;
template class ConvTransposeNd<2>;
template class ConvTransposeNd<3>;

}  // namespace lucid::nn
