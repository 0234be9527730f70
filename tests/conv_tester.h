// A fluent tester for transposed convolutions:
//
//   ConvTransposeTester().input(2, 3, 5, 7, 6).kernel(3, 2, 3).stride(2, 1, 3)
//       .groups(3).dilation(1, 2, 1).test();
//
// Runs lucid's conv_transpose forward and backward on random data and checks
// the output and the input, weight and bias gradients against the float64
// oracle (conv_oracle.h), naming the first wrong coordinate.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "conv_oracle.h"
#include "lucid/lucid.h"

class ConvTransposeTester {
 public:
  template <class... S>
  ConvTransposeTester& input(std::int64_t n, std::int64_t c, S... spatial) {
    c_.N = n;
    c_.Cin = c;
    c_.L = {static_cast<std::int64_t>(spatial)...};
    c_.nd = static_cast<int>(sizeof...(S));
    return *this;
  }
  ConvTransposeTester& out_channels(std::int64_t c) { cout_ = c; return *this; }
  template <class... K> ConvTransposeTester& kernel(K... v) { c_.k = {static_cast<std::int64_t>(v)...}; return *this; }
  template <class... K> ConvTransposeTester& stride(K... v) { c_.s = {static_cast<std::int64_t>(v)...}; return *this; }
  template <class... K> ConvTransposeTester& padding(K... v) { c_.p = {static_cast<std::int64_t>(v)...}; return *this; }
  ConvTransposeTester& padding_mode(const std::string& m) { c_.mode = m; return *this; }
  template <class... K> ConvTransposeTester& output_padding(K... v) { c_.op = {static_cast<std::int64_t>(v)...}; return *this; }
  template <class... K> ConvTransposeTester& dilation(K... v) { c_.d = {static_cast<std::int64_t>(v)...}; return *this; }
  ConvTransposeTester& groups(std::int64_t g) { c_.groups = g; return *this; }
  ConvTransposeTester& bias(bool b) { c_.bias = b; return *this; }
  ConvTransposeTester& unbatched(bool u = true) { c_.unbatched = u; return *this; }
  ConvTransposeTester& dtype(lucid::DType dt) { dtype_ = dt; return *this; }
  // Checks the forward pass only (skips backward).
  ConvTransposeTester& forward_only(bool f = true) { forward_only_ = f; return *this; }

  std::string describe() const {
    std::ostringstream os;
    auto v = [&](const char* n, const std::vector<std::int64_t>& a) {
      os << ' ' << n << '=' << lucid::Shape(a);
    };
    os << "conv_transpose" << c_.nd << "d N=" << c_.N << " Cin=" << c_.Cin << " Cout=" << cfg().Cout;
    v("L", c_.L);
    v("k", cfg().k);
    v("s", cfg().s);
    if (c_.mode.empty()) v("p", cfg().p); else os << " padding='" << c_.mode << "'";
    v("op", cfg().op);
    v("d", cfg().d);
    os << " groups=" << c_.groups << " bias=" << c_.bias << " unbatched=" << c_.unbatched << ' '
       << lucid::dtype_name(dtype_);
    return os.str();
  }

  // The case with every per-axis list expanded to nd entries.
  oracle::Case cfg() const {
    oracle::Case c = c_;
    auto fill = [&](std::vector<std::int64_t>& v, std::int64_t def) {
      if (v.empty()) v = {def};
      if (v.size() == 1) v.assign(static_cast<std::size_t>(c.nd), v[0]);
    };
    fill(c.k, 3);
    fill(c.s, 1);
    fill(c.p, 0);
    fill(c.op, 0);
    fill(c.d, 1);
    c.Cout = cout_ > 0 ? cout_ : c.Cin;
    if (c.unbatched) c.N = 1;
    return c;
  }

  void test() const {
    using lucid::Shape;
    using lucid::Tensor;
    const oracle::Case c = cfg();
    SCOPED_TRACE(describe());
    Shape xs;
    if (!c.unbatched) xs.push_back(c.N);
    xs.push_back(c.Cin);
    for (auto l : c.L) xs.push_back(l);
    Shape ws{c.Cin, c.Cout / c.groups};
    for (auto k : c.k) ws.push_back(k);
    const lucid::TensorOptions o{.dtype = dtype_, .requires_grad = true};
    Tensor x = Tensor::randn(xs, o), w = Tensor::randn(ws, o);
    Tensor b = c.bias ? Tensor::randn({c.Cout}, o) : Tensor();
    lucid::ConvTransposeParams prm;
    prm.stride = c.s;
    prm.padding = c.mode.empty() ? lucid::PaddingArg(c.p) : lucid::PaddingArg(c.mode);
    prm.output_padding = c.op;
    prm.dilation = c.d;
    prm.groups = c.groups;
    Tensor y = lucid::conv_transpose(c.nd, x, w, b, prm);

    const oracle::Dims m = oracle::dims(c);
    Shape ys;
    if (!c.unbatched) ys.push_back(c.N);
    ys.push_back(c.Cout);
    for (int a = 3 - c.nd; a < 3; ++a) ys.push_back(m.Y[a]);
    ASSERT_EQ(y.shape(), ys);
    ASSERT_EQ(y.dtype(), dtype_);

    Tensor gy = Tensor::randn(ys, {.dtype = dtype_});
    const auto ref = oracle::evaluate(c, x.to_vector(), w.to_vector(),
                                      c.bias ? b.to_vector() : std::vector<double>{}, gy.to_vector());
    compare("output", y.to_vector(), ref.y, ys);
    if (forward_only_) return;
    y.backward(gy);
    compare("input grad", x.grad().to_vector(), ref.gx, xs);
    compare("weight grad", w.grad().to_vector(), ref.gw, ws);
    if (c.bias) compare("bias grad", b.grad().to_vector(), ref.gb, Shape{c.Cout});
  }

  // The tolerance: float32 rounding (normwise), float64 rounding.
  double tolerance() const { return dtype_ == lucid::DType::Float32 ? 2e-6 : 1e-13; }

 private:
  void compare(const char* what, const std::vector<double>& got, const std::vector<double>& want,
               const lucid::Shape& shape) const {
    ASSERT_EQ(got.size(), want.size()) << what;
    double scale = 0;
    for (double v : want) scale = std::max(scale, std::abs(v));
    if (scale == 0) scale = 1;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double err = std::abs(got[i] - want[i]) / scale;
      if (!(err <= tolerance())) {
        std::vector<std::int64_t> coord(shape.size());
        std::int64_t rem = static_cast<std::int64_t>(i);
        for (std::size_t a = shape.size(); a-- > 0;) {
          coord[a] = rem % shape[a];
          rem /= shape[a];
        }
        FAIL() << what << " first wrong at " << lucid::Shape(coord) << ": got " << got[i] << ", want "
               << want[i] << " (normwise error " << err << " > " << tolerance() << ")";
      }
    }
  }

  oracle::Case c_;
  std::int64_t cout_ = 0;
  lucid::DType dtype_ = lucid::DType::Float32;
  bool forward_only_ = false;
};
