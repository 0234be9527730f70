"""lucid.nn: modules, parameters and the functional API."""

from lucid.nn import functional
from lucid.nn.module import Module
from lucid.nn.modules import (
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    BCELoss,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    Flatten,
    L1Loss,
    LeakyReLU,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from lucid.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Sequential", "Flatten",
           "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "AvgPool1d", "AvgPool2d", "AvgPool3d", "MSELoss", "L1Loss", "BCELoss", "functional"]
