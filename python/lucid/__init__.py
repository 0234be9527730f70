"""lucid: tensors, reverse-mode autograd and neural-network modules over a C++
core, with the fastest transposed convolution (ConvTranspose1d/2d/3d) on a CPU.

    >>> import lucid
    >>> import lucid.nn as nn
    >>> from lucid import Tensor
    >>> x = Tensor.randn(1, 4, 8, 8, 8, requires_grad=True)
    >>> y = nn.ConvTranspose3d(4, 2, kernel_size=3, stride=2, padding=1, output_padding=1)(x)
    >>> y.shape
    (1, 2, 16, 16, 16)
"""

from lucid import _C
from lucid._C import (
    Tensor,
    abs,
    add,
    allocated_bytes,
    cached_bytes,
    cat,
    clamp,
    div,
    empty,
    empty_cache,
    exp,
    flatten,
    full,
    get_num_threads,
    is_grad_enabled,
    log,
    maximum,
    mean,
    minimum,
    mul,
    neg,
    ones,
    pow,
    reshape,
    set_grad_enabled,
    set_num_threads,
    sqrt,
    sub,
    sum,
    zeros,
)
from lucid._C import dtype as _dtype
from lucid.autograd import no_grad
from lucid import optim, random
from lucid.serialization import load, save

_dtype.__repr__ = _dtype.__str__ = lambda self: f"lucid.{self.name}"
float32 = _dtype.float32
float64 = _dtype.float64
dtype = _dtype


def tensor(data, requires_grad=False, dtype=None):
    """Makes a Tensor from a NumPy array, nested list, number or Tensor (see ``Tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


__version__ = "3.0.0"

__all__ = [
    "Tensor", "tensor", "float32", "float64", "dtype", "no_grad", "random", "optim", "save", "load",
    "zeros", "ones", "full", "empty",
    "add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "abs", "pow", "clamp",
    "maximum", "minimum", "sum", "mean", "reshape", "flatten", "cat",
    "is_grad_enabled", "set_grad_enabled", "set_num_threads", "get_num_threads",
    "empty_cache", "cached_bytes", "allocated_bytes",
]
