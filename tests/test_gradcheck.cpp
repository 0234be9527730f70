// One gradient checker (central differences in float64) for every
// differentiable op.
#include <gtest/gtest.h>

#include <functional>

#include "lucid/lucid.h"

using lucid::DType;
using lucid::Shape;
using lucid::Tensor;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d sum(f(inputs) * r) / d inputs against central differences, for a
// fixed random r. Inputs are float64.
void gradcheck(const char* name, const Fn& f, std::vector<Tensor> inputs, double eps = 1e-6, double tol = 1e-6) {
  SCOPED_TRACE(name);
  for (auto& t : inputs) t.set_requires_grad(true);
  Tensor out = f(inputs);
  Tensor r = Tensor::randn(out.shape(), {.dtype = DType::Float64});
  out.backward(r);
  lucid::NoGradGuard ng;
  auto loss = [&]() {
    Tensor o = f(inputs);
    double s = 0;
    for (std::int64_t i = 0; i < o.numel(); ++i) s += o.flat(i) * r.flat(i);
    return s;
  };
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor& t = inputs[k];
    ASSERT_TRUE(t.grad().defined()) << "input " << k << " got no gradient";
    double* d = t.data<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double keep = d[i];
      d[i] = keep + eps;
      const double up = loss();
      d[i] = keep - eps;
      const double down = loss();
      d[i] = keep;
      const double numeric = (up - down) / (2 * eps);
      const double analytic = t.grad().flat(i);
      ASSERT_NEAR(analytic, numeric, tol * std::max(1.0, std::abs(numeric)))
          << "input " << k << " element " << i;
    }
  }
}

Tensor R(Shape s, double lo = -1, double hi = 1) { return lucid::random::uniform(s, lo, hi, {.dtype = DType::Float64}); }

}  // namespace

TEST(GradCheck, Binary) {
  gradcheck("add", [](auto& v) { return v[0] + v[1]; }, {R({2, 3}), R({3})});
  gradcheck("sub", [](auto& v) { return v[0] - v[1]; }, {R({2, 1}), R({1, 3})});
  gradcheck("mul", [](auto& v) { return v[0] * v[1]; }, {R({2, 3}), R({2, 3})});
  gradcheck("div", [](auto& v) { return v[0] / v[1]; }, {R({2, 3}), R({3}, 0.5, 2)});
  gradcheck("maximum", [](auto& v) { return lucid::maximum(v[0], v[1]); }, {R({4}), R({4})});
  gradcheck("minimum", [](auto& v) { return lucid::minimum(v[0], v[1]); }, {R({4}), R({1})});
  gradcheck("scalar ops", [](auto& v) { return (2.0 - v[0]) * 3.0 / 4.0 + 1.0; }, {R({3})});
}

TEST(GradCheck, Unary) {
  gradcheck("neg", [](auto& v) { return -v[0]; }, {R({5})});
  gradcheck("exp", [](auto& v) { return lucid::exp(v[0]); }, {R({5})});
  gradcheck("log", [](auto& v) { return lucid::log(v[0]); }, {R({5}, 0.5, 2)});
  gradcheck("sqrt", [](auto& v) { return lucid::sqrt(v[0]); }, {R({5}, 0.5, 2)});
  gradcheck("abs", [](auto& v) { return lucid::abs(v[0]); }, {R({5}, 0.1, 1) * -1.0});
  gradcheck("pow", [](auto& v) { return lucid::pow(v[0], 3.0); }, {R({5})});
  gradcheck("relu", [](auto& v) { return lucid::relu(v[0]); }, {R({6})});
  gradcheck("leaky_relu", [](auto& v) { return lucid::leaky_relu(v[0], 0.2); }, {R({6})});
  gradcheck("sigmoid", [](auto& v) { return lucid::sigmoid(v[0]); }, {R({5})});
  gradcheck("tanh", [](auto& v) { return lucid::tanh(v[0]); }, {R({5})});
  gradcheck("clamp", [](auto& v) { return lucid::clamp(v[0], -0.5, 0.5); }, {R({8})});
  gradcheck("to_dtype", [](auto& v) { return lucid::to_dtype(v[0], DType::Float64) * 2.0; }, {R({3})});
}

