"""Bad input raises ValueError / TypeError / MemoryError with the C++ message."""

import re

import numpy as np
import pytest

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid import Tensor


def x3():
    return lucid.zeros(1, 4, 3, 3, 3)


def w3():
    return lucid.zeros(4, 2, 3, 3, 3)


CASES = [
    (lambda: F.conv_transpose3d(lucid.zeros(4, 3, 3), w3()), ValueError,
     "[conv_transpose3d] input must be 4-D (unbatched) or 5-D (batched), got shape (4, 3, 3)"),
    (lambda: F.conv_transpose3d(lucid.zeros(1, 3, 3, 3, 3), w3()), ValueError,
     "[conv_transpose3d] input has 3 channels but weight.shape[0]=4 (in_channels); weight shape (4, 2, 3, 3, 3)"),
    (lambda: F.conv_transpose3d(x3(), w3(), groups=3), ValueError,
     "[conv_transpose3d] groups=3 must divide in_channels=4"),
    (lambda: F.conv_transpose3d(x3(), w3(), stride=(2, 2)), ValueError,
     "[conv_transpose3d] stride=(2, 2) must be an int or a tuple of 3 ints, got 2 values"),
    (lambda: F.conv_transpose3d(x3(), w3(), stride=[1, 0, 1]), ValueError,
     "[conv_transpose3d] stride[1]=0 must be positive"),
    (lambda: F.conv_transpose3d(x3(), w3(), dilation=-1), ValueError,
     "[conv_transpose3d] dilation[0]=-1 must be positive"),
    (lambda: F.conv_transpose3d(x3(), w3(), padding=(0, -1, 0)), ValueError,
     "[conv_transpose3d] padding[1]=-1 must be non-negative"),
    (lambda: F.conv_transpose3d(x3(), w3(), padding="full"), ValueError,
     "[conv_transpose3d] padding='full' must be 'same', 'valid', an int or a tuple of 3 ints"),
    (lambda: F.conv_transpose3d(x3(), w3(), stride=2, output_padding=(0, 2, 0)), ValueError,
     "[conv_transpose3d] output_padding[1]=2 must be smaller than stride[1]=2 or dilation[1]=1"),
    (lambda: F.conv_transpose3d(x3(), w3(), stride=2, padding="same", output_padding=1), ValueError,
     "[conv_transpose3d] output_padding[0]=1 must be 0 with padding='same'"),
    (lambda: F.conv_transpose3d(x3(), w3(), bias=lucid.zeros(3)), ValueError,
     "[conv_transpose3d] bias must have shape (2,) (out_channels), got (3,)"),
    (lambda: F.conv_transpose1d(lucid.zeros(1, 1, 2), lucid.zeros(1, 1, 2), padding=2), ValueError,
     "[conv_transpose1d] the output size[0] would be -1 (input size 2, kernel_size 2, stride 1, padding 2, "
     "dilation 1); it must be at least 1"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)(lucid.zeros(1, 1, 4, 4), output_size=(9, 7)),
     ValueError,
     "[conv_transpose2d] output_size[0]=9 cannot be reached: sizes 7 to 8 are possible for input size 4"),
    (lambda: nn.ConvTranspose3d(0, 2, 3), ValueError, "[ConvTranspose3d] in_channels=0 must be positive"),
    (lambda: nn.ConvTranspose3d(4, 6, 3, groups=4), ValueError,
     "[ConvTranspose3d] groups=4 must divide out_channels=6"),
    (lambda: nn.ConvTranspose2d(2, 2, (3, 3, 3)), ValueError,
     "[ConvTranspose2d] kernel_size=(3, 3, 3) must be an int or a tuple of 2 ints, got 3 values"),
    (lambda: nn.ConvTranspose3d(4, 2, 3, output_padding=1), ValueError,
     "[ConvTranspose3d] output_padding[0]=1 must be smaller than stride[0]=1 or dilation[0]=1"),
    (lambda: nn.ConvTranspose3d(4, 2, 3.0), TypeError,
     "[ConvTranspose3d] kernel_size must be an int or a tuple of ints, got float 3.0"),
    (lambda: nn.ConvTranspose3d(4, 2, (3, 3, "3")), TypeError,
     "[ConvTranspose3d] kernel_size must be an int or a tuple of ints, got str '3'"),
    (lambda: nn.ConvTranspose3d(4, 2, 3, padding=1.5), TypeError,
     "[ConvTranspose3d] padding must be an int or a tuple of ints, got float 1.5"),
    (lambda: nn.ConvTranspose3d(4, 2, 3)(None), TypeError, "[ConvTranspose3d] input must be a Tensor, got NoneType"),
    (lambda: F.conv_transpose3d(x3(), None), TypeError, "[conv_transpose3d] weight must be a Tensor, got NoneType"),
    (lambda: F.conv_transpose3d(np.zeros((1, 4, 3, 3, 3)), w3()), TypeError,
     "[conv_transpose3d] input must be a Tensor, got ndarray"),
    (lambda: F.conv_transpose3d(x3(), w3(), bias=np.zeros(2)), TypeError,
     "[conv_transpose3d] bias must be a Tensor or None, got ndarray"),
    (lambda: nn.ConvTranspose3d(4, 2, 3, dtype="int32"), TypeError,
     "[ConvTranspose3d] dtype='int32' is not supported; lucid computes in lucid.float32 and lucid.float64"),
    (lambda: F.conv_transpose1d(lucid.zeros(1, 1, 2), lucid.zeros(1, 1, 2), stride=1 << 62), ValueError,
     "[conv_transpose1d] the output shape (1, 1, 4611686018427387906) has 4611686018427387906 elements; "
     "its byte count overflows 64 bits"),
]


@pytest.mark.parametrize("fn,exc,message", CASES, ids=[c[2][:60] for c in CASES])
def test_error_message(fn, exc, message):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        fn()


def test_impossible_allocation_is_memory_error():
    with pytest.raises(MemoryError, match=r"^\[allocate\] out of memory: cannot allocate \d+ bytes$"):
        F.conv_transpose3d(lucid.zeros(1, 1, 2, 2, 2), lucid.zeros(1, 1, 1, 1, 1), stride=1 << 19)


def test_errors_leave_state_untouched():
    m = nn.ConvTranspose3d(4, 2, 3)
    w = m.weight.numpy().copy()
    with pytest.raises(ValueError):
        m(lucid.zeros(1, 3, 4, 4, 4))
    assert np.array_equal(w, m.weight.numpy())
    assert m.weight.grad is None
