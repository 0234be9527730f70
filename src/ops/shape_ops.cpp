// Shape ops: reshape/flatten (views of the same memory) and cat (a copy).
#include <cstring>

#include "check.h"
#include "lucid/autograd.h"
#include "lucid/ops.h"

namespace lucid {
namespace {

class ReshapeNode : public Node {
 public:
  std::string name() const override { return "reshape"; }
  std::vector<Tensor> apply(const Tensor& g) override { return {reshape(g, edges()[0].shape)}; }
};

class CatNode : public Node {
 public:
  CatNode(std::int64_t axis) : axis_(axis) {}
  std::string name() const override { return "cat"; }
  std::vector<Tensor> apply(const Tensor& g) override {
    // Slice g back into the inputs' extents along the axis.
    const Shape& gs = g.shape();
    std::int64_t outer = 1, inner = 1;
    for (std::int64_t a = 0; a < axis_; ++a) outer *= gs[static_cast<std::size_t>(a)];
    for (std::size_t a = static_cast<std::size_t>(axis_) + 1; a < gs.size(); ++a) inner *= gs[a];
    const std::int64_t total = gs[static_cast<std::size_t>(axis_)];
    const std::size_t es = dtype_size(g.dtype());
    const char* src = static_cast<const char*>(g.raw_data());
    std::vector<Tensor> out;
    std::int64_t start = 0;
    for (const Edge& e : edges()) {
      const std::int64_t len = e.shape[static_cast<std::size_t>(axis_)];
      Tensor gi = Tensor::empty(e.shape, {.dtype = g.dtype()});
      char* dst = static_cast<char*>(gi.raw_data());
      for (std::int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + static_cast<std::size_t>(o * len * inner) * es,
                    src + static_cast<std::size_t>((o * total + start) * inner) * es,
                    static_cast<std::size_t>(len * inner) * es);
      out.push_back(gi);
      start += len;
    }
    return out;
  }

 private:
  std::int64_t axis_;
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape0) {
  ops::require_defined(x, "reshape", "input");
  Shape shape = shape0;
  std::int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ValueError("[reshape] shape=" + shape0.str() + " has more than one -1");
      infer = static_cast<std::int64_t>(i);
    } else if (shape[i] < 0) {
      throw ValueError("[reshape] shape=" + shape0.str() + " has a negative size");
    } else {
      known = ops::checked_mul(known, shape[i], "reshape", "the element count");
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw ValueError("[reshape] cannot reshape " + x.shape().str() + " into " + shape0.str());
    shape[static_cast<std::size_t>(infer)] = x.numel() / known;
  }
  if (ops::checked_numel(shape, "reshape", "requested") != x.numel())
    throw ValueError("[reshape] cannot reshape " + x.shape().str() + " (" + std::to_string(x.numel()) +
                     " elements) into " + shape0.str());
  Tensor out = ops::alias(x, shape);
  return record(out, std::make_shared<ReshapeNode>(), {x});
}

Tensor flatten(const Tensor& x, std::int64_t start, std::int64_t end) {
  ops::require_defined(x, "flatten", "input");
  if (x.ndim() == 0) return reshape(x, {1});
  const std::int64_t s = ops::wrap_axis(start, x.ndim(), "flatten");
  const std::int64_t e = ops::wrap_axis(end, x.ndim(), "flatten");
  if (s > e)
    throw ValueError("[flatten] start_axis=" + std::to_string(start) + " comes after end_axis=" + std::to_string(end));
  Shape out;
  std::int64_t merged = 1;
  for (std::int64_t a = 0; a < x.ndim(); ++a) {
    const std::int64_t d = x.shape()[static_cast<std::size_t>(a)];
    if (a < s || a > e) {
      out.push_back(d);
    } else {
      merged *= d;
      if (a == e) out.push_back(merged);
    }
  }
  return reshape(x, out);
}

Tensor cat(const std::vector<Tensor>& ts, std::int64_t axis0) {
  if (ts.empty()) throw ValueError("[cat] tensors is empty; at least one tensor is needed");
  for (std::size_t i = 0; i < ts.size(); ++i)
    ops::require_defined(ts[i], "cat", ("tensors[" + std::to_string(i) + "]").c_str());
  const Shape& s0 = ts[0].shape();
  if (s0.size() == 0) throw ValueError("[cat] zero-dimensional tensors cannot be concatenated");
  const std::int64_t axis = ops::wrap_axis(axis0, s0.ndim(), "cat");
  DType dt = ts[0].dtype();
  std::int64_t total = 0;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const Shape& s = ts[i].shape();
    dt = promote(dt, ts[i].dtype());
    bool ok = s.size() == s0.size();
    for (std::size_t a = 0; ok && a < s.size(); ++a)
      if (static_cast<std::int64_t>(a) != axis && s[a] != s0[a]) ok = false;
    if (!ok)
      throw ValueError("[cat] tensors[" + std::to_string(i) + "] has shape " + s.str() +
                       ", which does not match " + s0.str() + " outside axis " + std::to_string(axis));
    total += s[static_cast<std::size_t>(axis)];
  }
  Shape os = s0;
  os[static_cast<std::size_t>(axis)] = total;
  Tensor out = Tensor::empty(os, {.dtype = dt});
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t a = 0; a < axis; ++a) outer *= os[static_cast<std::size_t>(a)];
  for (std::size_t a = static_cast<std::size_t>(axis) + 1; a < os.size(); ++a) inner *= os[a];
  const std::size_t es = dtype_size(dt);
  char* dst = static_cast<char*>(out.raw_data());
  std::int64_t start = 0;
  for (const Tensor& t0 : ts) {
    const Tensor t = t0.dtype() == dt ? t0 : t0.cast(dt);
    const std::int64_t len = t.shape()[static_cast<std::size_t>(axis)];
    const char* src = static_cast<const char*>(t.raw_data());
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + static_cast<std::size_t>((o * total + start) * inner) * es,
                  src + static_cast<std::size_t>(o * len * inner) * es, static_cast<std::size_t>(len * inner) * es);
    start += len;
  }
  return record(out, std::make_shared<CatNode>(axis), ts);
}

}  // namespace lucid
