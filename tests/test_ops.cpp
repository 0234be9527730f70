// Forward values of the elementwise, reduction and shape ops.
#include <gtest/gtest.h>

#include <cmath>

#include "lucid/lucid.h"

using lucid::DType;
using lucid::Shape;
using lucid::Tensor;

static Tensor T(std::vector<double> v, Shape s, DType dt = DType::Float32) {
  return Tensor::from_vector(v, s, {.dtype = dt});
}

TEST(Elementwise, BroadcastingLikeNumPy) {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = T({10, 20, 30}, {3});
  EXPECT_EQ((a + b).to_vector(), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  Tensor c = T({100, 200}, {2, 1});
  EXPECT_EQ((a * c).to_vector(), (std::vector<double>{100, 200, 300, 800, 1000, 1200}));
  EXPECT_EQ((a - 1.0).to_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ((12.0 / a).flat(2), 4.0);
  EXPECT_THROW(a + T({1, 2}, {2}), lucid::ValueError);
}

TEST(Elementwise, MixedDtypesPromote) {
  Tensor a = T({1}, {1}), b = T({2}, {1}, DType::Float64);
  EXPECT_EQ((a + b).dtype(), DType::Float64);
  EXPECT_EQ((a * 2.0).dtype(), DType::Float32);
}

TEST(Elementwise, UnaryValues) {
  Tensor x = T({-2, 0, 3}, {3});
  EXPECT_EQ(lucid::relu(x).to_vector(), (std::vector<double>{0, 0, 3}));
  EXPECT_NEAR(lucid::leaky_relu(x, 0.1).flat(0), -0.2, 1e-7);
  EXPECT_NEAR(lucid::sigmoid(x).flat(1), 0.5, 1e-7);
  EXPECT_NEAR(lucid::tanh(x).flat(2), std::tanh(3.0), 1e-6);
  EXPECT_EQ(lucid::abs(x).to_vector(), (std::vector<double>{2, 0, 3}));
  EXPECT_EQ(lucid::clamp(x, -1, 1).to_vector(), (std::vector<double>{-1, 0, 1}));
  EXPECT_EQ(lucid::pow(x, 2).to_vector(), (std::vector<double>{4, 0, 9}));
  EXPECT_NEAR(lucid::exp(lucid::log(T({5}, {1}))).item(), 5.0, 1e-5);
  EXPECT_THROW(lucid::clamp(x, 1, -1), lucid::ValueError);
}

TEST(Elementwise, NanPropagates) {
  Tensor x = T({NAN}, {1});
  EXPECT_TRUE(std::isnan(lucid::relu(x).item()));
  EXPECT_TRUE(std::isnan((x + 1.0).item()));
}

TEST(Reduction, SumAndMean) {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(lucid::sum(a).item(), 21.0);
  EXPECT_EQ(lucid::mean(a).item(), 3.5);
  EXPECT_EQ(lucid::sum(a, {0}).to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(lucid::sum(a, {-1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(lucid::mean(a, {1}).to_vector(), (std::vector<double>{2, 5}));
  EXPECT_THROW(lucid::sum(a, {2}), lucid::ValueError);
  EXPECT_THROW(lucid::sum(a, {0, 0}), lucid::ValueError);
  EXPECT_EQ(lucid::sum_to(a, {3}).to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(lucid::broadcast_to(T({1, 2}, {2, 1}), {2, 3}).to_vector(), (std::vector<double>{1, 1, 1, 2, 2, 2}));
}

TEST(ShapeOps, ReshapeFlattenCat) {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(lucid::reshape(a, {3, -1}).shape(), (Shape{3, 2}));
  EXPECT_THROW(lucid::reshape(a, {4, -1}), lucid::ValueError);
  EXPECT_THROW(lucid::reshape(a, {-1, -1}), lucid::ValueError);
  EXPECT_EQ(lucid::flatten(Tensor::zeros({2, 3, 4}), 1).shape(), (Shape{2, 12}));
  Tensor c = lucid::cat({a, T({7, 8}, {2, 1})}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 4}));
  EXPECT_EQ(c.to_vector(), (std::vector<double>{1, 2, 3, 7, 4, 5, 6, 8}));
  EXPECT_THROW(lucid::cat({a, T({7, 8}, {1, 2})}, 1), lucid::ValueError);
}
