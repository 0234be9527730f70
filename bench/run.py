"""The benchmark: lucid, PyTorch 2.13 and oneDNN 2.6 on the shared suite, in one run.

    .venv/bin/python bench/run.py [--cases ../shared/bench/cases.json] [--reps 10] [--only U1,V1]

Builds nothing: case by case, it runs build/bench/bench_conv (cmake
-DLUCID_BUILD_BENCH=ON), which checks lucid's results against the reference
kernels and times lucid and oneDNN (plain and blocked layouts, reorders
counted), then times PyTorch here on the same case. Each time is a median
of --reps runs, or of more where those would take under 0.2 s (up to 2000
runs), so that calls of a few microseconds are not judged on ten noisy
samples. It prints a Markdown
table, writes it to bench/results.md and draws the ratios in bench/ratios.png.
The floor of each case is the larger of its FLOPs at this machine's measured
matrix-product peak in the case's dtype and its compulsory bytes at the
measured memory bandwidth (both measured in this run, each the best of ten).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_times(fn, reps, warm=2):
    """Milliseconds of `reps` runs of fn after `warm` warm-up runs."""
    for _ in range(warm):
        fn()
    t = []
    for _ in range(reps):
        a = time.perf_counter()
        fn()
        t.append((time.perf_counter() - a) * 1e3)
    return t


MIN_TIMED_MS = 200


def median_ms(fn, reps):
    """Median of `reps` runs, or of more where those would take under
    MIN_TIMED_MS (up to 2000), as bench_conv times lucid and oneDNN."""
    fn()
    a = time.perf_counter()
    fn()
    once = max((time.perf_counter() - a) * 1e3, 1e-4)
    reps = max(reps, min(2000, int(np.ceil(MIN_TIMED_MS / once))))
    return float(np.median(run_times(fn, reps, warm=0)))


def torch_times(case, reps, threads):
    import torch

    torch.set_num_threads(threads)
    name, label, N, Cin, Cout, I, k, s, p, op, d, g, dtype = case
    dt = torch.float64 if dtype == "float64" else torch.float32
    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose3d(Cin, Cout, k, stride=s, padding=p, output_padding=op, groups=g, dilation=d).to(dt)
    x = torch.randn(N, Cin, I, I, I, dtype=dt, requires_grad=True)
    y = conv(x)
    gy = torch.randn_like(y)

    def fwd():
        conv(x)

    def bwd():
        x.grad = None
        conv.weight.grad = None
        conv.bias.grad = None
        y.backward(gy, retain_graph=True)

    return median_ms(fwd, reps), median_ms(bwd, reps)


def best_ms(fn, reps):
    """The fastest of `reps` runs: a machine's limit is what it reaches at best."""
    return min(run_times(fn, reps, warm=1))


