"""The seed page's two examples, verbatim, with `Tensor` in scope as the page assumes."""

from lucid import Tensor

import lucid.nn as nn
x = Tensor.randn(1, 4, 8, 8, 8, requires_grad=True)
deconv3d = nn.ConvTranspose3d(4, 2, kernel_size=3, stride=2, padding=1, output_padding=1)
y = deconv3d(x)
print(y.shape)

# Backprop
y.backward()
print(x.grad.shape)


class Decoder3D(nn.Module):
    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose3d(8, 4, kernel_size=4, stride=2, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.deconv(x))


model = Decoder3D()
z = Tensor.randn(2, 8, 4, 4, 4, requires_grad=True)
out = model(z)
out.backward()
print(out.shape, z.grad.shape)