TEST(GradCheck, Reductions) {
  gradcheck("sum", [](auto& v) { return lucid::sum(v[0]); }, {R({2, 3})});
  gradcheck("mean", [](auto& v) { return lucid::mean(v[0]); }, {R({2, 3})});
  gradcheck("sum axes", [](auto& v) { return lucid::sum(v[0], {0, 2}); }, {R({2, 3, 4})});
  gradcheck("mean keepdim", [](auto& v) { return lucid::mean(v[0], {1}, true); }, {R({2, 3, 4})});
  gradcheck("sum_to", [](auto& v) { return lucid::sum_to(v[0], {3, 1}); }, {R({2, 3, 4})});
  gradcheck("broadcast_to", [](auto& v) { return lucid::broadcast_to(v[0], {2, 3, 4}); }, {R({3, 1})});
}

TEST(GradCheck, ShapeOps) {
  gradcheck("reshape", [](auto& v) { return lucid::reshape(v[0], {3, 2}) * 2.0; }, {R({2, 3})});
  gradcheck("flatten", [](auto& v) { return lucid::flatten(v[0], 1) * 2.0; }, {R({2, 3, 2})});
  gradcheck("cat", [](auto& v) { return lucid::cat({v[0], v[1]}, 1) * 2.0; }, {R({2, 1, 3}), R({2, 2, 3})});
}

TEST(GradCheck, ConvTranspose) {
  gradcheck("conv_transpose1d",
            [](auto& v) { return lucid::conv_transpose1d(v[0], v[1], v[2], 2, 1, 1, 2); },
            {R({2, 2, 4}), R({2, 3, 3}), R({3})});
  gradcheck("conv_transpose2d groups",
            [](auto& v) { return lucid::conv_transpose2d(v[0], v[1], v[2], {2, 1}, {0, 1}, 0, 1, 2); },
            {R({1, 4, 3, 3}), R({4, 1, 2, 3}), R({2})});
  gradcheck("conv_transpose3d",
            [](auto& v) { return lucid::conv_transpose3d(v[0], v[1], v[2], 2, 1, 1); },
            {R({1, 2, 2, 3, 2}), R({2, 2, 3, 3, 3}), R({2})});
  gradcheck("conv_transpose3d same",
            [](auto& v) { return lucid::conv_transpose3d(v[0], v[1], Tensor(), 2, "same"); },
            {R({2, 3, 2, 2, 2}), R({3, 1, 2, 3, 2})});
}

TEST(GradCheck, Conv) {
  gradcheck("conv1d", [](auto& v) { return lucid::conv1d(v[0], v[1], v[2], 2, 1, 2); },
            {R({2, 2, 9}), R({3, 2, 3}), R({3})});
  gradcheck("conv2d groups", [](auto& v) { return lucid::conv2d(v[0], v[1], v[2], 1, "same", 1, 2); },
            {R({1, 4, 4, 5}), R({2, 2, 3, 2}), R({2})});
  gradcheck("conv3d", [](auto& v) { return lucid::conv3d(v[0], v[1], v[2], {2, 1, 2}, {1, 0, 1}); },
            {R({1, 2, 4, 3, 4}), R({2, 2, 3, 2, 3}), R({2})});
}

TEST(GradCheck, Composite) {
  gradcheck("decoder block",
            [](auto& v) { return lucid::relu(lucid::conv_transpose2d(v[0], v[1], v[2], 2, 1)) * 2.0; },
            {R({2, 2, 3, 3}), R({2, 2, 4, 4}), R({2})});
}

TEST(GradCheck, Losses) {
  const Tensor target = R({2, 3});
  gradcheck("mse_loss", [&](auto& v) { return lucid::mse_loss(v[0], target); }, {R({2, 3})});
  gradcheck("mse_loss sum", [&](auto& v) { return lucid::mse_loss(v[0], target, "sum"); }, {R({2, 3})});
  gradcheck("l1_loss none", [&](auto& v) { return lucid::l1_loss(v[0], target, "none"); }, {R({2, 3}, 1.5, 2)});
  const Tensor t01 = R({2, 3}, 0, 1);
  gradcheck("binary_cross_entropy", [&](auto& v) { return lucid::binary_cross_entropy(v[0], t01); },
            {R({2, 3}, 0.1, 0.9)});
  gradcheck("bce through sigmoid", [&](auto& v) { return lucid::binary_cross_entropy(lucid::sigmoid(v[0]), t01); },
            {R({2, 3})});
}

TEST(GradCheck, AvgPool) {
  gradcheck("avg_pool3d", [](auto& v) { return lucid::avg_pool(3, v[0], 2); }, {R({1, 2, 4, 4, 2})});
  gradcheck("avg_pool2d stride padding", [](auto& v) { return lucid::avg_pool(2, v[0], 3, 2, 1); },
            {R({2, 1, 5, 4})});
}
