"""lucid against PyTorch 2.13 on random configurations: the output and the
gradients of input, weight and bias, with the same weights in both."""

import random
import zlib

import numpy as np
import pytest

import lucid
import lucid.nn as nn
import lucid.nn.functional as F

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

TOL = {lucid.float32: 1e-5, lucid.float64: 1e-12}


def normwise(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return np.abs(got - want).max(initial=0.0) / scale


def random_config(rng, nd):
    groups = rng.randint(1, 3)
    cfg = dict(
        nd=nd,
        N=rng.randint(1, 2),
        Cin=groups * rng.randint(1, 3),
        Cout=groups * rng.randint(1, 3),
        groups=groups,
        bias=rng.random() < 0.7,
        unbatched=rng.random() < 0.15,
        dtype=lucid.float32 if rng.random() < 0.5 else lucid.float64,
    )
    big = 5 if nd == 3 else 9
    cfg["L"] = [rng.randint(1, big) for _ in range(nd)]
    cfg["k"] = [rng.randint(1, 3 if nd == 3 else 4) for _ in range(nd)]
    cfg["s"] = [rng.randint(1, 3) for _ in range(nd)]
    cfg["d"] = [rng.randint(1, 3) for _ in range(nd)]
    cfg["p"] = [rng.randint(0, 3) for _ in range(nd)]
    cfg["op"] = [rng.randint(0, max(s, d) - 1) for s, d in zip(cfg["s"], cfg["d"])]
    # Keep every output length at least 1 (empty outputs are errors, tested elsewhere).
    for a in range(nd):
        while (cfg["L"][a] - 1) * cfg["s"][a] - 2 * cfg["p"][a] + cfg["d"][a] * (cfg["k"][a] - 1) + cfg["op"][a] + 1 < 1:
            cfg["p"][a] -= 1
    return cfg


CONFIGS = []
_rng = random.Random(2026)
for _i in range(240):
    CONFIGS.append(random_config(_rng, 1 + _i % 3))


def ids(cfg):
    return (f"{cfg['nd']}d-N{cfg['N']}-C{cfg['Cin']}to{cfg['Cout']}-g{cfg['groups']}-L{cfg['L']}-k{cfg['k']}"
            f"-s{cfg['s']}-p{cfg['p']}-op{cfg['op']}-d{cfg['d']}-{'b' if cfg['bias'] else 'nob'}"
            f"-{'unb' if cfg['unbatched'] else 'bat'}-{cfg['dtype']}")


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_conv_transpose_matches_torch(cfg):
    nd = cfg["nd"]
    np_dtype = np.float32 if cfg["dtype"] == lucid.float32 else np.float64
    rs = np.random.default_rng(zlib.crc32(ids(cfg).encode()))
    xshape = ([] if cfg["unbatched"] else [cfg["N"]]) + [cfg["Cin"]] + cfg["L"]
    x_np = rs.standard_normal(xshape).astype(np_dtype)

    module = getattr(nn, f"ConvTranspose{nd}d")(
        cfg["Cin"], cfg["Cout"], kernel_size=tuple(cfg["k"]), stride=tuple(cfg["s"]), padding=tuple(cfg["p"]),
        output_padding=tuple(cfg["op"]), dilation=tuple(cfg["d"]), groups=cfg["groups"], bias=cfg["bias"],
        dtype=cfg["dtype"])
    x = lucid.Tensor(x_np.copy(), requires_grad=True)
    y = module(x)
    gy_np = rs.standard_normal(y.shape).astype(np_dtype)
    y.backward(lucid.Tensor(gy_np))

    # PyTorch in float64 on the same values: the reference.
    tconv = getattr(torch.nn, f"ConvTranspose{nd}d")(
        cfg["Cin"], cfg["Cout"], tuple(cfg["k"]), stride=tuple(cfg["s"]), padding=tuple(cfg["p"]),
        output_padding=tuple(cfg["op"]), groups=cfg["groups"], bias=cfg["bias"], dilation=tuple(cfg["d"])).double()
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(np.asarray(module.weight).astype(np.float64)))
        if cfg["bias"]:
            tconv.bias.copy_(torch.from_numpy(np.asarray(module.bias).astype(np.float64)))
    tx = torch.from_numpy(x_np.astype(np.float64)).requires_grad_(True)
    ty = tconv(tx)
    ty.backward(torch.from_numpy(gy_np.astype(np.float64)))

    tol = TOL[cfg["dtype"]]
    assert y.dtype == cfg["dtype"] and x.grad.dtype == cfg["dtype"]
    assert normwise(y, ty.detach().numpy()) <= tol
    assert normwise(x.grad, tx.grad.numpy()) <= tol
    assert normwise(module.weight.grad, tconv.weight.grad.numpy()) <= tol
    if cfg["bias"]:
        assert normwise(module.bias.grad, tconv.bias.grad.numpy()) <= tol
    else:
        assert module.bias is None


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_functional_matches_torch_in_float32(nd):
    rs = np.random.default_rng(nd)
    x = rs.standard_normal([2, 4] + [5] * nd).astype(np.float32)
    w = rs.standard_normal([4, 3] + [3] * nd).astype(np.float32)
    b = rs.standard_normal([6]).astype(np.float32)
    f = getattr(F, f"conv_transpose{nd}d")
    y = f(lucid.Tensor(x), lucid.Tensor(w), lucid.Tensor(b), stride=2, padding=1, output_padding=1, dilation=1,
          groups=2)
    tf = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    ty = tf(torch.from_numpy(x).double(), torch.from_numpy(w).double(), torch.from_numpy(b).double(), stride=2,
            padding=1, output_padding=1, groups=2, dilation=1)
    assert normwise(y, ty.numpy()) <= 1e-5


