// Transposed and ordinary convolutions against the float64 oracle, on hand-
// picked boundary cases and a few hundred random configurations.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "conv_tester.h"
#include "lucid/lucid.h"

using lucid::DType;
using lucid::Tensor;

TEST(ConvTranspose, SeedShapes) {
  ConvTransposeTester().input(1, 4, 8, 8, 8).out_channels(2).kernel(3).stride(2).padding(1).output_padding(1).test();
  ConvTransposeTester().input(2, 8, 4, 4, 4).out_channels(4).kernel(4).stride(2).padding(1).test();
}

TEST(ConvTranspose, DesignExample) {
  ConvTransposeTester().input(2, 3, 5, 7, 6).kernel(3, 2, 3).stride(2, 1, 3).groups(3).dilation(1, 2, 1).test();
}

TEST(ConvTranspose, OneD) {
  for (auto dt : {DType::Float32, DType::Float64}) {
    ConvTransposeTester().input(2, 3, 7).out_channels(5).kernel(3).stride(2).dtype(dt).test();
    ConvTransposeTester().input(1, 4, 9).out_channels(4).kernel(4).stride(3).padding(2).output_padding(2).groups(2).dtype(dt).test();
    ConvTransposeTester().input(3, 2, 5).out_channels(2).kernel(2).dilation(3).output_padding(2).dtype(dt).test();
  }
}

TEST(ConvTranspose, TwoD) {
  for (auto dt : {DType::Float32, DType::Float64}) {
    ConvTransposeTester().input(2, 3, 5, 6).out_channels(4).kernel(3, 2).stride(2, 3).padding(1, 0).dtype(dt).test();
    ConvTransposeTester().input(1, 6, 4, 3).out_channels(3).kernel(2).stride(2).groups(3).bias(false).dtype(dt).test();
  }
}

TEST(ConvTranspose, KernelEqualsStride) {  // phases do not overlap
  ConvTransposeTester().input(2, 4, 3, 4, 5).out_channels(3).kernel(2).stride(2).test();
  ConvTransposeTester().input(1, 3, 3, 3, 3).out_channels(2).kernel(3).stride(3).dtype(DType::Float64).test();
}

TEST(ConvTranspose, KernelSmallerThanStride) {  // some outputs receive no tap: bias only
  ConvTransposeTester().input(2, 2, 3, 4, 3).out_channels(3).kernel(2, 1, 2).stride(3, 2, 4).test();
}

TEST(ConvTranspose, PaddingLargerThanDilatedKernel) {
  ConvTransposeTester().input(1, 2, 9, 8, 7).out_channels(2).kernel(2).stride(3).padding(4, 5, 3).test();
  ConvTransposeTester().input(1, 2, 12).out_channels(3).kernel(3).stride(2).padding(6).dtype(DType::Float64).test();
}

TEST(ConvTranspose, OutputPaddingUpToLimit) {
  ConvTransposeTester().input(1, 2, 4, 5, 3).out_channels(2).kernel(3).stride(3, 2, 4).output_padding(2, 1, 3).test();
  // output_padding below dilation (stride 1)
  ConvTransposeTester().input(2, 2, 4, 4).out_channels(2).kernel(2).dilation(3, 2).output_padding(2, 1).test();
}

TEST(ConvTranspose, SameAndValidEveryStride) {
  for (int s = 1; s <= 4; ++s)
    for (int k = 1; k <= 4; ++k)
      for (int d = 1; d <= 2; ++d) {
        ConvTransposeTester().input(1, 2, 5).out_channels(3).kernel(k).stride(s).dilation(d).padding_mode("same").test();
        ConvTransposeTester().input(1, 2, 4, 3).out_channels(2).kernel(k, 2).stride(s, 1).dilation(d, 1).padding_mode("same").dtype(DType::Float64).test();
      }
  ConvTransposeTester().input(1, 2, 4, 3, 5).kernel(3).stride(2).padding_mode("same").test();
  ConvTransposeTester().input(1, 2, 4, 3, 5).kernel(3).stride(2).padding_mode("valid").test();
}

TEST(ConvTranspose, Depthwise) {
  ConvTransposeTester().input(2, 6, 4, 5, 3).out_channels(6).kernel(3).stride(2).padding(1).output_padding(1).groups(6).test();
  ConvTransposeTester().input(1, 4, 5, 5).out_channels(8).kernel(3).stride(2).groups(4).dtype(DType::Float64).test();
}

