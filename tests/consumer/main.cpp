#include <iostream>

#include "lucid/lucid.h"

int main() {
  lucid::nn::ConvTranspose3d deconv(4, 2, 3, 2, 1, 1);
  auto x = lucid::Tensor::randn({1, 4, 8, 8, 8}, {.requires_grad = true});
  auto y = deconv(x);
  y.backward();
  std::cout << y.shape() << ' ' << x.grad().shape() << '\n';
  return y.shape() == lucid::Shape{1, 2, 16, 16, 16} ? 0 : 1;
}
