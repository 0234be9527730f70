// Losses and average pooling, written with the other ops so that their
// gradients come from the ops' own.
#include "check.h"
#include "lucid/loss.h"
#include "lucid/ops.h"

namespace lucid {
namespace {

void check_pair(const Tensor& input, const Tensor& target, const char* fn) {
  ops::require_defined(input, fn, "input");
  ops::require_defined(target, fn, "target");
  if (input.shape() != target.shape())
    throw ValueError(std::string("[") + fn + "] input shape " + input.shape().str() + " and target shape " +
                     target.shape().str() + " differ");
}

Tensor reduce(const Tensor& t, const std::string& reduction, const char* fn) {
  if (reduction == "mean") return mean(t);
  if (reduction == "sum") return sum(t);
  if (reduction == "none") return t;
  throw ValueError(std::string("[") + fn + "] reduction='" + reduction + "' must be 'mean', 'sum' or 'none'");
}

void check_reduction(const std::string& reduction, const char* fn) {
  if (reduction != "mean" && reduction != "sum" && reduction != "none")
    throw ValueError(std::string("[") + fn + "] reduction='" + reduction + "' must be 'mean', 'sum' or 'none'");
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  check_pair(input, target, "mse_loss");
  check_reduction(reduction, "mse_loss");
  const Tensor d = input - target;
  return reduce(d * d, reduction, "mse_loss");
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  check_pair(input, target, "l1_loss");
  check_reduction(reduction, "l1_loss");
  return reduce(abs(input - target), reduction, "l1_loss");
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const std::string& reduction) {
  check_pair(input, target, "binary_cross_entropy");
  check_reduction(reduction, "binary_cross_entropy");
  const Tensor floor = Tensor::scalar(-100.0, {.dtype = input.dtype()});
  const Tensor log_p = maximum(log(input), floor);
  const Tensor log_q = maximum(log(1.0 - input), floor);
  return reduce(-(target * log_p + (1.0 - target) * log_q), reduction, "binary_cross_entropy");
}

Tensor avg_pool(int nd, const Tensor& input, IntArg kernel_size, IntArg stride, IntArg padding) {
  const std::string fn = "avg_pool" + std::to_string(nd) + "d";
  ops::require_defined(input, fn.c_str(), "input");
  if (nd < 1 || nd > 3) throw ValueError("[" + fn + "] only 1, 2 or 3 spatial axes are supported");
  if (input.ndim() != nd + 1 && input.ndim() != nd + 2)
    throw ValueError("[" + fn + "] input must be " + std::to_string(nd + 1) + "-D (unbatched) or " +
                     std::to_string(nd + 2) + "-D (batched), got shape " + input.shape().str());
  const std::vector<std::int64_t> k = kernel_size.expand(nd, fn.c_str(), "kernel_size");
  std::int64_t count = 1;
  for (std::size_t i = 0; i < k.size(); ++i) {
    if (k[i] < 1)
      throw ValueError("[" + fn + "] kernel_size[" + std::to_string(i) + "]=" + std::to_string(k[i]) + " must be positive");
    count *= k[i];
  }
  const std::int64_t C = input.shape()[input.ndim() == nd + 2 ? 1 : 0];
  Shape wshape{C, 1};
  for (std::int64_t v : k) wshape.push_back(v);
  const Tensor w = Tensor::full(wshape, 1.0 / static_cast<double>(count), {.dtype = input.dtype()});
  ConvParams p;
  p.stride = stride.values().empty() ? IntArg(k) : stride;
  p.padding = padding.is_scalar() ? PaddingArg(padding.values()[0]) : PaddingArg(padding.values());
  p.groups = C;
  return conv(nd, input, w, Tensor(), p);
}

}  // namespace lucid