TEST(ConvTranspose, Unbatched) {
  ConvTransposeTester().input(1, 3, 4, 5, 3).out_channels(2).kernel(3).stride(2).unbatched().test();
  ConvTransposeTester().input(1, 2, 6).out_channels(4).kernel(2).stride(2).unbatched().dtype(DType::Float64).test();
}

TEST(ConvTranspose, RandomConfigurations) {
  std::mt19937 rng(1234);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int tested = 0;
  while (tested < 300) {
    const int nd = 1 + tested % 3;
    oracle::Case c;
    const int g = r(1, 3);
    const int cin = g * r(1, 3), cout = g * r(1, 3);
    std::vector<std::int64_t> L, k, s, p, op, d;
    for (int a = 0; a < nd; ++a) {
      L.push_back(r(1, nd == 3 ? 5 : 8));
      k.push_back(r(1, nd == 3 ? 3 : 5));
      s.push_back(r(1, 4));
      d.push_back(r(1, 3));
      p.push_back(r(0, 4));
      op.push_back(r(0, static_cast<int>(std::max(s.back(), d.back())) - 1));
    }
    const int mode = r(0, 9);  // mostly explicit padding; sometimes 'same' or 'valid'
    // Skip configurations whose output would be empty (tested as errors elsewhere).
    bool ok = true;
    for (int a = 0; a < nd && mode >= 2; ++a)
      if ((L[a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 < 1) ok = false;
    if (!ok) continue;
    ConvTransposeTester t;
    if (nd == 1) t.input(r(1, 3), cin, L[0]);
    if (nd == 2) t.input(r(1, 2), cin, L[0], L[1]);
    if (nd == 3) t.input(r(1, 2), cin, L[0], L[1], L[2]);
    t.out_channels(cout).groups(g).bias(r(0, 1)).unbatched(r(0, 5) == 0);
    t.dtype(r(0, 1) ? DType::Float32 : DType::Float64);
    if (nd == 1) t.kernel(k[0]).stride(s[0]).dilation(d[0]);
    if (nd == 2) t.kernel(k[0], k[1]).stride(s[0], s[1]).dilation(d[0], d[1]);
    if (nd == 3) t.kernel(k[0], k[1], k[2]).stride(s[0], s[1], s[2]).dilation(d[0], d[1], d[2]);
    if (mode == 0) {
      t.padding_mode("same");
    } else if (mode == 1) {
      t.padding_mode("valid");
      if (nd == 1) t.output_padding(op[0]);
      if (nd == 2) t.output_padding(op[0], op[1]);
      if (nd == 3) t.output_padding(op[0], op[1], op[2]);
    } else {
      if (nd == 1) t.padding(p[0]).output_padding(op[0]);
      if (nd == 2) t.padding(p[0], p[1]).output_padding(op[0], op[1]);
      if (nd == 3) t.padding(p[0], p[1], p[2]).output_padding(op[0], op[1], op[2]);
    }
    t.test();
    if (HasFatalFailure() || HasFailure()) return;
    ++tested;
  }
}

TEST(ConvTranspose, MixedDtypesComputeInFloat64) {
  Tensor x = Tensor::randn({1, 2, 3, 3}, {.requires_grad = true});
  Tensor w = Tensor::randn({2, 2, 2, 2}, {.dtype = DType::Float64, .requires_grad = true});
  Tensor y = lucid::conv_transpose2d(x, w);
  EXPECT_EQ(y.dtype(), DType::Float64);
  y.backward();
  EXPECT_EQ(x.grad().dtype(), DType::Float32);
  EXPECT_EQ(w.grad().dtype(), DType::Float64);
  Tensor y64 = lucid::conv_transpose2d(x.cast(DType::Float64), w);
  EXPECT_EQ(lucid::max_abs_diff(y, y64), 0.0);
}

TEST(ConvTranspose, OutputSizePicksOutputPadding) {
  Tensor x = Tensor::randn({1, 2, 4, 5});
  Tensor w = Tensor::randn({2, 3, 3, 3});
  lucid::ConvTransposeParams p;
  p.stride = 2;
  p.padding = 1;
  for (std::int64_t h : {7, 8})
    for (std::int64_t wd : {9, 10}) {
      Tensor y = lucid::conv_transpose(2, x, w, Tensor(), p, {h, wd});
      EXPECT_EQ(y.shape(), (lucid::Shape{1, 3, h, wd}));
      lucid::ConvTransposeParams q = p;
      q.output_padding = std::vector<std::int64_t>{h - 7, wd - 9};
      EXPECT_EQ(lucid::max_abs_diff(y, lucid::conv_transpose(2, x, w, Tensor(), q)), 0.0);
    }
  // N and C may lead, as in PyTorch.
  EXPECT_EQ(lucid::conv_transpose(2, x, w, Tensor(), p, {1, 3, 8, 10}).shape(), (lucid::Shape{1, 3, 8, 10}));
}

TEST(ConvTranspose, NanAndInfPropagate) {
  Tensor x = Tensor::zeros({1, 1, 3});
  x.data<float>()[1] = std::numeric_limits<float>::quiet_NaN();
  x.data<float>()[2] = std::numeric_limits<float>::infinity();
  Tensor w = Tensor::ones({1, 1, 1});
  Tensor y = lucid::conv_transpose1d(x, w);
  EXPECT_EQ(y.flat(0), 0.0);
  EXPECT_TRUE(std::isnan(y.flat(1)));
  EXPECT_TRUE(std::isinf(y.flat(2)));
}

TEST(ConvTranspose, EmptyBatch) {
  Tensor x = Tensor::randn({0, 2, 3, 3, 3}, {.requires_grad = true});
  Tensor w = Tensor::randn({2, 4, 2, 2, 2}, {.requires_grad = true});
  Tensor b = Tensor::randn({4}, {.requires_grad = true});
  Tensor y = lucid::conv_transpose3d(x, w, b, 2);
  EXPECT_EQ(y.shape(), (lucid::Shape{0, 4, 6, 6, 6}));
  y.backward();
  EXPECT_EQ(lucid::max_abs_diff(w.grad(), Tensor::zeros(w.shape())), 0.0);
  EXPECT_EQ(lucid::max_abs_diff(b.grad(), Tensor::zeros({4})), 0.0);
}

// Bitwise the same output and gradients for 1, 2 and 3 threads, on problems
// large enough to run threaded through each kernel family: the blocked
// forward, the phase products, the taps products, the direct (depthwise) loops
// and every backward scheme (two halves; chunks of column rows when there are
// fewer positions than rows, as in the short-rows case; shared position
// chunks when the weight gradient is large but the positions are more; the
// blocked gather and weight gradient for stride 1 with a 3-wide kernel).
TEST(ConvTranspose, DeterministicAcrossThreadCounts) {
  struct Cfg {
    lucid::Shape x, w;
    std::int64_t s, p, op, g;
  };
  const Cfg cfgs[] = {
      {{2, 8, 6, 5, 7}, {8, 6, 3, 3, 3}, 2, 1, 1, 1},    // small: serial kernels
      {{1, 32, 12, 12, 12}, {32, 16, 2, 2, 2}, 2, 0, 0, 1},  // blocked forward
      {{1, 64, 16, 16, 4}, {64, 32, 2, 2, 2}, 2, 0, 0, 1},   // k = s, short rows: phase products
      {{2, 64, 4, 4, 4}, {64, 32, 4, 4, 4}, 2, 1, 0, 1},     // short rows: taps products, row chunks
      {{1, 32, 8, 8, 8}, {32, 32, 2, 2, 2}, 2, 0, 0, 1},     // position chunks
      {{2, 16, 16, 16, 16}, {16, 1, 3, 3, 3}, 2, 1, 1, 16},  // depthwise: direct loops
      {{1, 16, 10, 12, 14}, {16, 12, 3, 3, 3}, 1, 1, 0, 1},  // blocked gather and weight gradient
  };
  const int saved = lucid::get_num_threads();
  for (const Cfg& c : cfgs) {
    lucid::random::seed(7);
    Tensor x = Tensor::randn(c.x, {.requires_grad = true});
    Tensor w = Tensor::randn(c.w, {.requires_grad = true});
    Tensor b = Tensor::randn({c.w[1] * c.g}, {.requires_grad = true});
    Tensor gy;
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2, 3, 1}) {
      lucid::set_num_threads(threads);
      x.zero_grad(); w.zero_grad(); b.zero_grad();
      Tensor y = lucid::conv_transpose3d(x, w, b, c.s, c.p, c.op, 1, c.g);
      if (!gy.defined()) gy = Tensor::randn(y.shape());
      y.backward(gy);
      std::vector<double> all = y.to_vector();
      for (const Tensor& gr : {x.grad(), w.grad(), b.grad()})
        for (double v : gr.to_vector()) all.push_back(v);
      results.push_back(all);
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      ASSERT_EQ(results[i].size(), results[0].size());
      for (std::size_t j = 0; j < results[0].size(); ++j)
        ASSERT_EQ(std::memcmp(&results[i][j], &results[0][j], sizeof(double)), 0)
            << "input " << c.x << " run " << i << " element " << j;
    }
  }
  lucid::set_num_threads(saved);
}

