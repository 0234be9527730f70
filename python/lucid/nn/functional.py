"""lucid.nn.functional: the layers as functions.

Convolutions take lucid's argument order: ``dilation`` comes before
``groups`` (PyTorch's functional API puts ``groups`` first). Pass them by
keyword when porting PyTorch code.
"""

from lucid import _C

relu = _C.relu
flatten = _C.flatten


def mse_loss(input, target, reduction="mean"):
    """Mean squared error; reduction 'mean', 'sum' or 'none'. Shapes must match."""
    return _C.mse_loss(input, target, reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error; reduction 'mean', 'sum' or 'none'. Shapes must match."""
    return _C.l1_loss(input, target, reduction)


def binary_cross_entropy(input, target, reduction="mean"):
    """Binary cross-entropy on probabilities in [0, 1] (logs clamped at -100, as in PyTorch)."""
    return _C.binary_cross_entropy(input, target, reduction)


def avg_pool1d(input, kernel_size, stride=None, padding=0):
    """Average pooling over 1 axis (stride defaults to kernel_size)."""
    return _C.avg_pool(1, input, kernel_size, stride, padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Average pooling over 2 axes (stride defaults to kernel_size)."""
    return _C.avg_pool(2, input, kernel_size, stride, padding)


def avg_pool3d(input, kernel_size, stride=None, padding=0):
    """Average pooling over 3 axes (stride defaults to kernel_size)."""
    return _C.avg_pool(3, input, kernel_size, stride, padding)

leaky_relu = _C.leaky_relu
sigmoid = _C.sigmoid
tanh = _C.tanh

_TRANSPOSED_DOC = """conv_transpose{n}d(input, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1)

Transposed {n}-D convolution. input: (N, C_in, *spatial) or unbatched
(C_in, *spatial); weight: (C_in, C_out/groups, *kernel); bias: (C_out,) or None.

Per spatial axis: y[n, co, o] = b[co] + sum x[n, ci, i] * W[ci, co', k] over
o = i*stride - padding + k*dilation; output length
(L-1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1.

stride, padding, output_padding, dilation: an int or a tuple of {n}. padding
may also be 'valid' (0) or 'same' (output length L*stride). output_padding[i]
must be smaller than stride[i] or dilation[i]. Bad arguments raise ValueError
or TypeError naming the parameter and its value.
"""

_CONV_DOC = """conv{n}d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)

{n}-D convolution (cross-correlation). input: (N, C_in, *spatial) or
unbatched; weight: (C_out, C_in/groups, *kernel). padding: an int, a tuple of
{n}, 'valid' or 'same' (stride 1 only).
"""



def _transposed(n):
    impl = getattr(_C, f"conv_transpose{n}d")

    def f(input, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        return impl(input, weight, bias, stride, padding, output_padding, dilation, groups)

    f.__name__ = f.__qualname__ = f"conv_transpose{n}d"
    f.__doc__ = _TRANSPOSED_DOC.format(n=n)
    return f


def _conv(n):
    impl = getattr(_C, f"conv{n}d")

    def f(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return impl(input, weight, bias, stride, padding, dilation, groups)

    f.__name__ = f.__qualname__ = f"conv{n}d"
    f.__doc__ = _CONV_DOC.format(n=n)
    return f


conv_transpose1d, conv_transpose2d, conv_transpose3d = (_transposed(n) for n in (1, 2, 3))
conv1d, conv2d, conv3d = (_conv(n) for n in (1, 2, 3))

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv1d", "conv2d", "conv3d",
           "relu", "leaky_relu", "sigmoid", "tanh", "flatten", "mse_loss", "l1_loss", "binary_cross_entropy",
           "avg_pool1d", "avg_pool2d", "avg_pool3d"]
