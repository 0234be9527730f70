// Tensors, factories, printing and the autograd engine.
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>

#include "lucid/lucid.h"

using lucid::DType;
using lucid::Shape;
using lucid::Tensor;

TEST(Shape, PrintsLikeAPythonTuple) {
  std::ostringstream os;
  os << Shape{1, 2, 16, 16, 16} << ' ' << Shape{3} << ' ' << Shape{};
  EXPECT_EQ(os.str(), "(1, 2, 16, 16, 16) (3,) ()");
}

TEST(Shape, OverflowIsAnError) {
  EXPECT_THROW(Shape({1ll << 40, 1ll << 40}).numel(), lucid::ValueError);
  try {
    Tensor::zeros({1ll << 32, 1ll << 32, 4});
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("overflows 64 bits"), std::string::npos) << e.what();
  }
}

TEST(Tensor, ImpossibleAllocationIsMemoryError) {
  try {
    Tensor::empty({1ll << 60});
    FAIL();
  } catch (const lucid::MemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot allocate"), std::string::npos) << e.what();
  }
}

TEST(Tensor, Factories) {
  EXPECT_EQ(Tensor::zeros({2, 3}).dtype(), DType::Float32);
  EXPECT_EQ(Tensor::ones({2}, {.dtype = DType::Float64}).flat(1), 1.0);
  EXPECT_EQ(Tensor::full({2}, 2.5).flat(0), 2.5);
  EXPECT_EQ(Tensor::scalar(3.0).ndim(), 0);
  EXPECT_EQ(Tensor::scalar(3.0).item(), 3.0);
  EXPECT_TRUE(Tensor::randn({2}, {.requires_grad = true}).requires_grad());
  Tensor v = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(v.flat(5), 6.0);
  EXPECT_THROW(Tensor::from_vector({1, 2}, {3}), lucid::ValueError);
  EXPECT_THROW(Tensor::zeros({2}).item(), lucid::ValueError);
  EXPECT_THROW(Tensor::zeros({2}).data<double>(), lucid::TypeError);
}

TEST(Random, SeedReproducesAndMomentsLookRight) {
  lucid::random::seed(42);
  Tensor a = Tensor::randn({10000});
  lucid::random::seed(42);
  Tensor b = lucid::random::randn({10000});
  EXPECT_EQ(lucid::max_abs_diff(a, b), 0.0);
  EXPECT_NEAR(lucid::mean(a).item(), 0.0, 0.05);
  EXPECT_NEAR(lucid::mean(a * a).item(), 1.0, 0.05);
  Tensor u = lucid::random::rand({10000});
  EXPECT_NEAR(lucid::mean(u).item(), 0.5, 0.02);
  for (double x : u.to_vector()) ASSERT_TRUE(x >= 0.0 && x < 1.0);
}

TEST(Tensor, PrintingIsReadable) {
  Tensor t = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  t.set_requires_grad();
  EXPECT_EQ(t.str(), "Tensor([[1, 2],\n        [3, 4]], shape=(2, 2), dtype=float32, requires_grad=True)");
  EXPECT_NE(Tensor::zeros({5000}).str().find("..."), std::string::npos);
}

TEST(Autograd, NonScalarBackwardSeedsOnes) {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3});
  x.set_requires_grad();
  Tensor y = x * x;
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 4, 6}));
}

TEST(Autograd, ExplicitGradientAndAccumulation) {
  Tensor x = Tensor::from_vector({1, 2}, {2});
  x.set_requires_grad();
  Tensor g = Tensor::from_vector({10, 100}, {2});
  (x * 3.0).backward(g);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{30, 300}));
  (x * 3.0).backward(g);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{60, 600}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_THROW((x * 3.0).backward(Tensor::ones({3})), lucid::ValueError);
}

TEST(Autograd, SharedSubgraphGetsSummedGradient) {
  Tensor x = Tensor::from_vector({2}, {1});
  x.set_requires_grad();
  Tensor a = x * x;        // 4
  Tensor b = a * x + a;    // x^3 + x^2
  b.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 3 * 4 + 2 * 2);
}

TEST(Autograd, SecondBackwardThroughFreedGraphThrows) {
  Tensor x = Tensor::randn({3}, {.requires_grad = true});
  Tensor y = lucid::sum(x * x);
  y.backward();
  try {
    y.backward();
    FAIL();
  } catch (const lucid::AutogradError& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Tensor x = Tensor::from_vector({1, 2}, {2});
  x.set_requires_grad();
  Tensor y = lucid::sum(x * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{4, 8}));
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = Tensor::randn({3}, {.requires_grad = true});
  {
    lucid::NoGradGuard ng;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
  }
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Autograd, BackwardWithoutGradIsAnError) {
  Tensor x = Tensor::randn({3});
  EXPECT_THROW(lucid::sum(x).backward(), lucid::AutogradError);
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = Tensor::randn({3}, {.requires_grad = true});
  Tensor d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
}

TEST(Autograd, LeafBackwardSeedsItsOwnGrad) {
  Tensor x = Tensor::randn({2, 2}, {.requires_grad = true});
  x.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1, 1, 1, 1}));
}

TEST(Allocator, ReusesFreedMemoryAndCanRelease) {
  lucid::empty_cache();
  const void* first;
  {
    Tensor a = Tensor::empty({1 << 20});
    first = a.raw_data();
  }
  EXPECT_GE(lucid::cached_bytes(), std::size_t{4} << 20);
  Tensor b = Tensor::empty({1 << 20});
  EXPECT_EQ(b.raw_data(), first);
  EXPECT_GE(lucid::empty_cache(), std::size_t{0});
}

// Fresh blocks of 4 MiB and more start on a 2 MiB boundary (where the
// system can back them with huge pages); smaller ones on 64 bytes. Both are
// fully writable, the large one to its last byte.
TEST(Allocator, LargeBlocksStartOnHugePages) {
  lucid::empty_cache();
  Tensor big = Tensor::zeros({(4 << 20) / 4 + 3});
  Tensor small = Tensor::zeros({1000});
  const auto at = [](const Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.raw_data()); };
  EXPECT_EQ(at(big) % (std::uintptr_t{2} << 20), 0u);
  EXPECT_EQ(at(small) % 64, 0u);
  float* p = static_cast<float*>(big.raw_data());
  p[big.numel() - 1] = 7.0f;
  EXPECT_EQ(big.flat(big.numel() - 1), 7.0);
}

TEST(Threading, SetAndGet) {
  const int saved = lucid::get_num_threads();
  lucid::set_num_threads(1);
  EXPECT_EQ(lucid::get_num_threads(), 1);
  lucid::set_num_threads(saved);
  try {
    lucid::set_num_threads(0);
    FAIL();
  } catch (const lucid::ValueError& e) {
    EXPECT_STREQ(e.what(), "[set_num_threads] n=0 must be at least 1");
  }
}