@pytest.mark.parametrize("output_size", [(15, 15, 15), (16, 15, 16), (1, 2, 16, 16, 15)])
def test_output_size_matches_torch(output_size):
    m = nn.ConvTranspose3d(4, 2, kernel_size=3, stride=2, padding=1, dtype=lucid.float64)
    t = torch.nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(np.asarray(m.weight)))
        t.bias.copy_(torch.from_numpy(np.asarray(m.bias)))
    x = np.random.default_rng(0).standard_normal((1, 4, 8, 8, 8))
    y = m(lucid.Tensor(x), output_size=output_size)
    ty = t(torch.from_numpy(x), output_size=list(output_size))
    assert y.shape == tuple(ty.shape)
    assert normwise(y, ty.detach().numpy()) <= 1e-12


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_matches_torch(nd):
    rs = np.random.default_rng(10 + nd)
    for groups, stride, padding, dilation in [(1, 1, 0, 1), (2, 2, 1, 1), (1, 1, "same", 2), (2, 3, 2, 2)]:
        x = rs.standard_normal([2, 4] + [9] * nd)
        w = rs.standard_normal([6, 4 // groups] + [3] * nd)
        b = rs.standard_normal([6])
        lx, lw, lb = (lucid.Tensor(a, requires_grad=True) for a in (x, w, b))
        y = getattr(F, f"conv{nd}d")(lx, lw, lb, stride=stride, padding=padding, dilation=dilation, groups=groups)
        tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
        ty = getattr(torch.nn.functional, f"conv{nd}d")(tx, tw, tb, stride=stride, padding=padding,
                                                         dilation=dilation, groups=groups)
        gy = rs.standard_normal(ty.shape)
        y.backward(lucid.Tensor(gy))
        ty.backward(torch.from_numpy(gy))
        assert normwise(y, ty.detach().numpy()) <= 1e-12
        assert normwise(lx.grad, tx.grad.numpy()) <= 1e-12
        assert normwise(lw.grad, tw.grad.numpy()) <= 1e-12
        assert normwise(lb.grad, tb.grad.numpy()) <= 1e-12
