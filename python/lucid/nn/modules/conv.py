"""Convolution and transposed convolution modules."""

from lucid import _C
from lucid.nn.module import Module
from lucid.nn.parameter import Parameter

_DOC = """nn.ConvTranspose{n}d
{underline}

The ``ConvTranspose{n}d`` module applies a transposed {n}D convolution{what}.
{use}

Class Signature
---------------
class lucid.nn.ConvTranspose{n}d(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[{ints}],
    stride: int | tuple[{ints}] = 1,
    padding: _PaddingStr | int | tuple[{ints}] = 0,
    output_padding: int | tuple[{ints}] = 0,
    dilation: int | tuple[{ints}] = 1,
    groups: int = 1,
    bias: bool = True
)

Parameters
----------
- in_channels (int): Number of channels in the input image.
- out_channels (int): Number of channels in the output image.
- kernel_size (int or tuple[{ints}]): Size of the convolving kernel.
- stride (int or tuple[{ints}], optional): Stride of the convolution. Default is 1.
- padding (_PaddingStr, int, or tuple[{ints}], optional): Zero-padding added to
  both sides of the input (cropped from the output). Default is 0.
  'valid' means 0; 'same' makes every output axis input_size * stride long
  (the TensorFlow/Keras/JAX meaning; lucid 2.x cropped d*(k-1)//2, which does
  not keep the size when stride > 1).
- output_padding (int or tuple[{ints}], optional): Additional size added to one
  side of the output. Must be smaller than stride or dilation on each axis,
  and 0 with padding='same'. Default is 0.
- dilation (int or tuple[{ints}], optional): Spacing between kernel elements. Default is 1.
- groups (int, optional): Number of blocked connections. Default is 1.
- bias (bool, optional): If True, adds a learnable bias. Default is True.
- dtype (keyword only, optional): lucid.float32 (default) or lucid.float64.

Attributes
----------
- weight (Tensor): Shape (in_channels, out_channels // groups, {kshape}),
  initialised U(-sqrt(6/fan_in), sqrt(6/fan_in)), fan_in = (out_channels // groups) * prod(kernel_size).
- bias (Tensor or None): Shape (out_channels,), if enabled; U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

Forward Calculation
-------------------
y = x * W + b (transposed convolution)

- x: input shape (N, C_in, {ishape}) or unbatched (C_in, {ishape})
- W: weight shape (C_in, C_out/groups, {kshape})
- y: output shape (N, C_out, {oshape}), each output length
  (L_in - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1

forward(input, output_size=None): a requested output_size (the spatial sizes,
optionally with N and C in front) picks output_padding, as in PyTorch.

Backward Gradient Calculation
-----------------------------
Gradients for the input, weight and bias are exact (the adjoint of the
forward sum), computed by the C++ core.

Examples
--------
>>> import lucid.nn as nn
>>> from lucid import Tensor
>>> x = Tensor.randn({example_in}, requires_grad=True)
>>> deconv = nn.ConvTranspose{n}d(4, 2, kernel_size=3, stride=2, padding=1, output_padding=1)
>>> y = deconv(x)
>>> print(y.shape)
{example_out}
>>> y.backward()
>>> print(x.grad.shape)
{example_in_tuple}
"""


def _adopt(module, impl, **config):
    """Keeps the C++ module (validation, initialisation, geometry), exposes the
    configuration as attributes and registers its weight and bias."""
    object.__setattr__(module, "_impl", impl)
    for name, value in config.items():
        setattr(module, name, value)
    module.kernel_size = impl.kernel_size
    module.weight = Parameter(impl.weight)
    if impl.bias is not None:
        module.bias = Parameter(impl.bias)
    else:
        module.register_parameter("bias", None)


class _ConvTransposeNd(Module):
    _nd = 0
    _impl_cls = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, groups=1, bias=True, *, dtype=None):
        super().__init__()
        impl = self._impl_cls(in_channels, out_channels, kernel_size, stride, padding, output_padding,
                              dilation, groups, bool(bias), dtype)
        _adopt(self, impl, in_channels=in_channels, out_channels=out_channels, stride=stride, padding=padding,
               output_padding=output_padding, dilation=dilation, groups=groups)

    def forward(self, input, output_size=None):
        return self._impl.forward(input, self.weight, self.bias, output_size)

    def extra_repr(self):
        return self._impl.extra_repr()


