from lucid.nn.modules.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from lucid.nn.modules.container import Sequential
from lucid.nn.modules.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from lucid.nn.modules.loss import BCELoss, L1Loss, MSELoss
from lucid.nn.modules.pooling import AvgPool1d, AvgPool2d, AvgPool3d, Flatten

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Sequential", "Flatten",
           "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "AvgPool1d", "AvgPool2d", "AvgPool3d", "MSELoss", "L1Loss", "BCELoss"]
