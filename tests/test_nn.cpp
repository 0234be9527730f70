// Modules: registration, state_dict, train/eval, init, ConvTranspose layers.
#include <gtest/gtest.h>

#include <cmath>

#include "lucid/lucid.h"

using lucid::Shape;
using lucid::Tensor;
namespace nn = lucid::nn;

namespace {
struct Decoder3D : nn::Module {
  std::shared_ptr<nn::ConvTranspose3d> deconv;
  std::shared_ptr<nn::ReLU> relu;
  Decoder3D() {
    deconv = register_module("deconv", std::make_shared<nn::ConvTranspose3d>(8, 4, 4, 2, 1));
    relu = register_module("relu", std::make_shared<nn::ReLU>());
  }
  Tensor forward(const Tensor& x) override { return (*relu)((*deconv)(x)); }
};
}  // namespace

TEST(Module, RegistersByDottedName) {
  Decoder3D m;
  auto named = m.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "deconv.weight");
  EXPECT_EQ(named[1].first, "deconv.bias");
  EXPECT_EQ(m.parameters().size(), 2u);
  EXPECT_EQ(m.children().size(), 2u);
  EXPECT_EQ(m.modules().size(), 2u);
  EXPECT_TRUE(named[0].second.same(m.deconv->weight));
  EXPECT_TRUE(m.deconv->weight.requires_grad());
}

TEST(Module, TrainsThroughAutograd) {
  Decoder3D m;
  Tensor z = Tensor::randn({2, 8, 4, 4, 4}, {.requires_grad = true});
  Tensor out = m(z);
  EXPECT_EQ(out.shape(), (Shape{2, 4, 8, 8, 8}));
  out.backward();
  EXPECT_EQ(z.grad().shape(), z.shape());
  for (auto& p : m.parameters()) EXPECT_TRUE(p.grad().defined());
  m.zero_grad();
  for (auto& p : m.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Module, StateDictRoundTrip) {
  Decoder3D a, b;
  EXPECT_GT(lucid::max_abs_diff(a.deconv->weight, b.deconv->weight), 0.0);
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(lucid::max_abs_diff(a.deconv->weight, b.deconv->weight), 0.0);
  EXPECT_EQ(lucid::max_abs_diff(a.deconv->bias, b.deconv->bias), 0.0);
  EXPECT_FALSE(a.deconv->weight.same(b.deconv->weight));  // copied, not shared
}

TEST(Module, LoadStateDictStrictness) {
  Decoder3D m;
  nn::StateDict sd = m.state_dict();
  sd.pop_back();
  sd.emplace_back("deconv.extra", Tensor::zeros({1}));
  try {
    m.load_state_dict(sd);
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "[Module.load_state_dict] the state does not match the module: missing keys 'deconv.bias'; "
                 "unexpected keys 'deconv.extra';");
  }
  nn::StateDict partial{{"deconv.bias", Tensor::ones({4})}};
  m.load_state_dict(partial, /*strict=*/false);
  EXPECT_EQ(m.deconv->bias.to_vector(), std::vector<double>(4, 1.0));
  nn::StateDict wrong{{"deconv.bias", Tensor::ones({5})}};
  EXPECT_THROW(m.load_state_dict(wrong, false), lucid::ValueError);
}

TEST(Module, TrainEvalPropagates) {
  Decoder3D m;
  m.eval();
  EXPECT_FALSE(m.is_training());
  EXPECT_FALSE(m.deconv->is_training());
  m.train();
  EXPECT_TRUE(m.relu->is_training());
}

TEST(Module, BaseForwardThrows) {
  nn::Module m;
  EXPECT_THROW(m(Tensor::zeros({1})), lucid::Error);
}

TEST(Sequential, RunsInOrder) {
  nn::Sequential s{std::make_shared<nn::ConvTranspose1d>(2, 3, 2, 2), std::make_shared<nn::ReLU>()};
  Tensor y = s(Tensor::randn({1, 2, 5}));
  EXPECT_EQ(y.shape(), (Shape{1, 3, 10}));
  for (double v : y.to_vector()) EXPECT_GE(v, 0.0);
  EXPECT_EQ(s.named_parameters()[0].first, "0.weight");
  EXPECT_EQ(s.size(), 2u);
}

TEST(ConvTransposeModule, ShapesAndInitialisationBounds) {
  nn::ConvTranspose3d m(4, 6, {3, 2, 1}, 1, 0, 0, 1, 2);
  EXPECT_EQ(m.weight.shape(), (Shape{4, 3, 3, 2, 1}));
  EXPECT_EQ(m.bias.shape(), (Shape{6}));
  const double fan_in = 3.0 * 3 * 2 * 1;
  for (double v : m.weight.to_vector()) EXPECT_LE(std::abs(v), std::sqrt(6.0 / fan_in));
  for (double v : m.bias.to_vector()) EXPECT_LE(std::abs(v), 1.0 / std::sqrt(fan_in));
  nn::ConvTranspose2d nb(2, 2, 3, 1, 0, 0, 1, 1, /*bias=*/false);
  EXPECT_FALSE(nb.bias.defined());
  EXPECT_EQ(nb.parameters().size(), 1u);
}

TEST(ConvTransposeModule, ReprReadsLikeTheSignature) {
  nn::ConvTranspose3d m(4, 2, 3, 2, 1, 1);
  EXPECT_EQ(m.repr(), "ConvTranspose3d(4, 2, kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1), "
                      "output_padding=(1, 1, 1))");
}

TEST(ConvTransposeModule, SamePaddingKeepsLTimesS) {
  for (int s = 1; s <= 3; ++s) {
    nn::ConvTranspose3d m(2, 2, 3, s, "same");
    EXPECT_EQ(m(Tensor::randn({1, 2, 3, 4, 5})).shape(), (Shape{1, 2, 3 * s, 4 * s, 5 * s}));
  }
}

TEST(ConvTransposeModule, UnbatchedKeepsForm) {
  nn::ConvTranspose2d m(3, 2, 2, 2);
  Tensor x = Tensor::randn({3, 4, 4}, {.requires_grad = true});
  Tensor y = m(x);
  EXPECT_EQ(y.shape(), (Shape{2, 8, 8}));
  y.backward();
  EXPECT_EQ(x.grad().shape(), x.shape());
}

TEST(ConvTransposeModule, OutputSize) {
  nn::ConvTranspose3d m(4, 2, 3, 2, 1);
  EXPECT_EQ(m.forward(Tensor::randn({1, 4, 8, 8, 8}), {16, 15, 16}).shape(), (Shape{1, 2, 16, 15, 16}));
}

TEST(ConvTransposeModule, Float64Parameters) {
  nn::ConvTranspose1d m(2, 2, 3, 1, 0, 0, 1, 1, true, lucid::DType::Float64);
  EXPECT_EQ(m.weight.dtype(), lucid::DType::Float64);
  EXPECT_EQ(m(Tensor::randn({1, 2, 4})).dtype(), lucid::DType::Float64);
}
