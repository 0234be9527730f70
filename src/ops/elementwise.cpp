// Elementwise ops: broadcasting binary ops and unary maps, with gradients.
#include <cmath>
#include <functional>

#include "broadcast.h"
#include "check.h"
#include "lucid/autograd.h"
#include "lucid/ops.h"

namespace lucid {
namespace ops {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* fn) {
  const std::size_t r = std::max(a.size(), b.size());
  Shape out(std::vector<std::int64_t>(r, 1));
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ValueError(std::string("[") + fn + "] shapes " + a.str() + " and " + b.str() +
                       " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<std::int64_t> s(out.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t k = 0; k < in.size(); ++k) {
    const std::size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    s[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

}  // namespace ops

namespace {

enum class Bin { Add, Sub, Mul, Div, Max, Min, GE, LE, GT, LT };

const char* bin_name(Bin op) {
  switch (op) {
    case Bin::Add: return "add";
    case Bin::Sub: return "sub";
    case Bin::Mul: return "mul";
    case Bin::Div: return "div";
    case Bin::Max: return "maximum";
    case Bin::Min: return "minimum";
    default: return "compare";
  }
}

template <class T>
T bin_apply(Bin op, T a, T b) {
  switch (op) {
    case Bin::Add: return a + b;
    case Bin::Sub: return a - b;
    case Bin::Mul: return a * b;
    case Bin::Div: return a / b;
    case Bin::Max: return (a >= b || std::isnan(a)) ? a : b;
    case Bin::Min: return (a <= b || std::isnan(a)) ? a : b;
    case Bin::GE: return a >= b ? T(1) : T(0);
    case Bin::LE: return a <= b ? T(1) : T(0);
    case Bin::GT: return a > b ? T(1) : T(0);
    case Bin::LT: return a < b ? T(1) : T(0);
  }
  return T(0);
}

// Unrecorded broadcasting binary map in the promoted dtype.
Tensor binary_values(Bin op, const Tensor& a0, const Tensor& b0, const char* fn) {
  const DType dt = promote(a0.dtype(), b0.dtype());
  const Tensor a = a0.dtype() == dt ? a0 : a0.cast(dt);
  const Tensor b = b0.dtype() == dt ? b0 : b0.cast(dt);
  const Shape shape = ops::broadcast_shapes(a.shape(), b.shape(), fn);
  Tensor out = Tensor::empty(shape, {.dtype = dt});
  const auto sa = ops::broadcast_strides(a.shape(), shape), sb = ops::broadcast_strides(b.shape(), shape);
  if (dt == DType::Float32)
    ops::broadcast_loop<float>(shape, a.data<float>(), sa, b.data<float>(), sb, out.data<float>(),
                               [op](float x, float y) { return bin_apply(op, x, y); });
  else
    ops::broadcast_loop<double>(shape, a.data<double>(), sa, b.data<double>(), sb, out.data<double>(),
                                [op](double x, double y) { return bin_apply(op, x, y); });
  return out;
}

class BinaryNode : public Node {
 public:
  BinaryNode(Bin op, Tensor a, Tensor b) : op_(op), a_(std::move(a)), b_(std::move(b)) {}
  std::string name() const override { return bin_name(op_); }
  void release_saved() override { a_ = Tensor(); b_ = Tensor(); }
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor ga, gb;
    switch (op_) {
      case Bin::Add: ga = g; gb = g; break;
      case Bin::Sub: ga = g; gb = neg(g); break;
      case Bin::Mul: ga = mul(g, b_); gb = mul(g, a_); break;
      case Bin::Div: ga = div(g, b_); gb = neg(div(mul(g, a_), mul(b_, b_))); break;
      case Bin::Max:
        ga = mul(g, binary_values(Bin::GE, a_, b_, "maximum"));
        gb = mul(g, binary_values(Bin::LT, a_, b_, "maximum"));
        break;
      case Bin::Min:
        ga = mul(g, binary_values(Bin::LE, a_, b_, "minimum"));
        gb = mul(g, binary_values(Bin::GT, a_, b_, "minimum"));
        break;
      default: break;
    }
    std::vector<Tensor> out(2);
    if (needs_grad(0)) out[0] = sum_to(ga, edges()[0].shape);
    if (needs_grad(1)) out[1] = sum_to(gb, edges()[1].shape);
    return out;
  }

 private:
  Bin op_;
  Tensor a_, b_;
};

Tensor binary(Bin op, const Tensor& a, const Tensor& b) {
  const char* fn = bin_name(op);
  ops::require_defined(a, fn, "input");
  ops::require_defined(b, fn, "other");
  Tensor out = binary_values(op, a, b, fn);
  const bool save = op != Bin::Add && op != Bin::Sub;
  return record(out, std::make_shared<BinaryNode>(op, save ? a : Tensor(), save ? b : Tensor()), {a, b});
}

// ---- unary ----

enum class Un { Neg, Exp, Log, Sqrt, Abs, Pow, Relu, Leaky, Sigmoid, Tanh, Clamp };

struct UnSpec {
  Un op;
  double p0 = 0, p1 = 0;  // exponent / slope / clamp bounds
};

const char* un_name(Un op) {
  static const char* names[] = {"neg",  "exp",        "log",     "sqrt", "abs",  "pow",
                                "relu", "leaky_relu", "sigmoid", "tanh", "clamp"};
  return names[static_cast<int>(op)];
}

template <class T>
T un_forward(const UnSpec& s, T x) {
  switch (s.op) {
    case Un::Neg: return -x;
    case Un::Exp: return std::exp(x);
    case Un::Log: return std::log(x);
    case Un::Sqrt: return std::sqrt(x);
    case Un::Abs: return std::abs(x);
    case Un::Pow: return std::pow(x, static_cast<T>(s.p0));
    case Un::Relu: return x > T(0) ? x : (std::isnan(x) ? x : T(0));
    case Un::Leaky: return x > T(0) ? x : x * static_cast<T>(s.p0);
    case Un::Sigmoid: return T(1) / (T(1) + std::exp(-x));
    case Un::Tanh: return std::tanh(x);
    case Un::Clamp: return std::isnan(x) ? x : std::min(std::max(x, static_cast<T>(s.p0)), static_cast<T>(s.p1));
  }
  return x;
}

// d out / d x, from the input x and the output y.
template <class T>
T un_derivative(const UnSpec& s, T x, T y) {
  switch (s.op) {
    case Un::Neg: return T(-1);
    case Un::Exp: return y;
    case Un::Log: return T(1) / x;
    case Un::Sqrt: return T(0.5) / y;
    case Un::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case Un::Pow: return static_cast<T>(s.p0) * std::pow(x, static_cast<T>(s.p0 - 1));
    case Un::Relu: return x > T(0) ? T(1) : T(0);
    case Un::Leaky: return x > T(0) ? T(1) : static_cast<T>(s.p0);
    case Un::Sigmoid: return y * (T(1) - y);
    case Un::Tanh: return T(1) - y * y;
    case Un::Clamp: return (x >= static_cast<T>(s.p0) && x <= static_cast<T>(s.p1)) ? T(1) : T(0);
  }
  return T(0);
}

template <class T, class F>
Tensor map_values(const Tensor& x, F&& f) {
  Tensor out = Tensor::empty(x.shape(), {.dtype = x.dtype()});
  const T* s = x.data<T>();
  T* d = out.data<T>();
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) d[i] = f(s[i], i);
  return out;
}

class UnaryNode : public Node {
 public:
  UnaryNode(UnSpec s, Tensor x, Tensor y) : s_(s), x_(std::move(x)), y_(std::move(y)) {}
  std::string name() const override { return un_name(s_.op); }
  void release_saved() override { x_ = Tensor(); y_ = Tensor(); }
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor local;
    if (x_.dtype() == DType::Float32) {
      const float* y = y_.data<float>();
      local = map_values<float>(x_, [&](float x, std::int64_t i) { return un_derivative(s_, x, y[i]); });
    } else {
      const double* y = y_.data<double>();
      local = map_values<double>(x_, [&](double x, std::int64_t i) { return un_derivative(s_, x, y[i]); });
    }
    return {mul(g, local)};
  }

