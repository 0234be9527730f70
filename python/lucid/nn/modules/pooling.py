"""Pooling and reshaping modules."""

from lucid import _C
from lucid.nn.module import Module


class _AvgPoolNd(Module):
    _nd = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding

    def forward(self, input):
        return _C.avg_pool(self._nd, input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Average pooling over 1 axis; stride defaults to kernel_size; padded positions count as zeros."""

    _nd = 1


class AvgPool2d(_AvgPoolNd):
    """Average pooling over 2 axes; stride defaults to kernel_size; padded positions count as zeros."""

    _nd = 2


class AvgPool3d(_AvgPoolNd):
    """Average pooling over 3 axes; stride defaults to kernel_size; padded positions count as zeros."""

    _nd = 3


class Flatten(Module):
    """Merges axes start_axis..end_axis (default: everything after the batch axis)."""

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis = start_axis
        self.end_axis = end_axis

    def forward(self, input):
        return _C.flatten(input, self.start_axis, self.end_axis)

    def extra_repr(self):
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"
