"""lucid.nn: modules, parameters and the functional API."""

from lucid.nn import functional
from lucid.nn.module import Module
from lucid.nn.modules import (
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from lucid.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Sequential",
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "functional"]
