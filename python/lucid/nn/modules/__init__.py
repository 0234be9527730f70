from lucid.nn.modules.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from lucid.nn.modules.container import Sequential
from lucid.nn.modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Sequential",
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