 private:
  UnSpec s_;
  Tensor x_, y_;
};

Tensor unary(UnSpec s, const Tensor& x) {
  ops::require_defined(x, un_name(s.op), "input");
  Tensor y = x.dtype() == DType::Float32
                 ? map_values<float>(x, [&](float v, std::int64_t) { return un_forward(s, v); })
                 : map_values<double>(x, [&](double v, std::int64_t) { return un_forward(s, v); });
  if (!is_grad_enabled() || !x.requires_grad()) return y;
  return record(y, std::make_shared<UnaryNode>(s, x, y.detach()), {x});
}

class CastNode : public Node {
 public:
  std::string name() const override { return "to_dtype"; }
  std::vector<Tensor> apply(const Tensor& g) override { return {g}; }  // the engine casts back
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(Bin::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(Bin::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(Bin::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(Bin::Div, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(Bin::Max, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(Bin::Min, a, b); }

Tensor neg(const Tensor& x) { return unary({Un::Neg}, x); }
Tensor exp(const Tensor& x) { return unary({Un::Exp}, x); }
Tensor log(const Tensor& x) { return unary({Un::Log}, x); }
Tensor sqrt(const Tensor& x) { return unary({Un::Sqrt}, x); }
Tensor abs(const Tensor& x) { return unary({Un::Abs}, x); }
Tensor pow(const Tensor& x, double exponent) { return unary({Un::Pow, exponent}, x); }
Tensor relu(const Tensor& x) { return unary({Un::Relu}, x); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary({Un::Leaky, slope}, x); }
Tensor sigmoid(const Tensor& x) { return unary({Un::Sigmoid}, x); }
Tensor tanh(const Tensor& x) { return unary({Un::Tanh}, x); }
Tensor clamp(const Tensor& x, double low, double high) {
  if (!(low <= high))
    throw ValueError("[clamp] low=" + std::to_string(low) + " must not exceed high=" + std::to_string(high));
  return unary({Un::Clamp, low, high}, x);
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  ops::require_defined(x, "to_dtype", "input");
  if (x.dtype() == dtype) return x;
  return record(x.cast(dtype), std::make_shared<CastNode>(), {x});
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }

namespace {
Tensor like(const Tensor& t, double v) {
  ops::require_defined(t, "scalar op", "tensor");
  return Tensor::scalar(v, {.dtype = t.dtype()});
}
}  // namespace

Tensor operator+(const Tensor& a, double b) { return add(a, like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(like(b, a), b); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  ops::require_defined(a, "max_abs_diff", "a");
  ops::require_defined(b, "max_abs_diff", "b");
  if (a.shape() != b.shape())
    throw ValueError("[max_abs_diff] shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
  double m = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(a.flat(i) - b.flat(i));
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

}  // namespace lucid
