"""Trains a 3D convolutional autoencoder on synthetic volumes (spheres, cubes,
tori) with lucid: a Conv3d encoder, a ConvTranspose3d decoder, binary
cross-entropy and Adam. Saves a safetensors checkpoint, reloads it and checks
the reconstruction, and writes a PNG with input/reconstruction slices and the
loss curve. The same program as examples/autoencoder3d.cpp, in Python.

    .venv/bin/python examples/autoencoder3d.py --help
"""

import argparse
import math
import pathlib
import struct
import sys
import time
import zlib

import numpy as np

import lucid
import lucid.nn as nn
import lucid.nn.functional as F


class Autoencoder3D(nn.Module):
    """Three stride-2 convolutions down (size -> size/8), three stride-2 transposed convolutions up."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv3d(1, 8, 3, stride=2, padding=1)
        self.enc2 = nn.Conv3d(8, 16, 3, stride=2, padding=1)
        self.enc3 = nn.Conv3d(16, 32, 3, stride=2, padding=1)
        self.dec1 = nn.ConvTranspose3d(32, 16, 4, stride=2, padding=1)
        self.dec2 = nn.ConvTranspose3d(16, 8, 4, stride=2, padding=1)
        self.dec3 = nn.ConvTranspose3d(8, 1, 4, stride=2, padding=1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x):
        h = self.act(self.enc1(x))
        h = self.act(self.enc2(h))
        h = self.act(self.enc3(h))
        h = self.act(self.dec1(h))
        h = self.act(self.dec2(h))
        return F.sigmoid(self.dec3(h))


def make_shapes(count, size, seed):
    """(count, 1, size, size, size) float32 volumes: spheres, cubes and tori in turn."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.arange(size) + 0.5,) * 3, indexing="ij")
    out = np.zeros((count, 1, size, size, size), np.float32)
    for n in range(count):
        r = size * (0.15 + 0.15 * rng.random())
        cz, cy, cx = size * (0.3 + 0.4 * rng.random(3))
        dz, dy, dx = z - cz, y - cy, x - cx
        kind = n % 3
        if kind == 0:
            inside = dz**2 + dy**2 + dx**2 <= r * r
        elif kind == 1:
            inside = (np.abs(dz) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r) & (np.abs(dx) <= 0.8 * r)
        else:
            tube = r * (0.3 + 0.2 * rng.random())
            a, p, q = [(dz, dy, dx), (dy, dz, dx), (dx, dz, dy)][int(rng.random() * 3)]
            ring = np.sqrt(p**2 + q**2) - r
            inside = ring**2 + a**2 <= tube * tube
        out[n, 0] = inside
    return out


