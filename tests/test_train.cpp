// What training needs: conv layers, activations, losses, pooling, optimizers
// and checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lucid/lucid.h"

using lucid::Shape;
using lucid::Tensor;
namespace nn = lucid::nn;
namespace fs = std::filesystem;

namespace {

Tensor T(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s); }

struct TinyAE : nn::Module {
  std::shared_ptr<nn::Conv3d> enc;
  std::shared_ptr<nn::ConvTranspose3d> dec;
  TinyAE() {
    enc = register_module("enc", std::make_shared<nn::Conv3d>(1, 4, 3, 2, 1));
    dec = register_module("dec", std::make_shared<nn::ConvTranspose3d>(4, 1, 4, 2, 1));
  }
  Tensor forward(const Tensor& x) override { return lucid::sigmoid(dec->forward(lucid::relu(enc->forward(x)))); }
};

fs::path temp_file(const std::string& name) { return fs::temp_directory_path() / ("lucid_test_" + name); }

}  // namespace

TEST(Losses, Values) {
  Tensor a = T({1, 2, 3}, {3}), b = T({1, 0, 5}, {3});
  EXPECT_NEAR(lucid::mse_loss(a, b).item(), (0 + 4 + 4) / 3.0, 1e-6);
  EXPECT_DOUBLE_EQ(lucid::mse_loss(a, b, "sum").item(), 8.0);
  EXPECT_EQ(lucid::l1_loss(a, b, "none").to_vector(), (std::vector<double>{0, 2, 2}));
  Tensor p = T({0.5, 0.9}, {2}), t = T({1, 0}, {2});
  EXPECT_NEAR(lucid::binary_cross_entropy(p, t).item(), (-std::log(0.5) - std::log(0.1)) / 2, 1e-6);
  // log(0) is clamped at -100, as in PyTorch
  EXPECT_NEAR(lucid::binary_cross_entropy(T({0}, {1}), T({1}, {1})).item(), 100.0, 1e-4);
  EXPECT_THROW(lucid::mse_loss(a, T({1}, {1})), lucid::ValueError);
  try {
    lucid::mse_loss(a, b, "avg");
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_STREQ(e.what(), "[mse_loss] reduction='avg' must be 'mean', 'sum' or 'none'");
  }
}

TEST(Layers, ConvShapesAndRepr) {
  nn::Conv3d c(2, 4, 3, 2, 1);
  EXPECT_EQ(c.weight.shape(), (Shape{4, 2, 3, 3, 3}));
  EXPECT_EQ(c(Tensor::randn({1, 2, 8, 8, 8})).shape(), (Shape{1, 4, 4, 4, 4}));
  EXPECT_EQ(c.repr(), "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1))");
  nn::Conv1d same(1, 1, 4, 1, "same");
  EXPECT_EQ(same(Tensor::randn({1, 1, 9})).shape(), (Shape{1, 1, 9}));
  EXPECT_THROW(nn::Conv2d(2, 2, 3, 2, "same"), lucid::ValueError);
  EXPECT_THROW(nn::Conv2d(3, 2, 3, 1, 0, 1, 2), lucid::ValueError);
}

TEST(Layers, ActivationsFlattenPool) {
  Tensor x = T({-1, 2}, {1, 2});
  EXPECT_NEAR(nn::LeakyReLU(0.1)(x).flat(0), -0.1, 1e-7);
  EXPECT_NEAR(nn::Sigmoid()(x).flat(1), 1 / (1 + std::exp(-2.0)), 1e-7);
  EXPECT_NEAR(nn::Tanh()(x).flat(1), std::tanh(2.0), 1e-7);
  EXPECT_EQ(nn::Flatten()(Tensor::zeros({2, 3, 4})).shape(), (Shape{2, 12}));
  Tensor v = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 2, 2});
  EXPECT_NEAR(nn::AvgPool3d(2)(v).item(), 4.5, 1e-6);
  EXPECT_EQ(nn::AvgPool3d(2)(Tensor::zeros({2, 3, 8, 6, 4})).shape(), (Shape{2, 3, 4, 3, 2}));
}

TEST(Optim, SGDMomentumFollowsTheRule) {
  Tensor p = T({1.0}, {1});
  p.set_requires_grad();
  lucid::optim::SGD opt({p}, 0.1, 0.9);
  // loss = p^2 -> grad 2p
  std::vector<double> expect;
  double pv = 1.0, buf = 0;
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    (p * p).backward();
    opt.step();
    const double g = 2 * pv;
    buf = i == 0 ? g : 0.9 * buf + g;
    pv -= 0.1 * buf;
    EXPECT_NEAR(p.item(), pv, 1e-6);
  }
}

