"""The global random generator (a 64-bit Mersenne Twister; ``seed`` makes runs reproducible)."""

from lucid import _C


def seed(seed):
    """Reseeds the global generator."""
    _C._seed(int(seed))


def randn(*shape, requires_grad=False, dtype=None):
    """Standard normal samples: ``randn(2, 3)`` or ``randn((2, 3))``; float32 by default."""
    return _C._randn(*shape, dtype=dtype, requires_grad=requires_grad)


def rand(*shape, requires_grad=False, dtype=None):
    """Uniform samples in [0, 1): ``rand(2, 3)`` or ``rand((2, 3))``; float32 by default."""
    return _C._rand(*shape, dtype=dtype, requires_grad=requires_grad)


def uniform(low=0.0, high=1.0, size=1, requires_grad=False, dtype=None):
    """Uniform samples in [low, high) of the given size (an int or a tuple)."""
    return _C._uniform(low, high, size, dtype=dtype, requires_grad=requires_grad)


__all__ = ["seed", "randn", "rand", "uniform"]