def machine_limits(threads):
    """Measured matrix-product peaks (GFLOP/s, per dtype) and copy bandwidth
    (GB/s), each the best of ten runs: a median taken while the shared machine
    is busy would put the floor below what lucid and the peers reach."""
    import torch

    torch.set_num_threads(threads)
    peak = {}
    for dtype in ("float32", "float64"):
        a = torch.rand(2048, 2048, dtype=getattr(torch, dtype))
        b = np.random.rand(2048, 2048).astype(dtype)
        ms = min(best_ms(lambda: a @ a, 10), best_ms(lambda: b @ b, 10))  # the faster BLAS sets the peak
        peak[dtype] = 2 * 2048**3 / (ms * 1e-3) / 1e9
    src = np.ones(64 * 1024 * 1024 // 8)
    dst = np.empty_like(src)
    ms = best_ms(lambda: np.copyto(dst, src), 10)
    bw = 2 * src.nbytes / (ms * 1e-3) / 1e9
    return peak, bw


def case_costs(case, out_len):
    name, label, N, Cin, Cout, I, k, s, p, op, d, g, dtype = case
    e = 8 if dtype == "float64" else 4
    flops = 2 * N * Cin * I**3 * (Cout // g) * k**3
    x, w, y, b = N * Cin * I**3, Cin * (Cout // g) * k**3, N * Cout * out_len**3, Cout
    fwd_bytes = (x + w + b + y) * e
    bwd_bytes = (2 * x + 2 * w + b + y) * e  # read gy, x, w; write gx, gw, gb
    return flops, fwd_bytes, bwd_bytes


def fmt(v, digits=2):
    return "—" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=str(ROOT.parent / "shared" / "bench" / "cases.json"))
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--only", default="")
    ap.add_argument("--binary", default=str(ROOT / "build" / "bench" / "bench_conv"))
    ap.add_argument("--out", default=str(ROOT / "bench"))
    args = ap.parse_args()

    cases = json.loads(pathlib.Path(args.cases).read_text())["cases"]
    if args.only:
        keep = set(args.only.split(","))
        cases = [c for c in cases if c[0] in keep]
    # Case by case, lucid and oneDNN (bench_conv) and then PyTorch right after,
    # so that the ratios of one case come from the same few seconds (the load
    # of a shared machine drifts over a whole run).
    peak, bw = None, None
    fixed, rows = None, []
    for case in cases:
        cmd = [args.binary, args.cases, "--reps", str(args.reps), "--only", case[0]]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sys.stderr.write(proc.stderr)
        lines_out = [json.loads(line) for line in proc.stdout.splitlines()]
        fixed = fixed or next(r for r in lines_out if "fixed_cost_us_fwd" in r)
        r = next(r for r in lines_out if r.get("name") == case[0])
        if proc.returncode != 0:
            sys.exit(f"bench_conv found wrong or thread-dependent results in {case[0]}; nothing is reported")
        threads = r["threads"]
        if peak is None:
            peak, bw = machine_limits(threads)
        tf, tb = torch_times(case, args.reps, threads)
        flops, fb, bb = case_costs(case, r["out"])
        top = peak[case[12]]  # the matrix-product peak in the case's dtype
        floor_f = max(flops / (top * 1e9), fb / (bw * 1e9)) * 1e3
        floor_b = max(2 * flops / (top * 1e9), bb / (bw * 1e9)) * 1e3

        def best(a, b):
            vals = [v for v in (a, b) if v is not None]
            return min(vals) if vals else None

        df = best(r["onednn_plain_fwd_ms"], r["onednn_blocked_fwd_ms"])
        db = best(r["onednn_plain_bwd_ms"], r["onednn_blocked_bwd_ms"])
        rows.append(dict(case=case, r=r, tf=tf, tb=tb, df=df, db=db, floor_f=floor_f, floor_b=floor_b, flops=flops))

    lines = [
        f"Machine: {os.cpu_count()} cores, {threads} threads, direct kernels {rows[0]['r']['isa']}, "
        f"measured matrix-product peak {peak['float32']:.0f} GFLOP/s in float32 and {peak['float64']:.0f} in float64, "
        f"bandwidth {bw:.0f} GB/s.",
        f"Every case was checked against the reference kernels and found bitwise identical with 1 and "
        f"{threads} threads before timing. Fixed cost of one call (a one-element transposed convolution, from C++): "
        f"{fixed['fixed_cost_us_fwd']:.1f} µs forward, {fixed['fixed_cost_us_bwd']:.1f} µs backward.",
        "Times are medians in ms (of 10 runs, or of at least 0.2 s of runs); ratios above 1 mean lucid is faster (peer time / lucid time);"
        " 'floor' is lucid time / floor time (1 is the machine's limit).",
        "",
        "| case | dtype | lucid fwd | lucid bwd | GFLOP/s fwd/bwd | PyTorch fwd/bwd | oneDNN best fwd/bwd |"
        " vs PyTorch fwd/bwd | vs oneDNN fwd/bwd | ×floor fwd/bwd | extra mem fwd/bwd | faults/call |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c, r = row["case"], row["r"]
        lf, lb = r["lucid_fwd_ms"], r["lucid_bwd_ms"]
        lines.append(
            f"| {c[0]} | {c[12]} | {lf:.3f} | {lb:.3f} | {row['flops'] / lf / 1e6:.0f} / {2 * row['flops'] / lb / 1e6:.0f} |"
            f" {row['tf']:.3f} / {row['tb']:.3f} | {fmt(row['df'], 3)} / {fmt(row['db'], 3)} |"
            f" {row['tf'] / lf:.2f} / {row['tb'] / lb:.2f} |"
            f" {fmt(row['df'] and row['df'] / lf)} / {fmt(row['db'] and row['db'] / lb)} |"
            f" {lf / row['floor_f']:.1f} / {lb / row['floor_b']:.1f} |"
            f" {100 * r['extra_fwd']:.0f}% / {100 * r['extra_bwd']:.0f}% | {r['faults_fwd']:.0f} / {r['faults_bwd']:.0f} |")
    # Every (case, direction) where a peer was faster, so that a run over
    # many cases (bench/random_cases.py) reads at a glance.
    behind = []
    for row in rows:
        c, r = row["case"], row["r"]
        for d, lt, pt, dt in (("fwd", r["lucid_fwd_ms"], row["tf"], row["df"]),
                              ("bwd", r["lucid_bwd_ms"], row["tb"], row["db"])):
            peers = [f"PyTorch {pt / lt:.2f}" if pt < lt else None, f"oneDNN {dt / lt:.2f}" if dt and dt < lt else None]
            peers = [p for p in peers if p]
            if peers:
                behind.append(f"{c[0]} {d} ({', '.join(peers)})")
    lines += ["", f"Behind a peer ({len(behind)} of {2 * len(rows)} case directions): " + ("; ".join(behind) or "none") + "."]
    table = "\n".join(lines)
    print(table)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(
        "# Benchmark results\n\nMade by `.venv/bin/python bench/run.py` (see the README).\n\n" + table + "\n")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return
    names = [row["case"][0] for row in rows]
    xs = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    series = [
        ("vs PyTorch fwd", [row["tf"] / row["r"]["lucid_fwd_ms"] for row in rows]),
        ("vs PyTorch bwd", [row["tb"] / row["r"]["lucid_bwd_ms"] for row in rows]),
        ("vs oneDNN fwd", [(row["df"] or 0) / row["r"]["lucid_fwd_ms"] for row in rows]),
        ("vs oneDNN bwd", [(row["db"] or 0) / row["r"]["lucid_bwd_ms"] for row in rows]),
        ("floor/lucid fwd", [row["floor_f"] / row["r"]["lucid_fwd_ms"] for row in rows]),
    ]
    wbar = 0.16
    for i, (label, vals) in enumerate(series):
        ax.bar(xs + (i - 2) * wbar, vals, wbar, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(xs, names)
    ax.set_yscale("log")
    ax.set_ylabel("speed ratio (peer time / lucid time)")
    ax.set_title("lucid ConvTranspose3d against PyTorch 2.13 and oneDNN 2.6 (above 1: lucid faster)")
    ax.legend(ncol=5, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ratios.png", dpi=110)
    print(f"wrote {out / 'results.md'} and {out / 'ratios.png'}")


if __name__ == "__main__":
    main()
