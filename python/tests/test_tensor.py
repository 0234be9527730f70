"""Tensors from Python: factories, NumPy interop, autograd rules, printing."""

import numpy as np
import pytest

import lucid
from lucid import Tensor


def test_factories_default_to_float32():
    for t in (lucid.zeros(2, 3), lucid.ones((2, 3)), lucid.empty(2), lucid.full((2,), 1.5), Tensor.randn(2, 3),
              lucid.random.randn(2), lucid.random.rand(3), Tensor([1.0, 2.0]), Tensor(3.0)):
        assert t.dtype == lucid.float32
    assert lucid.zeros(2, dtype=lucid.float64).dtype == lucid.float64
    assert Tensor.randn(2, 3).shape == (2, 3)
    assert lucid.ones(2, 3, requires_grad=True).requires_grad
    assert lucid.full((2, 2), 7.0).numpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert Tensor(3.0).item() == 3.0
    assert Tensor(3.0).shape == ()


def test_properties():
    t = Tensor.randn(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3
    assert t.size == 24
    assert t.grad is None
    assert not t.requires_grad
    assert len(t) == 2


def test_random_seed_reproduces():
    lucid.random.seed(5)
    a = lucid.random.randn(100).numpy().copy()
    lucid.random.seed(5)
    b = Tensor.randn(100).numpy()
    assert np.array_equal(a, b)
    u = lucid.random.uniform(-2, 3, (1000,)).numpy()
    assert u.min() >= -2 and u.max() < 3


@pytest.mark.parametrize("np_dtype,dtype", [(np.float32, lucid.float32), (np.float64, lucid.float64)])
def test_numpy_round_trip_shares_memory(np_dtype, dtype):
    a = np.arange(12, dtype=np_dtype).reshape(3, 4)
    t = Tensor(a)
    assert t.dtype == dtype
    a[0, 0] = 42  # shared: the tensor sees it
    assert t.numpy()[0, 0] == 42
    back = np.asarray(t)
    assert back.dtype == np_dtype and back.shape == (3, 4)
    assert np.shares_memory(back, a)


def test_non_contiguous_arrays_are_copied_safely():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    t = Tensor(a)
    assert t.shape == (4, 3)
    assert np.array_equal(t.numpy(), a)
    b = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert np.array_equal(Tensor(b).numpy(), b)


def test_conversions():
    assert Tensor(np.arange(4)).dtype == lucid.float32  # integers become float32
    assert Tensor(np.ones(2), dtype=lucid.float32).dtype == lucid.float32
    assert Tensor([[1, 2], [3, 4]], dtype=np.float64).dtype == lucid.float64
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1, 2], dtype=np.int32)
    with pytest.raises(TypeError):
        Tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError):
        Tensor(None)
    with pytest.raises(TypeError):
        Tensor(np.ones(2, dtype=np.complex64))


def test_tensor_keeps_numpy_array_alive():
    t = Tensor(np.full((1000,), 3.0))
    import gc

    gc.collect()
    assert t.numpy().sum() == 3000.0


def test_numpy_view_keeps_tensor_alive():
    a = lucid.full((100,), 2.0).numpy()
    import gc

    gc.collect()
    assert a.sum() == 200.0


def test_arithmetic_and_broadcasting():
    a = Tensor([[1.0, 2.0, 3.0]])
    b = Tensor([[10.0], [20.0]])
    assert (a + b).shape == (2, 3)
    assert (2 * a - 1).numpy().tolist() == [[1.0, 3.0, 5.0]]
    assert (a / 2).numpy().tolist() == [[0.5, 1.0, 1.5]]
    assert (1 / a).numpy()[0, 1] == 0.5
    assert (a ** 2).numpy().tolist() == [[1.0, 4.0, 9.0]]
    assert (-a).numpy().tolist() == [[-1.0, -2.0, -3.0]]
    assert (a + np.ones(3)).dtype == lucid.float64  # a float64 array promotes
    assert a.sum().item() == 6.0 and a.mean().item() == 2.0
    assert a.sum(axis=1, keepdims=True).shape == (1, 1)
    assert a.reshape(3, 1).shape == (3, 1) and a.reshape((-1,)).shape == (3,)


def test_non_scalar_backward_seeds_ones():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward()
    assert x.grad.numpy().tolist() == [2.0, 4.0, 6.0]
    assert isinstance(x.grad, Tensor)


def test_explicit_gradient_and_accumulation():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(Tensor([1.0, 10.0]))
    (x * 3).backward(np.array([1.0, 10.0]))
    assert x.grad.numpy().tolist() == [6.0, 60.0]
    x.zero_grad()
    assert x.grad is None


def test_second_backward_through_freed_graph_raises():
    x = Tensor.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.numpy().tolist() == [4.0, 8.0]


def test_no_grad_context_and_decorator():
    x = Tensor.randn(3, requires_grad=True)
    with lucid.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert lucid.is_grad_enabled()

    @lucid.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_detach_and_backward_without_grad():
    x = Tensor.randn(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor.randn(3).sum().backward()


def test_repr_is_readable():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert repr(t) == ("Tensor([[1, 2],\n        [3, 4]], shape=(2, 2), dtype=float32, requires_grad=True)")
    assert repr(lucid.float64) == "lucid.float64"


def test_threads_setting():
    n = lucid.get_num_threads()
    lucid.set_num_threads(1)
    assert lucid.get_num_threads() == 1
    lucid.set_num_threads(n)
    with pytest.raises(ValueError, match=r"\[set_num_threads\] n=0 must be at least 1"):
        lucid.set_num_threads(0)


def test_memory_error_for_an_impossible_allocation():
    with pytest.raises(MemoryError, match="cannot allocate"):
        lucid.empty(1 << 58)


def test_shape_overflow_is_value_error():
    with pytest.raises(ValueError, match="overflows 64 bits"):
        lucid.zeros(1 << 40, 1 << 40)
