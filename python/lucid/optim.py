"""lucid.optim: SGD, Adam and AdamW with PyTorch's update rules, run by the C++ core.

    opt = lucid.optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()

One parameter group per optimizer; ``opt.lr`` may be changed between steps.
"""

from lucid import _C


class Optimizer:
    """Base of the optimizers: ``step()``, ``zero_grad()`` and a settable ``lr``."""

    def __init__(self, impl):
        self._impl = impl

    def step(self):
        """Updates every parameter that has a gradient (in place)."""
        self._impl.step()

    def zero_grad(self):
        """Drops every parameter's gradient (grad becomes None)."""
        self._impl.zero_grad()

    @property
    def lr(self):
        return self._impl.lr

    @lr.setter
    def lr(self, value):
        self._impl.lr = value


class SGD(Optimizer):
    """SGD(params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False), as torch.optim.SGD."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(_C._SGD(list(params), lr, momentum, dampening, weight_decay, nesterov))


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0), as torch.optim.Adam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(_C._Adam(list(params), lr, tuple(betas), eps, weight_decay))


class AdamW(Optimizer):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2), as torch.optim.AdamW."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(_C._AdamW(list(params), lr, tuple(betas), eps, weight_decay))


__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
