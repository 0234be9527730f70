"""Loss modules: call with (input, target)."""

from lucid import _C
from lucid.nn.module import Module


class _Loss(Module):
    _fn = None

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return type(self)._fn(input, target, self.reduction)

    def extra_repr(self):
        return f"reduction='{self.reduction}'"


class MSELoss(_Loss):
    """Mean squared error; reduction 'mean' (default), 'sum' or 'none'."""

    _fn = _C.mse_loss


class L1Loss(_Loss):
    """Mean absolute error; reduction 'mean' (default), 'sum' or 'none'."""

    _fn = _C.l1_loss


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities (logs clamped at -100, as in PyTorch)."""

    _fn = _C.binary_cross_entropy
