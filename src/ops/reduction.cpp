// Sums and means, over all elements or over axes, and the broadcast pair
// (sum_to / broadcast_to) that their gradients and elementwise ops need.
#include <algorithm>

#include "broadcast.h"
#include "check.h"
#include "lucid/autograd.h"
#include "lucid/ops.h"

namespace lucid {
namespace {

// Sorted, unique, wrapped axes; empty input list means every axis.
std::vector<std::int64_t> norm_axes(const std::vector<std::int64_t>& axes, std::int64_t ndim, const char* fn) {
  std::vector<std::int64_t> out;
  if (axes.empty()) {
    for (std::int64_t a = 0; a < ndim; ++a) out.push_back(a);
    return out;
  }
  for (std::int64_t a : axes) out.push_back(ops::wrap_axis(a, ndim, fn));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw ValueError(std::string("[") + fn + "] axes=" + ops::join(axes) + " repeats an axis");
  return out;
}

// The reduced shape with kept (size 1) axes.
Shape keep_shape(const Shape& s, const std::vector<std::int64_t>& axes) {
  Shape k = s;
  for (std::int64_t a : axes) k[static_cast<std::size_t>(a)] = 1;
  return k;
}

Shape drop_shape(const Shape& s, const std::vector<std::int64_t>& axes) {
  Shape d;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), static_cast<std::int64_t>(i))) d.push_back(s[i]);
  return d;
}

// Unrecorded sum of x into `kept` (x's shape with reduced axes set to 1).
template <class T>
void sum_into(const Tensor& x, const Shape& kept, Tensor& out) {
  const auto so = ops::broadcast_strides(kept, x.shape());
  std::vector<std::int64_t> zeros(x.shape().size(), 0);
  T* o = out.data<T>();
  std::fill(o, o + out.numel(), T(0));
  // Walk x in order; the output offset follows so (0 on reduced axes).
  const Shape& s = x.shape();
  const T* xd = x.data<T>();
  const std::int64_t n = x.numel();
  if (n == 0) return;
  if (s.size() == 0) {
    o[0] = xd[0];
    return;
  }
  std::vector<std::int64_t> idx(s.size(), 0);
  std::int64_t off = 0;
  const std::size_t last = s.size() - 1;
  const std::int64_t inner = s[last], is = so[last];
  for (std::int64_t base = 0; base < n; base += inner) {
    for (std::int64_t j = 0; j < inner; ++j) o[off + j * is] += xd[base + j];
    for (std::size_t ax = last; ax-- > 0;) {
      ++idx[ax];
      off += so[ax];
      if (idx[ax] < s[ax]) break;
      off -= so[ax] * s[ax];
      idx[ax] = 0;
    }
  }
}

Tensor sum_values(const Tensor& x, const Shape& kept) {
  Tensor out = Tensor::empty(kept, {.dtype = x.dtype()});
  if (x.dtype() == DType::Float32)
    sum_into<float>(x, kept, out);
  else
    sum_into<double>(x, kept, out);
  return out;
}

class SumNode : public Node {
 public:
  SumNode(Shape kept, double scale) : kept_(std::move(kept)), scale_(scale) {}
  std::string name() const override { return scale_ == 1.0 ? "sum" : "mean"; }
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor b = broadcast_to(ops::alias(g, kept_), edges()[0].shape);
    return {scale_ == 1.0 ? b : b * scale_};
  }

 private:
  Shape kept_;
  double scale_;
};

Tensor reduce(const Tensor& x, const std::vector<std::int64_t>& axes0, bool keepdim, bool mean, const char* fn) {
  ops::require_defined(x, fn, "input");
  const auto axes = norm_axes(axes0, x.ndim(), fn);
  const Shape kept = keep_shape(x.shape(), axes);
  Tensor out = sum_values(x, kept);
  std::int64_t count = 1;
  for (std::int64_t a : axes) count *= x.shape()[static_cast<std::size_t>(a)];
  const double scale = mean ? 1.0 / static_cast<double>(count) : 1.0;
  if (mean) {
    NoGradGuard ng;
    out = out * scale;
  }
  out = ops::alias(out, keepdim ? kept : drop_shape(x.shape(), axes));
  return record(out, std::make_shared<SumNode>(kept, scale), {x});
}

class SumToNode : public Node {
 public:
  std::string name() const override { return "sum_to"; }
  std::vector<Tensor> apply(const Tensor& g) override { return {broadcast_to(g, edges()[0].shape)}; }
};

class BroadcastNode : public Node {
 public:
  std::string name() const override { return "broadcast_to"; }
  std::vector<Tensor> apply(const Tensor& g) override { return {sum_to(g, edges()[0].shape)}; }
};

}  // namespace

Tensor sum(const Tensor& x) { return reduce(x, {}, false, false, "sum"); }
Tensor mean(const Tensor& x) { return reduce(x, {}, false, true, "mean"); }
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce(x, axes, keepdim, false, "sum");
}
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce(x, axes, keepdim, true, "mean");
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  ops::require_defined(x, "sum_to", "input");
  if (x.shape() == shape) return x;
  const Shape& s = x.shape();
  if (shape.size() > s.size() || ops::broadcast_shapes(shape, s, "sum_to") != s)
    throw ValueError("[sum_to] shape " + s.str() + " cannot be summed to " + shape.str());
  // Right-align `shape` against x's shape (1 on leading axes).
  Shape kept(std::vector<std::int64_t>(s.size(), 1));
  for (std::size_t i = 0; i < shape.size(); ++i) kept[s.size() - shape.size() + i] = shape[i];
  Tensor out = ops::alias(sum_values(x, kept), shape);
  return record(out, std::make_shared<SumToNode>(), {x});
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  ops::require_defined(x, "broadcast_to", "input");
  if (x.shape() == shape) return x;
  if (ops::broadcast_shapes(x.shape(), shape, "broadcast_to") != shape)
    throw ValueError("[broadcast_to] shape " + x.shape().str() + " cannot be broadcast to " + shape.str());
  Tensor out = Tensor::empty(shape, {.dtype = x.dtype()});
  const auto sx = ops::broadcast_strides(x.shape(), shape);
  if (x.dtype() == DType::Float32)
    ops::broadcast_loop<float>(shape, x.data<float>(), sx, x.data<float>(), sx, out.data<float>(),
                               [](float a, float) { return a; });
  else
    ops::broadcast_loop<double>(shape, x.data<double>(), sx, x.data<double>(), sx, out.data<double>(),
                                [](double a, double) { return a; });
  return record(out, std::make_shared<BroadcastNode>(), {x});
}

}  // namespace lucid
