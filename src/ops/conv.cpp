// Transposed and ordinary convolutions, and their gradients. Three kernels
// serve all six directions (see kernels/conv.h):
//   conv_transpose: forward = scatter, input-grad = gather, weight-grad = weight_grad(x, gy)
//   conv:           forward = gather,  input-grad = scatter, weight-grad = weight_grad(gy, x)
#include <memory>

#include "check.h"
#include "conv_geometry.h"
#include "kernels/conv.h"
#include "lucid/autograd.h"
#include "lucid/conv.h"

namespace lucid {
namespace {

using kernels::ConvGeom;

// Batched (N, C, *spatial) shapes of the two sides of a geometry.
Shape side_shape(const ConvGeom& g, int nd, bool x_side) {
  Shape s{g.N, x_side ? g.Cx : g.Cy};
  for (int a = 3 - nd; a < 3; ++a) s.push_back(x_side ? g.x[a] : g.y[a]);
  return s;
}

// Typed pointer to a tensor's elements, or null for an undefined tensor.
template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

Tensor run_scatter(const ConvGeom& g, int nd, const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = Tensor::empty(side_shape(g, nd, false), {.dtype = x.dtype()});
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels::conv_scatter<T>(g, ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y));
  });
  return y;
}

Tensor run_gather(const ConvGeom& g, int nd, const Tensor& y, const Tensor& w, const Tensor& b) {
  Tensor x = Tensor::empty(side_shape(g, nd, true), {.dtype = y.dtype()});
  dispatch_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels::conv_gather<T>(g, ptr<T>(y), ptr<T>(w), ptr<T>(b), ptr<T>(x));
  });
  return x;
}

Tensor run_weight_grad(const ConvGeom& g, const Shape& wshape, const Tensor& x, const Tensor& y) {
  Tensor w = Tensor::empty(wshape, {.dtype = x.dtype()});
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels::conv_weight_grad<T>(g, ptr<T>(x), ptr<T>(y), ptr<T>(w));
  });
  return w;
}

// Input, weight and bias gradients of a transposed convolution (any may be skipped).
void run_transpose_backward(const ConvGeom& g, int nd, const Tensor& x, const Tensor& w, const Tensor& gy, bool want_gx,
                            bool want_gw, bool want_gb, Tensor& gx, Tensor& gw, Tensor& gb) {
  if (want_gx) gx = Tensor::empty(side_shape(g, nd, true), {.dtype = gy.dtype()});
  if (want_gw) gw = Tensor::empty(w.shape(), {.dtype = gy.dtype()});
  if (want_gb) gb = Tensor::empty({g.Cy}, {.dtype = gy.dtype()});
  dispatch_dtype(gy.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels::conv_transpose_backward<T>(g, ptr<T>(x), ptr<T>(w), ptr<T>(gy), ptr<T>(gx), ptr<T>(gw), ptr<T>(gb));
  });
}

// Sum over batch and positions of an (N, C, ...) tensor.
Tensor run_channel_sum(const Tensor& t) {
  const std::int64_t N = t.size(0), C = t.size(1), S = t.numel() / std::max<std::int64_t>(1, N * C);
  Tensor out = Tensor::empty({C}, {.dtype = t.dtype()});
  dispatch_dtype(t.dtype(), [&](auto z) {
    using T = decltype(z);
    kernels::channel_sum<T>(N, C, S, ptr<T>(t), ptr<T>(out));
  });
  return out;
}

// Inputs converted to the compute dtype, with a batch axis.
struct Prepared {
  Tensor x, w, b;
  DType dtype;
};

Prepared prepare(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g, int nd,
                 bool x_is_y_side) {
  Prepared p;
  p.dtype = promote(x.dtype(), w.dtype());
  if (b.defined()) p.dtype = promote(p.dtype, b.dtype());
  auto conv = [&](const Tensor& t) { return t.dtype() == p.dtype ? t : t.cast(p.dtype); };
  p.x = ops::alias(conv(x), side_shape(g, nd, !x_is_y_side));
  p.w = conv(w);
  if (b.defined()) p.b = conv(b);
  return p;
}

// What both directions' nodes save: the geometry, the inputs as the kernels
// take them (batched, in the compute dtype) and the input's own shape, for
// its gradient.
class ConvNodeBase : public Node {
 public:
  ConvNodeBase(std::string name, const ConvGeom& g, int nd, Tensor x, Tensor w, Shape xshape)
      : name_(std::move(name)), g_(g), nd_(nd), x_(std::move(x)), w_(std::move(w)), xshape_(std::move(xshape)) {}
  std::string name() const override { return name_; }
  void release_saved() override { x_ = Tensor(); w_ = Tensor(); }

 protected:
  std::string name_;
  ConvGeom g_;
  int nd_;
  Tensor x_, w_;
  Shape xshape_;
};