// Ordinary convolution: forward is the transposed convolution's input
// gradient. Checked here against the oracle read the other way round.
TEST(Conv, ForwardIsTheTransposedInputGradient) {
  std::mt19937 rng(99);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 60; ++t) {
    const int nd = 1 + t % 3;
    const int g = r(1, 2), cin = g * r(1, 3), cout = g * r(1, 3);
    lucid::ConvParams prm;
    std::vector<std::int64_t> L, k, s, p, d;
    for (int a = 0; a < nd; ++a) {
      k.push_back(r(1, 3));
      s.push_back(r(1, 3));
      d.push_back(r(1, 2));
      p.push_back(r(0, 2));
      L.push_back(d.back() * (k.back() - 1) + 1 + r(0, 5));
    }
    prm.stride = s; prm.padding = p; prm.dilation = d; prm.groups = g;
    lucid::Shape xs{r(1, 2), cin}, ws{cout, cin / g};
    for (int a = 0; a < nd; ++a) { xs.push_back(L[a]); ws.push_back(k[a]); }
    const auto dt = t % 2 ? DType::Float64 : DType::Float32;
    Tensor x = Tensor::randn(xs, {.dtype = dt, .requires_grad = true});
    Tensor w = Tensor::randn(ws, {.dtype = dt, .requires_grad = true});
    Tensor b = Tensor::randn({cout}, {.dtype = dt, .requires_grad = true});
    Tensor y = lucid::conv(nd, x, w, b, prm);
    // Oracle: the conv is the adjoint of a transposed conv from y's shape to x's.
    oracle::Case c;
    c.nd = nd; c.N = xs[0]; c.Cin = cout; c.Cout = cin; c.groups = g; c.bias = false;
    for (int a = 0; a < nd; ++a) {
      c.L.push_back(y.shape()[2 + a]);
      c.k.push_back(k[a]); c.s.push_back(s[a]); c.d.push_back(d[a]); c.p.push_back(p[a]);
      // output_padding making the transposed output as long as x
      c.op.push_back(L[a] - ((y.shape()[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + 1));
    }
    Tensor gy = Tensor::randn(y.shape(), {.dtype = dt});
    // Transposed direction: its "input" is gy (on y's side), its gradient input is x.
    const auto ref = oracle::evaluate(c, gy.to_vector(), w.to_vector(), {}, x.to_vector());
    // ref.gx = conv(x, w) without bias; ref.y = conv input gradient; ref.gw = weight gradient.
    std::vector<double> want_y = ref.gx;
    const std::int64_t per = y.numel() / (y.shape()[0] * cout);
    for (std::size_t i = 0; i < want_y.size(); ++i) want_y[i] += b.flat(static_cast<std::int64_t>(i / per) % cout);
    const double tol = dt == DType::Float32 ? 2e-6 : 1e-13;
    auto check = [&](const char* what, const std::vector<double>& got, const std::vector<double>& want) {
      double scale = 1e-30, err = 0;
      for (double v : want) scale = std::max(scale, std::abs(v));
      for (std::size_t i = 0; i < got.size(); ++i) err = std::max(err, std::abs(got[i] - want[i]));
      EXPECT_LE(err / scale, tol) << what << " case " << t;
    };
    check("output", y.to_vector(), want_y);
    y.backward(gy);
    check("input grad", x.grad().to_vector(), ref.y);
    check("weight grad", w.grad().to_vector(), ref.gw);
    std::vector<double> gb(static_cast<std::size_t>(cout), 0.0);
    for (std::int64_t i = 0; i < gy.numel(); ++i) gb[static_cast<std::size_t>((i / per) % cout)] += gy.flat(i);
    check("bias grad", b.grad().to_vector(), gb);
  }
}
