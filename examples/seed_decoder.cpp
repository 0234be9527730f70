// The seed page's "Within a full 3D decoder model" example, line by line.
//
//   >>> class Decoder3D(nn.Module):
//   ...     def __init__(self):
//   ...         super().__init__()
//   ...         self.deconv = nn.ConvTranspose3d(8, 4, kernel_size=4, stride=2, padding=1)
//   ...         self.relu = nn.ReLU()
//   ...     def forward(self, x):
//   ...         return self.relu(self.deconv(x))
//   >>> model = Decoder3D()
//   >>> z = Tensor.randn(2, 8, 4, 4, 4, requires_grad=True)
//   >>> out = model(z)
//   >>> out.backward()
#include <iostream>
#include <memory>

#include "lucid/lucid.h"

namespace nn = lucid::nn;
using lucid::Tensor;

class Decoder3D : public nn::Module {
 public:
  Decoder3D() {
    deconv = register_module("deconv", std::make_shared<nn::ConvTranspose3d>(8, 4, /*kernel_size=*/4,
                                                                              /*stride=*/2, /*padding=*/1));
    relu = register_module("relu", std::make_shared<nn::ReLU>());
  }

  Tensor forward(const Tensor& x) override { return (*relu)((*deconv)(x)); }

  std::string type_name() const override { return "Decoder3D"; }

  std::shared_ptr<nn::ConvTranspose3d> deconv;
  std::shared_ptr<nn::ReLU> relu;
};

int main() {
  auto model = std::make_shared<Decoder3D>();
  Tensor z = Tensor::randn({2, 8, 4, 4, 4}, {.requires_grad = true});
  Tensor out = (*model)(z);
  out.backward();

  // What the example leaves implicit, shown: shapes and that gradients arrived.
  std::cout << *model << '\n';
  std::cout << "out: " << out.shape() << '\n';
  std::cout << "z.grad: " << z.grad().shape() << '\n';
  for (auto& [name, p] : model->named_parameters())
    std::cout << name << ": " << p.shape() << " grad " << (p.grad().defined() ? p.grad().shape().str() : "None")
              << '\n';
  return 0;
}
