"""Training pieces against PyTorch 2.13: conv layers, activations, pooling,
losses, optimizers; checkpoints; a short run of the autoencoder demo."""

import json
import pathlib
import struct
import sys

import numpy as np
import pytest

import lucid
import lucid.nn as nn
import lucid.nn.functional as F

torch = pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def close(a, b, tol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    assert np.abs(a - b).max(initial=0) <= tol * max(np.abs(b).max(initial=0), 1e-30)


CONV_CASES = [
    (1, dict(stride=1, padding=0, dilation=1, groups=1, bias=True)),
    (1, dict(stride=2, padding=2, dilation=2, groups=2, bias=False)),
    (2, dict(stride=1, padding="same", dilation=2, groups=1, bias=True)),
    (2, dict(stride=(2, 1), padding=(1, 0), dilation=1, groups=2, bias=True)),
    (3, dict(stride=2, padding=1, dilation=1, groups=1, bias=True)),
    (3, dict(stride=1, padding="valid", dilation=(1, 2, 1), groups=4, bias=False)),
]


@pytest.mark.parametrize("nd,kw", CONV_CASES)
def test_conv_modules_match_torch(nd, kw):
    rs = np.random.default_rng(nd)
    m = getattr(nn, f"Conv{nd}d")(4, 8, 3, dtype=lucid.float64, **kw)
    t = getattr(torch.nn, f"Conv{nd}d")(4, 8, 3, **kw).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(np.asarray(m.weight)))
        if kw["bias"]:
            t.bias.copy_(torch.from_numpy(np.asarray(m.bias)))
    x = rs.standard_normal([2, 4] + [9] * nd)
    lx = lucid.Tensor(x, requires_grad=True)
    tx = torch.from_numpy(x).requires_grad_(True)
    y, ty = m(lx), t(tx)
    gy = rs.standard_normal(ty.shape)
    y.backward(lucid.Tensor(gy))
    ty.backward(torch.from_numpy(gy))
    close(y, ty.detach().numpy(), 1e-12)
    close(lx.grad, tx.grad.numpy(), 1e-12)
    close(m.weight.grad, t.weight.grad.numpy(), 1e-12)
    if kw["bias"]:
        close(m.bias.grad, t.bias.grad.numpy(), 1e-12)


def test_activations_pool_flatten_match_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6, 8))
    lx, tx = lucid.Tensor(x), torch.from_numpy(x)
    close(nn.LeakyReLU(0.2)(lx), torch.nn.LeakyReLU(0.2)(tx), 1e-15)
    close(nn.Sigmoid()(lx), torch.sigmoid(tx), 1e-15)
    close(nn.Tanh()(lx), torch.tanh(tx), 1e-15)
    close(nn.AvgPool3d(2)(lx), torch.nn.AvgPool3d(2)(tx), 1e-14)
    close(F.avg_pool2d(lucid.Tensor(x[0]), 3, stride=2, padding=1),
          torch.nn.functional.avg_pool2d(torch.from_numpy(x[0]), 3, stride=2, padding=1), 1e-14)
    close(nn.Flatten()(lx), torch.nn.Flatten()(tx), 0)
    close(lucid.cat([lx, lx], axis=1), torch.cat([tx, tx], dim=1), 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction):
    rs = np.random.default_rng(1)
    p = rs.uniform(0.01, 0.99, (3, 5))
    t = rs.uniform(0, 1, (3, 5))
    for ours, theirs, a, b in [(F.mse_loss, torch.nn.functional.mse_loss, rs.standard_normal((3, 5)), t),
                               (F.l1_loss, torch.nn.functional.l1_loss, rs.standard_normal((3, 5)), t),
                               (F.binary_cross_entropy, torch.nn.functional.binary_cross_entropy, p, t)]:
        la = lucid.Tensor(a, requires_grad=True)
        ta = torch.from_numpy(a).requires_grad_(True)
        lo = ours(la, lucid.Tensor(b), reduction=reduction)
        to = theirs(ta, torch.from_numpy(b), reduction=reduction)
        close(lo, to.detach().numpy(), 1e-13)
        g = rs.standard_normal(tuple(to.shape))
        lo.backward(lucid.Tensor(g))
        to.backward(torch.from_numpy(g))
        close(la.grad, ta.grad.numpy(), 1e-12)
    assert isinstance(nn.MSELoss(), nn.Module)
    close(nn.BCELoss(reduction)(lucid.Tensor(p), lucid.Tensor(t)),
          torch.nn.BCELoss(reduction=reduction)(torch.from_numpy(p), torch.from_numpy(t)).numpy(), 1e-13)


