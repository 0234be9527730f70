// The seed page's "Basic 3D upsampling" example, line by line.
//
//   >>> import lucid.nn as nn
//   >>> x = Tensor.randn(1, 4, 8, 8, 8, requires_grad=True)
//   >>> deconv3d = nn.ConvTranspose3d(4, 2, kernel_size=3, stride=2, padding=1, output_padding=1)
//   >>> y = deconv3d(x)
//   >>> print(y.shape)
//   (1, 2, 16, 16, 16)
//   >>> y.backward()
//   >>> print(x.grad.shape)
//   (1, 4, 8, 8, 8)
#include <iostream>

#include "lucid/lucid.h"

namespace nn = lucid::nn;
using lucid::Tensor;

int main() {
  Tensor x = Tensor::randn({1, 4, 8, 8, 8}, {.requires_grad = true});
  nn::ConvTranspose3d deconv3d(4, 2, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1, /*output_padding=*/1);
  Tensor y = deconv3d(x);
  std::cout << y.shape() << '\n';

  // Backprop
  y.backward();
  std::cout << x.grad().shape() << '\n';
  return 0;
}