def _make(n, impl_cls, what, use, example_in, example_out):
    ints = ", ".join(["int"] * n)
    names = ["D", "H", "W"][3 - n:]
    doc = _DOC.format(
        n=n, underline="=" * len(f"nn.ConvTranspose{n}d"), what=what, use=use, ints=ints,
        kshape=", ".join("k" + c for c in names), ishape=", ".join(c + "_in" for c in names),
        oshape=", ".join(c + "_out" for c in names), example_in=", ".join(map(str, example_in)),
        example_out=example_out, example_in_tuple=tuple(example_in))
    return type(f"ConvTranspose{n}d", (_ConvTransposeNd,),
                {"_nd": n, "_impl_cls": impl_cls, "__doc__": doc, "__module__": "lucid.nn"})


ConvTranspose1d = _make(1, _C._ConvTranspose1d, " over sequences",
                        "It upsamples signals, e.g. in 1D decoders.", (1, 4, 8), (1, 2, 16))
ConvTranspose2d = _make(2, _C._ConvTranspose2d, " over images",
                        "It upsamples feature maps, e.g. in 2D decoders and segmentation networks.",
                        (1, 4, 8, 8), (1, 2, 16, 16))
ConvTranspose3d = _make(3, _C._ConvTranspose3d, " over volumetric inputs,\nsuch as videos or 3D medical images",
                        "It is especially useful in 3D autoencoders or volumetric segmentation networks.",
                        (1, 4, 8, 8, 8), (1, 2, 16, 16, 16))


class _ConvNd(Module):
    _nd = 0
    _impl_cls = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, *, dtype=None):
        super().__init__()
        impl = self._impl_cls(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bool(bias),
                              dtype)
        _adopt(self, impl, in_channels=in_channels, out_channels=out_channels, stride=stride, padding=padding,
               dilation=dilation, groups=groups)

    def forward(self, input):
        return self._impl.forward(input, self.weight, self.bias)

    def extra_repr(self):
        return self._impl.extra_repr()


_CONV_DOC = """nn.Conv{n}d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, *, dtype=None)

{n}D convolution (cross-correlation), lucid 2.x's signature. It runs on the
same kernels as the transposed convolution (its forward pass is the
transposed convolution's input gradient).

- padding: an int, a tuple of {n}, 'valid' (0) or 'same' (stride 1 only;
  the output keeps the input's size, padding d*(k-1) split low/high).
- weight: (out_channels, in_channels // groups, {kshape}), U(-sqrt(6/fan_in), sqrt(6/fan_in)),
  fan_in = (in_channels // groups) * prod(kernel_size); bias: (out_channels,), U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
- input (N, C_in, {ishape}) or unbatched (C_in, {ishape}); output length
  (L + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1.

>>> import lucid.nn as nn
>>> from lucid import Tensor
>>> nn.Conv{n}d(2, 4, kernel_size=3, stride=2, padding=1)(Tensor.randn({example})).shape
{result}
"""


def _make_conv(n, impl_cls, example, result):
    names = ["D", "H", "W"][3 - n:]
    doc = _CONV_DOC.format(n=n, kshape=", ".join("k" + c for c in names), ishape=", ".join(names),
                           example=", ".join(map(str, example)), result=result)
    return type(f"Conv{n}d", (_ConvNd,), {"_nd": n, "_impl_cls": impl_cls, "__doc__": doc,
                                          "__module__": "lucid.nn"})


Conv1d = _make_conv(1, _C._Conv1d, (1, 2, 8), (1, 4, 4))
Conv2d = _make_conv(2, _C._Conv2d, (1, 2, 8, 8), (1, 4, 4, 4))
Conv3d = _make_conv(3, _C._Conv3d, (1, 2, 8, 8, 8), (1, 4, 4, 4, 4))
