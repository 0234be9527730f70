// Optimizer updates: elementwise loops over each parameter, in its dtype.
#include <cmath>
#include <string>

#include "lucid/error.h"
#include "lucid/optim.h"

namespace lucid::optim {
namespace {

void check_hyper(const char* fn, const char* name, double v, double lo, double hi, bool hi_open) {
  if (!(v >= lo) || (hi_open ? !(v < hi) : !(v <= hi)))
    throw ValueError(std::string("[") + fn + "] " + name + "=" + std::to_string(v) + " is out of range");
}

template <class F>
void for_each_param(std::vector<Tensor>& params, F&& f) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    Tensor& p = params[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (p.dtype() == DType::Float32)
      f(i, p.numel(), p.data<float>(), g.data<float>());
    else
      f(i, p.numel(), p.data<double>(), g.data<double>());
  }
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].defined())
      throw TypeError("[optim] params[" + std::to_string(i) + "] is undefined (None)");
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0)) throw ValueError("[optim] lr=" + std::to_string(lr) + " must be non-negative");
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double dampening, double weight_decay,
         bool nesterov)
    : Optimizer(std::move(params), lr), momentum_(momentum), dampening_(dampening), weight_decay_(weight_decay),
      nesterov_(nesterov), buf_(params_.size()) {
  check_hyper("SGD", "momentum", momentum, 0, 1e300, false);
  check_hyper("SGD", "weight_decay", weight_decay, 0, 1e300, false);
  if (nesterov && (momentum <= 0 || dampening != 0))
    throw ValueError("[SGD] nesterov=true needs momentum > 0 and dampening = 0");
}

void SGD::step() {
  for_each_param(params_, [&](std::size_t i, std::int64_t n, auto* p, const auto* g) {
    using T = std::remove_pointer_t<decltype(p)>;
    const T lr = static_cast<T>(lr_), wd = static_cast<T>(weight_decay_), mom = static_cast<T>(momentum_),
            damp = static_cast<T>(1 - dampening_);
    T* buf = nullptr;
    bool first = false;
    if (momentum_ != 0) {
      if (!buf_[i].defined()) {
        buf_[i] = Tensor::empty(params_[i].shape(), {.dtype = params_[i].dtype()});
        first = true;
      }
      buf = buf_[i].template data<T>();
    }
    for (std::int64_t k = 0; k < n; ++k) {
      T d = g[k];
      if (wd != 0) d += wd * p[k];
      if (buf) {
        buf[k] = first ? d : mom * buf[k] + damp * d;
        d = nesterov_ ? d + mom * buf[k] : buf[k];
      }
      p[k] -= lr * d;
    }
  });
}

Adam::Adam(std::vector<Tensor> params, double lr, std::pair<double, double> betas, double eps, double weight_decay)
    : Optimizer(std::move(params), lr), beta1_(betas.first), beta2_(betas.second), eps_(eps),
      weight_decay_(weight_decay), m_(params_.size()), v_(params_.size()), steps_(params_.size(), 0) {
  check_hyper("Adam", "betas[0]", beta1_, 0, 1, true);
  check_hyper("Adam", "betas[1]", beta2_, 0, 1, true);
  check_hyper("Adam", "eps", eps, 0, 1e300, false);
  check_hyper("Adam", "weight_decay", weight_decay, 0, 1e300, false);
}

void Adam::step() {
  for_each_param(params_, [&](std::size_t i, std::int64_t n, auto* p, const auto* g) {
    using T = std::remove_pointer_t<decltype(p)>;
    if (!m_[i].defined()) {
      m_[i] = Tensor::zeros(params_[i].shape(), {.dtype = params_[i].dtype()});
      v_[i] = Tensor::zeros(params_[i].shape(), {.dtype = params_[i].dtype()});
    }
    const long t = ++steps_[i];
    T* m = m_[i].template data<T>();
    T* v = v_[i].template data<T>();
    const T b1 = static_cast<T>(beta1_), b2 = static_cast<T>(beta2_), eps = static_cast<T>(eps_);
    const T wd = static_cast<T>(weight_decay_), lr = static_cast<T>(lr_);
    // PyTorch's arithmetic: step = lr / (1 - b1^t); denom = sqrt(v) / sqrt(1 - b2^t) + eps.
    const T bc1 = static_cast<T>(1 - std::pow(beta1_, static_cast<double>(t)));
    const T bc2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(beta2_, static_cast<double>(t))));
    const T step_size = lr / bc1;
    for (std::int64_t k = 0; k < n; ++k) {
      T d = g[k];
      if (decoupled_)
        p[k] *= T(1) - lr * wd;
      else if (wd != 0)
        d += wd * p[k];
      m[k] += (T(1) - b1) * (d - m[k]);  // PyTorch: exp_avg.lerp_(grad, 1 - beta1)
      v[k] = b2 * v[k] + (T(1) - b2) * d * d;
      const T denom = std::sqrt(v[k]) / bc2_sqrt + eps;
      p[k] -= step_size * m[k] / denom;
    }
  });
}

AdamW::AdamW(std::vector<Tensor> params, double lr, std::pair<double, double> betas, double eps, double weight_decay)
    : Adam(std::move(params), lr, betas, eps, weight_decay) {
  decoupled_ = true;
}

}  // namespace lucid::optim
