"""nn.Parameter."""

from lucid._C import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: ``requires_grad=True`` by default.

    ``Parameter(t)`` shares ``t``'s memory. Assigning a Parameter to a Module
    attribute registers it.
    """

    def __init__(self, data, requires_grad=True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
