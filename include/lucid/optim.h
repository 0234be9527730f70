// lucid/optim.h — optimizers with PyTorch's update rules.
//
//   lucid::optim::Adam opt(model->parameters(), /*lr=*/1e-3);
//   opt.zero_grad(); loss.backward(); opt.step();
//
// Parameters are updated in place (not recorded by autograd); a parameter
// whose grad() is undefined is skipped. One parameter group per optimizer.
#pragma once

#include <utility>
#include <vector>

#include "lucid/tensor.h"

namespace lucid::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  // Drops every parameter's gradient.
  void zero_grad();
  double lr() const { return lr_; }
  // For learning-rate schedules. Throws ValueError for lr < 0.
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }

 protected:
  std::vector<Tensor> params_;
  double lr_;
};

// p -= lr * v, v = momentum * v + (1 - dampening) * (g + weight_decay * p)
// (v = g on the first step; with nesterov the step uses g + momentum * v).
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0.0, double dampening = 0.0,
      double weight_decay = 0.0, bool nesterov = false);
  void step() override;

 private:
  double momentum_, dampening_, weight_decay_;
  bool nesterov_;
  std::vector<Tensor> buf_;
};

// Adam (weight_decay adds weight_decay * p to the gradient); with decoupled
// weight decay (AdamW) the parameter is first scaled by 1 - lr * weight_decay.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, std::pair<double, double> betas = {0.9, 0.999},
       double eps = 1e-8, double weight_decay = 0.0);
  void step() override;

 protected:
  bool decoupled_ = false;

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  std::vector<Tensor> m_, v_;
  std::vector<long> steps_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, std::pair<double, double> betas = {0.9, 0.999},
        double eps = 1e-8, double weight_decay = 1e-2);
};

}  // namespace lucid::optim
