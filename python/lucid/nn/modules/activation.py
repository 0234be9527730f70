"""Activation modules."""

from lucid import _C
from lucid.nn.module import Module


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, input):
        return _C.relu(input)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, input):
        return _C.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, input):
        return _C.sigmoid(input)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, input):
        return _C.tanh(input)
