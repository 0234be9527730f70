"""nn.Module from Python: subclassing, registration, state_dict, training through C++ autograd."""

import numpy as np
import pytest

import lucid
import lucid.nn as nn
from lucid import Tensor


class Decoder3D(nn.Module):
    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose3d(8, 4, kernel_size=4, stride=2, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.deconv(x))


def test_subclass_registers_attributes():
    m = Decoder3D()
    assert [n for n, _ in m.named_parameters()] == ["deconv.weight", "deconv.bias"]
    assert list(m.state_dict()) == ["deconv.weight", "deconv.bias"]
    assert len(list(m.parameters())) == 2
    assert [type(c).__name__ for c in m.children()] == ["ConvTranspose3d", "ReLU"]
    assert len(list(m.modules())) == 3
    assert isinstance(m.deconv.weight, nn.Parameter) and isinstance(m.deconv.weight, Tensor)
    assert m.deconv.weight.requires_grad
    assert m.deconv.weight.shape == (8, 4, 4, 4, 4)


def test_trains_through_cpp_autograd():
    lucid.random.seed(0)
    m = Decoder3D()
    z = Tensor.randn(2, 8, 4, 4, 4)
    target = lucid.zeros(2, 4, 8, 8, 8)
    losses = []
    for _ in range(5):
        m.zero_grad()
        out = m(z)
        loss = ((out - target) * (out - target)).mean()
        loss.backward()
        losses.append(loss.item())
        with lucid.no_grad():
            for p in m.parameters():
                lucid._C._copy_into(p, p - 0.5 * p.grad)
    assert losses[-1] < losses[0]


def test_state_dict_round_trip():
    a, b = Decoder3D(), Decoder3D()
    assert not np.array_equal(a.deconv.weight.numpy(), b.deconv.weight.numpy())
    missing, unexpected = b.load_state_dict(a.state_dict())
    assert missing == [] and unexpected == []
    for k, v in a.state_dict().items():
        assert np.array_equal(np.asarray(v), np.asarray(b.state_dict()[k]))
    # NumPy arrays load too
    b.load_state_dict({k: np.asarray(v) * 0 for k, v in a.state_dict().items()})
    assert np.abs(b.deconv.weight.numpy()).max() == 0


def test_load_state_dict_strictness():
    m = Decoder3D()
    sd = m.state_dict()
    del sd["deconv.bias"]
    sd["extra"] = lucid.zeros(1)
    with pytest.raises(ValueError, match="missing keys 'deconv.bias'; unexpected keys 'extra'"):
        m.load_state_dict(sd)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["deconv.bias"] and unexpected == ["extra"]
    with pytest.raises(ValueError, match="'deconv.bias' has shape"):
        m.load_state_dict({"deconv.bias": lucid.zeros(5)}, strict=False)


def test_train_eval_and_zero_grad():
    m = Decoder3D()
    m.eval()
    assert not m.training and not m.deconv.training
    m.train()
    assert m.relu.training
    m(Tensor.randn(1, 8, 2, 2, 2)).backward()
    assert m.deconv.weight.grad is not None
    m.zero_grad()
    assert m.deconv.weight.grad is None


def test_parameter_assignment_and_bias_none():
    m = nn.ConvTranspose2d(2, 3, 2, bias=False)
    assert m.bias is None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.weight = nn.Parameter(lucid.ones(2, 3, 2, 2))
    y = m(lucid.ones(1, 2, 1, 1))
    assert np.allclose(y.numpy(), 2.0)
    with pytest.raises(TypeError):
        m.weight = "not a tensor"


def test_module_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.conv = nn.ConvTranspose1d(1, 1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Bad()


def test_sequential_and_repr():
    s = nn.Sequential(nn.ConvTranspose1d(2, 3, 2, stride=2), nn.ReLU(), nn.ConvTranspose1d(3, 1, 1))
    assert s(Tensor.randn(1, 2, 5)).shape == (1, 1, 10)
    assert [n for n, _ in s.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(s) == 3 and isinstance(s[1], nn.ReLU)
    assert repr(s).startswith("Sequential(\n  (0): ConvTranspose1d(2, 3, kernel_size=(2,), stride=(2,), padding=(0,))")


def test_forward_not_defined():
    with pytest.raises(NotImplementedError):
        nn.Module()(lucid.zeros(1))


def test_unbatched_input_keeps_its_form():
    m = nn.ConvTranspose3d(3, 2, 2, stride=2)
    x = Tensor.randn(3, 4, 4, 4, requires_grad=True)
    y = m(x)
    assert y.shape == (2, 8, 8, 8)
    y.backward()
    assert x.grad.shape == x.shape


def test_same_and_valid_padding():
    for s in (1, 2, 3):
        m = nn.ConvTranspose3d(2, 2, 3, stride=s, padding="same")
        assert m(Tensor.randn(1, 2, 3, 4, 5)).shape == (1, 2, 3 * s, 4 * s, 5 * s)
    assert nn.ConvTranspose1d(1, 1, 3, padding="valid")(lucid.zeros(1, 1, 4)).shape == (1, 1, 6)


def test_initialisation_bounds():
    m = nn.ConvTranspose3d(4, 6, (3, 2, 1), groups=2)
    fan_in = 3 * 3 * 2 * 1
    assert np.abs(m.weight.numpy()).max() <= np.sqrt(6 / fan_in)
    assert np.abs(m.bias.numpy()).max() <= 1 / np.sqrt(fan_in)
    assert np.abs(m.weight.numpy()).max() > 0.5 * np.sqrt(6 / fan_in)


def test_float64_module():
    m = nn.ConvTranspose2d(2, 2, 3, dtype=lucid.float64)
    assert m.weight.dtype == lucid.float64
    assert m(Tensor.randn(1, 2, 4, 4, dtype=lucid.float64)).dtype == lucid.float64


def test_registration_errors():
    m = nn.Module()
    with pytest.raises(ValueError, match="parameter name 'a.b' must be a non-empty string without '.'"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="cannot register Tensor as parameter 'w' \\(a Parameter or None is expected\\)"):
        m.register_parameter("w", lucid.zeros(1))
    with pytest.raises(TypeError, match="cannot register int as module 'sub' \\(a Module or None is expected\\)"):
        m.add_module("sub", 3)
    m.add_module("sub", nn.ReLU())
    m.register_parameter("w", nn.Parameter(lucid.zeros(2)))
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert isinstance(m.sub, nn.ReLU)
