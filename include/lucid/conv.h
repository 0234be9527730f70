// lucid/conv.h — transposed and ordinary convolutions over 1, 2 or 3 spatial axes.
//
// Layout: input (N, C_in, *spatial) or unbatched (C_in, *spatial); the output
// keeps the input's form.
//
// Transposed convolution, per spatial axis:
//   y[n, co, o] = b[co] + sum x[n, ci, i] * W[ci, co', k]   over o = i*s - p + k*d
//   weight (C_in, C_out/groups, *kernel), bias (C_out,)
//   output length (L-1)*s - 2p + d*(k-1) + output_padding + 1
// padding: an int, one per axis, "valid" (= 0) or "same" (output length L*s:
// crop t = d*(k-1)+1-s, t/2 at the start and the rest at the end; t < 0
// extends the end by -t). output_padding[i] must be smaller than stride[i] or
// dilation[i], and 0 with "same".
//
// Convolution (cross-correlation, as in PyTorch):
//   y[n, co, o] = b[co] + sum x[n, ci, o*s - p + k*d] * W[co, ci', k]
//   weight (C_out, C_in/groups, *kernel), output length (L + 2p - d*(k-1) - 1)/s + 1
// padding "same" needs stride 1 and pads d*(k-1) split as floor/ceil (low/high).
//
// Argument order is lucid's: dilation before groups (PyTorch puts groups
// first in its functional API). Every misuse throws ValueError/TypeError
// naming the function, the parameter and its value, before any work.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "lucid/tensor.h"

namespace lucid {

// An int, or one value per spatial axis.
class IntArg {
 public:
  IntArg(std::int64_t v) : values_{v}, scalar_(true) {}  // NOLINT: implicit by design
  IntArg(int v) : values_{v}, scalar_(true) {}           // NOLINT
  IntArg(std::initializer_list<std::int64_t> v) : values_(v) {}
  IntArg(std::vector<std::int64_t> v) : values_(std::move(v)) {}  // NOLINT
  bool is_scalar() const { return scalar_; }
  const std::vector<std::int64_t>& values() const { return values_; }
  // The per-axis values for `nd` axes; throws ValueError naming fn and param
  // when a tuple has the wrong length.
  std::vector<std::int64_t> expand(int nd, const char* fn, const char* param) const;

 private:
  std::vector<std::int64_t> values_;
  bool scalar_ = false;
};

// An IntArg, or "same" / "valid".
class PaddingArg {
 public:
  PaddingArg(std::int64_t v) : ints_(v) {}                            // NOLINT
  PaddingArg(int v) : ints_(v) {}                                     // NOLINT
  PaddingArg(std::initializer_list<std::int64_t> v) : ints_(v) {}     // NOLINT
  PaddingArg(std::vector<std::int64_t> v) : ints_(std::move(v)) {}    // NOLINT
  PaddingArg(const char* mode) : ints_(0), mode_(mode) {}             // NOLINT
  PaddingArg(std::string mode) : ints_(0), mode_(std::move(mode)) {}  // NOLINT
  // "" for explicit values, else the string given.
  const std::string& mode() const { return mode_; }
  const IntArg& ints() const { return ints_; }

 private:
  IntArg ints_;
  std::string mode_;
};

// The geometry parameters of a transposed convolution.
struct ConvTransposeParams {
  IntArg stride = 1;
  PaddingArg padding = 0;
  IntArg output_padding = 0;
  IntArg dilation = 1;
  std::int64_t groups = 1;
};

// The geometry parameters of a convolution.
struct ConvParams {
  IntArg stride = 1;
  PaddingArg padding = 0;
  IntArg dilation = 1;
  std::int64_t groups = 1;
};

// Checks parameters without an input (stride/dilation positive, padding
// non-negative or a known mode, output_padding in range, tuple lengths);
// `fn` names the caller in the message. Used by the nn modules' constructors.
void validate_conv_transpose_params(int nd, const ConvTransposeParams& params, const std::string& fn);
void validate_conv_params(int nd, const ConvParams& params, const std::string& fn);

// nd = 1, 2 or 3. `output_size` (empty, nd sizes, or nd+2 with batch and
// channels) picks output_padding as PyTorch's modules do; it replaces the
// output_padding given.
Tensor conv_transpose(int nd, const Tensor& input, const Tensor& weight, const Tensor& bias,
                      const ConvTransposeParams& params,
                      const std::vector<std::int64_t>& output_size = {});
// The output shape conv_transpose would give, validating everything.
Shape conv_transpose_output_shape(int nd, const Shape& input, const Shape& weight,
                                  const ConvTransposeParams& params,
                                  const std::vector<std::int64_t>& output_size = {});

Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        IntArg stride = 1, PaddingArg padding = 0, IntArg output_padding = 0,
                        IntArg dilation = 1, std::int64_t groups = 1);
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        IntArg stride = 1, PaddingArg padding = 0, IntArg output_padding = 0,
                        IntArg dilation = 1, std::int64_t groups = 1);
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        IntArg stride = 1, PaddingArg padding = 0, IntArg output_padding = 0,
                        IntArg dilation = 1, std::int64_t groups = 1);

Tensor conv(int nd, const Tensor& input, const Tensor& weight, const Tensor& bias,
            const ConvParams& params);
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              IntArg stride = 1, PaddingArg padding = 0, IntArg dilation = 1,
              std::int64_t groups = 1);
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              IntArg stride = 1, PaddingArg padding = 0, IntArg dilation = 1,
              std::int64_t groups = 1);
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              IntArg stride = 1, PaddingArg padding = 0, IntArg dilation = 1,
              std::int64_t groups = 1);

}  // namespace lucid