def write_png(path, rgb):
    """Writes an (H, W, 3) uint8 array as a PNG."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    pathlib.Path(path).write_bytes(png)


def picture(inputs, recons, losses, size):
    """Slices with the most of each shape (input left, reconstruction right) and the log loss curve."""
    zoom = max(1, 128 // size)
    cell = size * zoom
    n = inputs.shape[0]
    img = np.full((n * (cell + 10) + 150, 2 * cell + 30, 3), 255, np.uint8)
    for i in range(n):
        z = int(inputs[i, 0].sum(axis=(1, 2)).argmax())
        for col, vol in enumerate((inputs, recons)):
            sl = np.clip(vol[i, 0, z], 0, 1)
            big = np.kron(sl, np.ones((zoom, zoom)))
            y0, x0 = 10 + i * (cell + 10), 10 + col * (cell + 10)
            img[y0:y0 + cell, x0:x0 + cell] = (big * 255).round().astype(np.uint8)[..., None]
    top, left, hgt, wid = n * (cell + 10) + 10, 10, 130, 2 * cell + 10
    img[top, left:left + wid] = img[top + hgt, left:left + wid] = 0
    img[top:top + hgt, left] = img[top:top + hgt, left + wid] = 0
    logs = np.log10(np.maximum(np.asarray(losses), 1e-12))
    lo, hi = logs.min(), max(logs.max(), logs.min() + 1e-9)
    xs = left + 2 + (wid - 4) * np.arange(len(logs)) / max(1, len(logs) - 1)
    ys = top + 2 + (hgt - 4) * (hi - logs) / (hi - lo)
    for i in range(1, len(logs)):
        steps = int(max(abs(xs[i] - xs[i - 1]), abs(ys[i] - ys[i - 1]))) + 1
        for t in np.linspace(0, 1, steps + 1):
            img[int(round(ys[i - 1] + t * (ys[i] - ys[i - 1]))), int(round(xs[i - 1] + t * (xs[i] - xs[i - 1])))] = (200, 30, 30)
    return img


def run(argv=None):
    """Parses the options, trains, checks the checkpoint, writes the PNG; returns what happened."""
    ap = argparse.ArgumentParser(description="Train a 3D convolutional autoencoder on synthetic shapes with lucid.")
    ap.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    ap.add_argument("--batch", type=int, default=8, help="volumes per step (default 8)")
    ap.add_argument("--size", type=int, default=32, help="volume edge, a multiple of 8 (default 32)")
    ap.add_argument("--samples", type=int, default=96, help="volumes in the synthetic dataset (default 96)")
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 0.003)")
    ap.add_argument("--seed", type=int, default=0, help="random seed for data and weights (default 0)")
    ap.add_argument("--out", default="out", help="folder for the checkpoint and the PNG (default out)")
    args = ap.parse_args(argv)
    if args.size % 8 or args.size < 8 or args.samples < args.batch or args.steps < 1:
        ap.error("need size a multiple of 8, samples >= batch, steps >= 1")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    lucid.random.seed(args.seed)
    data = make_shapes(args.samples, args.size, args.seed + 1)
    model = Autoencoder3D()
    opt = lucid.optim.Adam(model.parameters(), lr=args.lr)
    print(model)
    print(f"{args.samples} volumes of {args.size}^3, {lucid.get_num_threads()} threads")

    tty = sys.stdout.isatty()
    losses, running, t0 = [], 0.0, time.perf_counter()
    for step in range(args.steps):
        start = (step * args.batch) % (args.samples - args.batch + 1)
        x = lucid.Tensor(data[start:start + args.batch])
        opt.zero_grad()
        loss = F.binary_cross_entropy(model(x), x)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        running = losses[-1] if step == 0 else 0.9 * running + 0.1 * losses[-1]
        if tty or (step + 1) % max(1, args.steps // 10) == 0 or step + 1 == args.steps:
            filled = 30 * (step + 1) // args.steps
            rate = (step + 1) * args.batch / (time.perf_counter() - t0)
            print(f"{chr(13) if tty else ''}[{'#' * filled}{'.' * (30 - filled)}] {step + 1}/{args.steps}  "
                  f"loss {running:.4f}  {rate:.1f} volumes/s", end="" if tty else "\n", flush=True)
    if tty:
        print()
    w = max(1, len(losses) // 20)
    first, last = float(np.mean(losses[:w])), float(np.mean(losses[-w:]))
    print(f"loss {first:.4f} -> {last:.4f}: {first / last:.1f}x lower")

    ckpt = out / "autoencoder3d_py.safetensors"
    lucid.save(model.state_dict(), ckpt)
    reloaded = Autoencoder3D()
    reloaded.load_state_dict(lucid.load(ckpt))
    sample = lucid.Tensor(data[: min(4, args.samples)])
    with lucid.no_grad():
        recon = model(sample).numpy()
        recon2 = reloaded(sample).numpy()
    diff = float(np.abs(recon - recon2).max())
    print(f"checkpoint {ckpt} reloaded: reconstruction {'identical' if diff == 0 else 'DIFFERS'} (max difference {diff:g})")
    png = out / "autoencoder3d_py.png"
    write_png(png, picture(sample.numpy(), recon, losses, args.size))
    print(f"wrote {png}")
    return dict(first=first, last=last, reload_diff=diff, checkpoint=ckpt, png=png, losses=losses)


def main(argv=None):
    r = run(argv)
    ok = r["first"] / r["last"] >= 10 and r["reload_diff"] == 0
    if not ok:
        print("the loss did not fall 10x, or the checkpoint did not reproduce the model")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