TEST(Optim, AdamFirstStepIsLrTimesSign) {
  Tensor p = T({1.0, -2.0}, {2});
  p.set_requires_grad();
  lucid::optim::Adam opt({p}, 0.01);
  lucid::sum(p * p).backward();
  opt.step();
  EXPECT_NEAR(p.flat(0), 0.99, 1e-6);
  EXPECT_NEAR(p.flat(1), -1.99, 1e-6);
  lucid::optim::AdamW w({p}, 0.1, {0.9, 0.999}, 1e-8, 0.5);
  p.zero_grad();
  EXPECT_NO_THROW(w.step());  // no gradient: nothing changes
  EXPECT_NEAR(p.flat(0), 0.99, 1e-6);
  EXPECT_THROW(lucid::optim::Adam({p}, 0.1, {1.0, 0.999}), lucid::ValueError);
  EXPECT_THROW(lucid::optim::SGD({p}, -1.0), lucid::ValueError);
}

TEST(Training, TinyAutoencoderLearns) {
  lucid::random::seed(3);
  TinyAE model;
  // Four balls of different centres and radii in 8^3 volumes.
  Tensor x = Tensor::zeros({4, 1, 8, 8, 8});
  for (int b = 0; b < 4; ++b)
    for (int i = 0; i < 512; ++i) {
      const double dz = i / 64 - 2.5 - b % 2, dy = (i / 8) % 8 - 3.5 + b / 2, dx = i % 8 - 3.5;
      x.data<float>()[b * 512 + i] = dz * dz + dy * dy + dx * dx < 4.0 + b ? 1.0f : 0.0f;
    }
  lucid::optim::Adam opt(model.parameters(), 0.01);
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    Tensor loss = lucid::mse_loss(model(x), x);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  EXPECT_LT(last, first / 3);
}

TEST(Checkpoint, RoundTripAndHeader) {
  TinyAE a, b;
  const fs::path path = temp_file("roundtrip.safetensors");
  lucid::save(a.state_dict(), path.string());
  b.load_state_dict(lucid::load(path.string()));
  for (std::size_t i = 0; i < a.parameters().size(); ++i)
    EXPECT_EQ(lucid::max_abs_diff(a.parameters()[i], b.parameters()[i]), 0.0);
  // The header is JSON with names, dtypes and shapes.
  std::ifstream f(path, std::ios::binary);
  unsigned char len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(len[i]) << (8 * i);
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  EXPECT_NE(header.find("\"enc.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,3,3,3]"), std::string::npos) << header;
  EXPECT_EQ(n % 8, 0u);
  fs::remove(path);
}

TEST(Checkpoint, ErrorsNameThePathAndTheProblem) {
  const fs::path missing = temp_file("missing.safetensors");
  fs::remove(missing);
  try {
    lucid::load(missing.string());
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open the file"), std::string::npos) << e.what();
  }
  TinyAE a;
  const fs::path path = temp_file("trunc.safetensors");
  lucid::save(a.state_dict(), path.string());
  fs::resize_file(path, fs::file_size(path) - 10);
  try {
    lucid::load(path.string());
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("the file is truncated"), std::string::npos) << e.what();
  }
  fs::resize_file(path, 5);
  EXPECT_THROW(lucid::load(path.string()), lucid::ValueError);
  { std::ofstream bad(path, std::ios::binary); bad.write("\x10\0\0\0\0\0\0\0{not json}      ", 24); }
  try {
    lucid::load(path.string());
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed header"), std::string::npos) << e.what();
  }
  // A checkpoint of another model does not load into this one.
  nn::Conv3d other(1, 2, 3);
  lucid::save(other.state_dict(), path.string());
  EXPECT_THROW(a.load_state_dict(lucid::load(path.string())), lucid::ValueError);
  fs::remove(path);
}

TEST(Checkpoint, FailedSaveKeepsThePreviousFile) {
  TinyAE a;
  const fs::path path = temp_file("keep.safetensors");
  lucid::save(a.state_dict(), path.string());
  const auto size = fs::file_size(path);
  // An undefined tensor makes the save fail before anything is written.
  lucid::NamedTensors broken{{"x", Tensor()}};
  EXPECT_THROW(lucid::save(broken, path.string()), lucid::TypeError);
  EXPECT_EQ(fs::file_size(path), size);
  EXPECT_NO_THROW(lucid::load(path.string()));
  // A directory that does not exist: a clear error.
  EXPECT_THROW(lucid::save(a.state_dict(), "/nonexistent-dir/x.safetensors"), lucid::Error);
  fs::remove(path);
}
