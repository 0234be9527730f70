// Losses and average pooling, written with the other ops so that their
// gradients come from the ops' own.
#include <algorithm>
#include <cmath>

#include "check.h"
#include "lucid/autograd.h"
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

namespace {

// Elementwise BCE with its own gradient: composing log and maximum would give
// 0 * inf = NaN where a probability saturates at 0 or 1.
//   loss = -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100))
//   d/dp = (p - t) / max(p * (1 - p), 1e-12f) (PyTorch's float epsilon, in both dtypes),  d/dt = max(log(1 - p), -100) - max(log p, -100)
template <class T>
void bce_values(const T* p, const T* t, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T lp = std::max(std::log(p[i]), T(-100)), lq = std::max(std::log(T(1) - p[i]), T(-100));
    out[i] = -(t[i] * lp + (T(1) - t[i]) * lq);
  }
}

class BCENode : public Node {
 public:
  BCENode(Tensor p, Tensor t) : p_(std::move(p)), t_(std::move(t)) {}
  std::string name() const override { return "binary_cross_entropy"; }
  void release_saved() override { p_ = Tensor(); t_ = Tensor(); }
  std::vector<Tensor> apply(const Tensor& g) override {
    std::vector<Tensor> out(2);
    if (p_.dtype() == DType::Float32)
      grads<float>(g, out);
    else
      grads<double>(g, out);
    return out;
  }

 private:
  template <class T>
  void grads(const Tensor& g, std::vector<Tensor>& out) {
    const std::int64_t n = p_.numel();
    const T *p = p_.data<T>(), *t = t_.data<T>(), *gd = g.data<T>();
    if (needs_grad(0)) {
      out[0] = Tensor::empty(p_.shape(), {.dtype = p_.dtype()});
      T* d = out[0].data<T>();
      for (std::int64_t i = 0; i < n; ++i) d[i] = gd[i] * (p[i] - t[i]) / std::max(p[i] * (T(1) - p[i]), static_cast<T>(1e-12f));
    }
    if (needs_grad(1)) {
      out[1] = Tensor::empty(p_.shape(), {.dtype = p_.dtype()});
      T* d = out[1].data<T>();
      for (std::int64_t i = 0; i < n; ++i)
        d[i] = gd[i] * (std::max(std::log(T(1) - p[i]), T(-100)) - std::max(std::log(p[i]), T(-100)));
    }
  }
  Tensor p_, t_;
};

}  // namespace

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const std::string& reduction) {
  check_pair(input, target, "binary_cross_entropy");
  check_reduction(reduction, "binary_cross_entropy");
  const DType dt = promote(input.dtype(), target.dtype());
  const Tensor p = input.dtype() == dt ? input : input.cast(dt);
  const Tensor t = target.dtype() == dt ? target : target.cast(dt);
  Tensor out = Tensor::empty(p.shape(), {.dtype = dt});
  if (dt == DType::Float32)
    bce_values<float>(p.data<float>(), t.data<float>(), out.data<float>(), p.numel());
  else
    bce_values<double>(p.data<double>(), t.data<double>(), out.data<double>(), p.numel());
  out = record(out, std::make_shared<BCENode>(p, t), {input, target});
  return reduce(out, reduction, "binary_cross_entropy");
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
