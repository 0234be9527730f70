#include "conv_common.h"
#include "lucid/nn/modules.h"
#include "lucid/ops.h"

namespace lucid::nn {

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_, end_); }
std::string Flatten::extra_repr() const {
  return "start_axis=" + std::to_string(start_) + ", end_axis=" + std::to_string(end_);
}

template <int ND>
AvgPoolNd<ND>::AvgPoolNd(IntArg kernel_size, IntArg stride, IntArg padding)
    : kernel_size_(detail::kernel_sizes(type_name(), kernel_size, ND)), stride_(std::move(stride)),
      padding_(std::move(padding)) {}

template <int ND>
Tensor AvgPoolNd<ND>::forward(const Tensor& input) {
  return avg_pool(ND, input, kernel_size_, stride_, padding_);
}

template <int ND>
std::string AvgPoolNd<ND>::extra_repr() const {
  const auto k = kernel_size_.values();
  return "kernel_size=" + detail::tuple_str(k) + ", stride=" +
         detail::tuple_str(stride_.values().empty() ? k : stride_.expand(ND, "", "stride"));
}

template class AvgPoolNd<1>;
template class AvgPoolNd<2>;
template class AvgPoolNd<3>;

Tensor MSELoss::operator()(const Tensor& input, const Tensor& target) const {
  return mse_loss(input, target, reduction_);
}
Tensor L1Loss::operator()(const Tensor& input, const Tensor& target) const {
  return l1_loss(input, target, reduction_);
}
Tensor BCELoss::operator()(const Tensor& input, const Tensor& target) const {
  return binary_cross_entropy(input, target, reduction_);
}

}  // namespace lucid::nn
