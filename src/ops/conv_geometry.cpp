#include "conv_geometry.h"

#include <algorithm>

#include "check.h"

namespace lucid::ops {
namespace {

[[noreturn]] void fail(const std::string& fn, const std::string& msg) {
  throw ValueError("[" + fn + "] " + msg);
}

std::string idx(const char* name, std::size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}

// Per-axis parameters, checked without looking at any input.
struct Axes {
  std::vector<std::int64_t> s, d, pad, op;
  bool same = false;
};

Axes check_params(int nd, const IntArg& stride, const PaddingArg& padding, const IntArg* output_padding,
                  const IntArg& dilation, std::int64_t groups, const std::string& fn) {
  if (nd < 1 || nd > 3) fail(fn, "only 1, 2 or 3 spatial axes are supported, got " + std::to_string(nd));
  if (groups < 1) fail(fn, "groups=" + std::to_string(groups) + " must be positive");
  Axes a;
  a.s = stride.expand(nd, fn.c_str(), "stride");
  a.d = dilation.expand(nd, fn.c_str(), "dilation");
  const std::string& mode = padding.mode();
  if (!mode.empty() && mode != "same" && mode != "valid")
    fail(fn, "padding='" + mode + "' must be 'same', 'valid', an int or a tuple of " + std::to_string(nd) +
                 " ints");
  a.same = mode == "same";
  a.pad = mode.empty() ? padding.ints().expand(nd, fn.c_str(), "padding")
                       : std::vector<std::int64_t>(static_cast<std::size_t>(nd), 0);
  a.op = output_padding ? output_padding->expand(nd, fn.c_str(), "output_padding")
                        : std::vector<std::int64_t>(static_cast<std::size_t>(nd), 0);
  for (std::size_t i = 0; i < static_cast<std::size_t>(nd); ++i) {
    if (a.s[i] < 1) fail(fn, idx("stride", i) + "=" + std::to_string(a.s[i]) + " must be positive");
    if (a.d[i] < 1) fail(fn, idx("dilation", i) + "=" + std::to_string(a.d[i]) + " must be positive");
    if (a.pad[i] < 0) fail(fn, idx("padding", i) + "=" + std::to_string(a.pad[i]) + " must be non-negative");
    if (a.op[i] < 0)
      fail(fn, idx("output_padding", i) + "=" + std::to_string(a.op[i]) + " must be non-negative");
    if (a.same && a.op[i] != 0)
      fail(fn, idx("output_padding", i) + "=" + std::to_string(a.op[i]) + " must be 0 with padding='same'");
    if (a.op[i] >= a.s[i] && a.op[i] >= a.d[i])
      fail(fn, idx("output_padding", i) + "=" + std::to_string(a.op[i]) + " must be smaller than " +
                   idx("stride", i) + "=" + std::to_string(a.s[i]) + " or " + idx("dilation", i) + "=" +
                   std::to_string(a.d[i]));
  }
  return a;
}

// What both kinds of convolution check on the input and weight shapes.
struct Sides {
  bool unbatched;
  std::int64_t N, C;
  std::vector<std::int64_t> L, k;
};

Sides check_shapes(int nd, const Shape& input, const Shape& weight, const std::string& fn) {
  const std::int64_t r = input.ndim();
  if (r != nd + 1 && r != nd + 2)
    fail(fn, "input must be " + std::to_string(nd + 1) + "-D (unbatched) or " + std::to_string(nd + 2) +
                 "-D (batched), got shape " + input.str());
  const char* wl = nd == 1 ? "(C, C, kW)" : nd == 2 ? "(C, C, kH, kW)" : "(C, C, kD, kH, kW)";
  if (weight.ndim() != nd + 2)
    fail(fn, "weight must be " + std::to_string(nd + 2) + "-D " + wl + ", got shape " + weight.str());
  Sides c;
  c.unbatched = r == nd + 1;
  const std::size_t off = c.unbatched ? 0 : 1;
  c.N = c.unbatched ? 1 : input[0];
  c.C = input[off];
  if (c.C < 1) fail(fn, "input has " + std::to_string(c.C) + " channels; at least 1 is needed");
  for (std::size_t i = 0; i < static_cast<std::size_t>(nd); ++i) {
    const std::int64_t L = input[off + 1 + i];
    if (L < 1)
      fail(fn, "input spatial size[" + std::to_string(i) + "]=" + std::to_string(L) +
                   " must be positive (input shape " + input.str() + ")");
    const std::int64_t k = weight[2 + i];
    if (k < 1)
      fail(fn, idx("kernel_size", i) + "=" + std::to_string(k) + " must be positive (weight shape " +
                   weight.str() + ")");
    c.L.push_back(L);
    c.k.push_back(k);
  }
  return c;
}

// d*(k-1) + 1, the dilated kernel's extent.
std::int64_t extent(std::int64_t k, std::int64_t d, const std::string& fn) {
  return checked_add(checked_mul(d, k - 1, fn.c_str(), "the dilated kernel size"), 1, fn.c_str(),
                     "the dilated kernel size");
}

void fill_geom(kernels::ConvGeom& g, int nd, std::size_t i, std::int64_t x, std::int64_t y, std::int64_t k,
               std::int64_t s, std::int64_t d, std::int64_t pad) {
  const std::size_t a = static_cast<std::size_t>(3 - nd) + i;  // right-aligned into 3-D
  g.x[a] = x;
  g.y[a] = y;
  g.k[a] = k;
  g.s[a] = s;
  g.d[a] = d;
  g.pad[a] = pad;
}

void check_bias(const Shape* bias, std::int64_t cout, const std::string& fn) {
  if (bias && (bias->ndim() != 1 || (*bias)[0] != cout))
    fail(fn, "bias must have shape (" + std::to_string(cout) + ",) (out_channels), got " + bias->str());
}

Shape output_shape(const Sides& c, std::int64_t cout, const std::vector<std::int64_t>& out, const std::string& fn) {
  Shape s;
  if (!c.unbatched) s.push_back(c.N);
  s.push_back(cout);
  for (std::int64_t o : out) s.push_back(o);
  checked_numel(s, fn.c_str(), "output");
  return s;
}

}  // namespace

std::string conv_name(bool transposed, int nd) {
  return std::string(transposed ? "conv_transpose" : "conv") + std::to_string(nd) + "d";
}

void check_conv_transpose_params(int nd, const ConvTransposeParams& p, const std::string& fn) {
  check_params(nd, p.stride, p.padding, &p.output_padding, p.dilation, p.groups, fn);
}

void check_conv_params(int nd, const ConvParams& p, const std::string& fn) {
  const Axes a = check_params(nd, p.stride, p.padding, nullptr, p.dilation, p.groups, fn);
  for (std::size_t i = 0; a.same && i < a.s.size(); ++i)
    if (a.s[i] != 1)
      fail(fn, "padding='same' needs stride 1, got " + idx("stride", i) + "=" + std::to_string(a.s[i]));
}

ConvPlan plan_conv_transpose(int nd, const Shape& input, const Shape& weight, const Shape* bias,
                             const ConvTransposeParams& p, const std::vector<std::int64_t>& output_size) {
  const std::string fn = conv_name(true, nd);
  const Axes a = check_params(nd, p.stride, p.padding, &p.output_padding, p.dilation, p.groups, fn);
  const Sides c = check_shapes(nd, input, weight, fn);
  if (weight[0] != c.C)
    fail(fn, "input has " + std::to_string(c.C) + " channels but weight.shape[0]=" + std::to_string(weight[0]) +
                 " (in_channels); weight shape " + weight.str());
  if (c.C % p.groups != 0)
    fail(fn, "groups=" + std::to_string(p.groups) + " must divide in_channels=" + std::to_string(c.C));
  if (weight[1] < 1)
    fail(fn, "weight.shape[1]=" + std::to_string(weight[1]) + " (out_channels/groups) must be positive");
  const std::int64_t cout = checked_mul(weight[1], p.groups, fn.c_str(), "out_channels");
  check_bias(bias, cout, fn);
  if (!output_size.empty() && output_size.size() != static_cast<std::size_t>(nd) &&
      output_size.size() != static_cast<std::size_t>(nd + 2))
    fail(fn, "output_size=" + join(output_size) + " must have " + std::to_string(nd) + " or " +
                 std::to_string(nd + 2) + " entries");

  ConvPlan plan;
  plan.unbatched = c.unbatched;
  kernels::ConvGeom& g = plan.geom;
  g.N = c.N;
  g.Cx = c.C;
  g.Cy = cout;
  g.groups = p.groups;
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < static_cast<std::size_t>(nd); ++i) {
    const std::int64_t s = a.s[i], d = a.d[i], e = extent(c.k[i], d, fn);
    // The uncropped length: (L-1)*s + d*(k-1) + 1.
    const std::int64_t full =
        checked_add(checked_mul(c.L[i] - 1, s, fn.c_str(), "the output size"), e, fn.c_str(), "the output size");
    std::int64_t lo = a.pad[i], hi = a.pad[i];
    if (a.same) {  // crop t = e - s: t/2 at the start, the rest at the end; t < 0 extends the end
      const std::int64_t t = e - s;
      lo = t >= 0 ? t / 2 : 0;
      hi = t - lo;
    }
    std::int64_t op = a.op[i];
    if (!output_size.empty()) {
      const std::int64_t want = output_size[output_size.size() - static_cast<std::size_t>(nd) + i];
      const std::int64_t lowest = full - lo - hi;
      const std::int64_t highest = a.same ? lowest : lowest + std::max(s, d) - 1;
      if (want < lowest || want > highest || want < 1)
        fail(fn, "output_size[" + std::to_string(i) + "]=" + std::to_string(want) + " cannot be reached: sizes " +
                     std::to_string(std::max<std::int64_t>(lowest, 1)) + " to " + std::to_string(highest) +
                     " are possible for input size " + std::to_string(c.L[i]));
      op = want - lowest;
    }
    hi -= op;
    const std::int64_t len = full - lo - hi;
    if (len < 1)
      fail(fn, "the output size[" + std::to_string(i) + "] would be " + std::to_string(len) + " (input size " +
                   std::to_string(c.L[i]) + ", kernel_size " + std::to_string(c.k[i]) + ", stride " +
                   std::to_string(s) + ", padding " + std::to_string(a.pad[i]) + ", dilation " +
                   std::to_string(d) + "); it must be at least 1");
    out.push_back(len);
    fill_geom(g, nd, i, c.L[i], len, c.k[i], s, d, lo);
  }
  plan.output_shape = output_shape(c, cout, out, fn);
  return plan;
}