class ConvTransposeNode : public ConvNodeBase {
 public:
  using ConvNodeBase::ConvNodeBase;
  std::vector<Tensor> apply(const Tensor& gy_in) override {
    const Tensor gy = ops::alias(gy_in, side_shape(g_, nd_, false));
    std::vector<Tensor> out(3);
    Tensor gx;
    run_transpose_backward(g_, nd_, x_, w_, gy, needs_grad(0), needs_grad(1), needs_grad(2), gx, out[1], out[2]);
    if (needs_grad(0)) out[0] = ops::alias(gx, xshape_);
    return out;
  }
};

class ConvNode : public ConvNodeBase {
 public:
  using ConvNodeBase::ConvNodeBase;
  std::vector<Tensor> apply(const Tensor& gy_in) override {
    // The conv's output gradient lives on the kernels' x side, its input on the y side.
    const Tensor gy = ops::alias(gy_in, side_shape(g_, nd_, true));
    std::vector<Tensor> out(3);
    if (needs_grad(0)) out[0] = ops::alias(run_scatter(g_, nd_, gy, w_, Tensor()), xshape_);
    if (needs_grad(1)) out[1] = run_weight_grad(g_, w_.shape(), gy, x_);
    if (needs_grad(2)) out[2] = run_channel_sum(gy);
    return out;
  }
};

void require_args(const char* fn, const Tensor& x, const Tensor& w) {
  ops::require_defined(x, fn, "input");
  ops::require_defined(w, fn, "weight");
}

}  // namespace

Shape conv_transpose_output_shape(int nd, const Shape& input, const Shape& weight,
                                  const ConvTransposeParams& params,
                                  const std::vector<std::int64_t>& output_size) {
  return ops::plan_conv_transpose(nd, input, weight, nullptr, params, output_size).output_shape;
}

Tensor conv_transpose(int nd, const Tensor& x, const Tensor& w, const Tensor& b,
                      const ConvTransposeParams& params, const std::vector<std::int64_t>& output_size) {
  const std::string fn = ops::conv_name(true, nd);
  require_args(fn.c_str(), x, w);
  const Shape bshape = b.defined() ? b.shape() : Shape{};
  const ops::ConvPlan plan =
      ops::plan_conv_transpose(nd, x.shape(), w.shape(), b.defined() ? &bshape : nullptr, params, output_size);
  Prepared p = prepare(x, w, b, plan.geom, nd, false);
  Tensor y = ops::alias(run_scatter(plan.geom, nd, p.x, p.w, p.b), plan.output_shape);
  return record(y, std::make_shared<ConvTransposeNode>(fn, plan.geom, nd, p.x, p.w, x.shape()), {x, w, b});
}

Tensor conv(int nd, const Tensor& x, const Tensor& w, const Tensor& b, const ConvParams& params) {
  const std::string fn = ops::conv_name(false, nd);
  require_args(fn.c_str(), x, w);
  const Shape bshape = b.defined() ? b.shape() : Shape{};
  const ops::ConvPlan plan = ops::plan_conv(nd, x.shape(), w.shape(), b.defined() ? &bshape : nullptr, params);
  Prepared p = prepare(x, w, b, plan.geom, nd, true);
  Tensor y = ops::alias(run_gather(plan.geom, nd, p.x, p.w, p.b), plan.output_shape);
  return record(y, std::make_shared<ConvNode>(fn, plan.geom, nd, p.x, p.w, x.shape()), {x, w, b});
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const Tensor& b, IntArg stride, PaddingArg padding,
                        IntArg output_padding, IntArg dilation, std::int64_t groups) {
  return conv_transpose(1, x, w, b, {stride, padding, output_padding, dilation, groups});
}
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, IntArg stride, PaddingArg padding,
                        IntArg output_padding, IntArg dilation, std::int64_t groups) {
  return conv_transpose(2, x, w, b, {stride, padding, output_padding, dilation, groups});
}
Tensor conv_transpose3d(const Tensor& x, const Tensor& w, const Tensor& b, IntArg stride, PaddingArg padding,
                        IntArg output_padding, IntArg dilation, std::int64_t groups) {
  return conv_transpose(3, x, w, b, {stride, padding, output_padding, dilation, groups});
}
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, IntArg stride, PaddingArg padding,
              IntArg dilation, std::int64_t groups) {
  return conv(1, x, w, b, {stride, padding, dilation, groups});
}
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, IntArg stride, PaddingArg padding,
              IntArg dilation, std::int64_t groups) {
  return conv(2, x, w, b, {stride, padding, dilation, groups});
}
Tensor conv3d(const Tensor& x, const Tensor& w, const Tensor& b, IntArg stride, PaddingArg padding,
              IntArg dilation, std::int64_t groups) {
  return conv(3, x, w, b, {stride, padding, dilation, groups});
}

}  // namespace lucid
