// One geometry computation for every convolution: validation, output shape,
// and the kernels' ConvGeom all come from here.
#pragma once

#include <string>
#include <vector>

#include "kernels/conv_geometry.h"
#include "lucid/conv.h"

namespace lucid::ops {

struct ConvPlan {
  kernels::ConvGeom geom;  // batched, 3-D form for the kernels
  Shape output_shape;      // in the input's form (unbatched stays unbatched)
  bool unbatched = false;
};

// "conv_transpose3d", "conv2d", ... for messages.
std::string conv_name(bool transposed, int nd);

// Checks the parameters alone (no input needed); fn names the caller in messages.
void check_conv_transpose_params(int nd, const ConvTransposeParams& params, const std::string& fn);
void check_conv_params(int nd, const ConvParams& params, const std::string& fn);

// Validates a transposed convolution and plans it. `bias` may be null.
ConvPlan plan_conv_transpose(int nd, const Shape& input, const Shape& weight, const Shape* bias,
                             const ConvTransposeParams& params,
                             const std::vector<std::int64_t>& output_size);
// Validates a convolution and plans it (the kernels' x side is its output).
ConvPlan plan_conv(int nd, const Shape& input, const Shape& weight, const Shape* bias,
                   const ConvParams& params);

}  // namespace lucid::ops