ConvPlan plan_conv(int nd, const Shape& input, const Shape& weight, const Shape* bias, const ConvParams& p) {
  const std::string fn = conv_name(false, nd);
  check_conv_params(nd, p, fn);
  const Axes a = check_params(nd, p.stride, p.padding, nullptr, p.dilation, p.groups, fn);
  const Sides c = check_shapes(nd, input, weight, fn);
  const std::int64_t cout = weight[0];
  if (cout < 1) fail(fn, "weight.shape[0]=" + std::to_string(cout) + " (out_channels) must be positive");
  if (cout % p.groups != 0)
    fail(fn, "groups=" + std::to_string(p.groups) + " must divide out_channels=" + std::to_string(cout));
  if (c.C % p.groups != 0)
    fail(fn, "groups=" + std::to_string(p.groups) + " must divide in_channels=" + std::to_string(c.C));
  if (weight[1] * p.groups != c.C)
    fail(fn, "input has " + std::to_string(c.C) + " channels but weight.shape[1]=" + std::to_string(weight[1]) +
                 " times groups=" + std::to_string(p.groups) + " is " + std::to_string(weight[1] * p.groups) +
                 "; weight shape " + weight.str());
  check_bias(bias, cout, fn);

  ConvPlan plan;
  plan.unbatched = c.unbatched;
  kernels::ConvGeom& g = plan.geom;
  g.N = c.N;
  g.Cx = cout;  // the conv's output is the kernels' x side
  g.Cy = c.C;
  g.groups = p.groups;
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < static_cast<std::size_t>(nd); ++i) {
    const std::int64_t s = a.s[i], d = a.d[i], e = extent(c.k[i], d, fn);
    std::int64_t lo = a.pad[i], hi = a.pad[i];
    if (a.same) {
      lo = (e - 1) / 2;
      hi = e - 1 - lo;
    }
    const std::int64_t padded = checked_add(checked_add(c.L[i], lo, fn.c_str(), "the padded input size"), hi,
                                            fn.c_str(), "the padded input size");
    if (padded < e)
      fail(fn, "the padded input size[" + std::to_string(i) + "]=" + std::to_string(padded) +
                   " is smaller than the dilated kernel size " + std::to_string(e) + "; the output would be empty");
    const std::int64_t len = (padded - e) / s + 1;
    out.push_back(len);
    fill_geom(g, nd, i, len, c.L[i], c.k[i], s, d, lo);
  }
  plan.output_shape = output_shape(c, cout, out, fn);
  return plan;
}

}  // namespace lucid::ops

namespace lucid {

std::vector<std::int64_t> IntArg::expand(int nd, const char* fn, const char* param) const {
  if (scalar_) return std::vector<std::int64_t>(static_cast<std::size_t>(nd), values_[0]);
  if (static_cast<int>(values_.size()) != nd)
    throw ValueError(std::string("[") + fn + "] " + param + "=" + ops::join(values_) +
                     " must be an int or a tuple of " + std::to_string(nd) + " ints, got " +
                     std::to_string(values_.size()) + " values");
  return values_;
}

void validate_conv_transpose_params(int nd, const ConvTransposeParams& params, const std::string& fn) {
  ops::check_conv_transpose_params(nd, params, fn);
}

void validate_conv_params(int nd, const ConvParams& params, const std::string& fn) {
  ops::check_conv_params(nd, params, fn);
}

}  // namespace lucid