def test_bce_saturated_probabilities_stay_finite():
    p = lucid.Tensor([0.0, 1.0, 0.5], requires_grad=True, dtype=lucid.float64)
    t = lucid.Tensor([1.0, 0.0, 1.0], dtype=lucid.float64)
    loss = F.binary_cross_entropy(p, t)
    tp = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy(tp, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64))
    loss.backward()
    tl.backward()
    close(loss, tl.detach().numpy(), 1e-15)
    close(p.grad, tp.grad.numpy(), 1e-12)
    assert np.isfinite(p.grad.numpy()).all()


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3)),
])
def test_optimizers_match_torch(name, kw):
    rs = np.random.default_rng(2)
    w0, x, y = rs.standard_normal((3, 5)), rs.standard_normal((3, 5)), rs.standard_normal((3, 5))
    lw = nn.Parameter(lucid.Tensor(w0.copy()))
    tw = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    lopt = getattr(lucid.optim, name)([lw], **kw)
    topt = getattr(torch.optim, name)([tw], **kw)
    lx, ly, tx, ty = lucid.Tensor(x), lucid.Tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(6):
        lopt.zero_grad()
        topt.zero_grad()
        F.mse_loss(lw * lx, ly).backward()
        torch.nn.functional.mse_loss(tw * tx, ty).backward()
        close(lw.grad, tw.grad.numpy(), 1e-12)
        lopt.step()
        topt.step()
    close(lw, tw.detach().numpy(), 1e-12)


def test_optimizer_lr_and_errors():
    p = nn.Parameter(lucid.zeros(2))
    opt = lucid.optim.SGD([p], lr=0.1)
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1
    with pytest.raises(ValueError, match="params is empty"):
        lucid.optim.Adam([])
    with pytest.raises(TypeError, match="params must hold Tensors"):
        lucid.optim.Adam([1.0])
    with pytest.raises(ValueError, match="betas"):
        lucid.optim.Adam([p], betas=(1.5, 0.9))


def small_model():
    return nn.Sequential(nn.Conv3d(1, 2, 3), nn.ReLU(), nn.ConvTranspose3d(2, 1, 3))


def test_checkpoint_is_safetensors(tmp_path):
    m = small_model()
    path = tmp_path / "m.safetensors"
    lucid.save(m.state_dict(), path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["0.weight"] == {"dtype": "F32", "shape": [2, 1, 3, 3, 3], "data_offsets": [0, 216]}
    assert header["2.bias"]["shape"] == [1]
    assert len(raw) == 8 + n + sum(e["data_offsets"][1] - e["data_offsets"][0]
                                   for k, e in header.items() if k != "__metadata__")
    m2 = small_model()
    m2.load_state_dict(lucid.load(path))
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert np.array_equal(np.asarray(a), np.asarray(b)), k


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot open the file"):
        lucid.load(tmp_path / "missing.safetensors")
    m = small_model()
    path = tmp_path / "m.safetensors"
    lucid.save(m.state_dict(), path)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match="the file is truncated"):
        lucid.load(path)
    path.write_bytes(struct.pack("<Q", 8) + b"{bad}   ")
    with pytest.raises(ValueError, match="malformed header"):
        lucid.load(path)
    lucid.save(nn.Conv3d(1, 3, 3).state_dict(), path)
    with pytest.raises(ValueError, match="missing keys"):
        m.load_state_dict(lucid.load(path))


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "m.safetensors"
    lucid.save(small_model().state_dict(), path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        lucid.save({"x": "not a tensor"}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left behind


def test_autoencoder_demo_short_run(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import autoencoder3d
    finally:
        sys.path.pop(0)
    r = autoencoder3d.run(["--steps", "120", "--size", "16", "--samples", "24", "--out", str(tmp_path)])
    assert r["last"] < r["first"] / 10
    assert r["reload_diff"] == 0
    assert r["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(lucid.load(r["checkpoint"])) == 12  # six convolutions, weight and bias each
