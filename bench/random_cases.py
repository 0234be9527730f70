"""Random cases for the benchmark, beyond the shared suite's shapes.

    .venv/bin/python bench/random_cases.py --seed 1 --count 24 > /tmp/random_cases.json
    .venv/bin/python bench/run.py --cases /tmp/random_cases.json --out /tmp/random_bench

Writes a cases file in the shared suite's format (cubic NCDHW input and
kernel): channel counts, kernel sizes, strides, padding, output padding,
dilation, groups and dtype drawn at random, with the input's size chosen so
that one direction costs between 20 MFLOP and 2 GFLOP (--mflop LO HI). The benchmark then
checks and times them as it does the suite, so that a speed-up that holds
only for the suite's shapes shows.
"""

import argparse
import json
import math
import random
import sys

CHANNELS = [3, 4, 8, 12, 16, 24, 32, 40, 48, 64, 96, 128, 192, 256]


def draw(rng, mflop):
    while True:
        k = rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 5])
        s = rng.choice([1, 1, 2, 2, 2, 3]) if k > 1 else rng.choice([1, 2])
        d = rng.choice([1, 1, 1, 1, 2, 3]) if k > 1 else 1
        p = rng.randint(0, (d * (k - 1) + 1) // 2)  # up to about half the dilated kernel, as decoders pad
        op = rng.randint(0, max(s, d) - 1) if rng.random() < 0.3 else 0
        kind = rng.random()
        if kind < 0.15:  # depthwise
            c = rng.choice(CHANNELS[2:])
            cin, cout, g = c, c, c
        elif kind < 0.3:  # grouped
            g = rng.choice([2, 4, 8])
            cin, cout = g * rng.choice([2, 4, 8, 16]), g * rng.choice([2, 4, 8, 16])
        else:
            cin, cout, g = rng.choice(CHANNELS), rng.choice(CHANNELS), 1
        n = rng.choice([1, 1, 2, 4])
        dtype = "float64" if rng.random() < 0.2 else "float32"
        target = 10 ** rng.uniform(math.log10(mflop[0] * 1e6), math.log10(mflop[1] * 1e6))  # FLOPs of one direction
        per_point = 2 * n * cin * (cout // g) * k**3
        i = max(1, round((target / per_point) ** (1 / 3)))
        i = min(i, 96)
        out = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        if i < 3 or out < 2 or n * cout * out**3 * 8 > 512 << 20:
            continue
        return [n, cin, cout, i, k, s, p, op, d, g, dtype]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--mflop", type=float, nargs=2, default=[20, 2000], metavar=("LO", "HI"),
                    help="range of one direction's MFLOP (default 20 2000)")
    args = ap.parse_args()
    if not 0 < args.mflop[0] <= args.mflop[1]:
        sys.exit(f"--mflop: want 0 < LO <= HI, got {args.mflop[0]} {args.mflop[1]}")
    rng = random.Random(args.seed)
    cases = [[f"R{j + 1}", f"random, seed {args.seed}"] + draw(rng, args.mflop) for j in range(args.count)]
    doc = {
        "about": f"Random cases (bench/random_cases.py --seed {args.seed} --count {args.count}), "
        "in the shared suite's format.",
        "fields": ["name", "label", "N", "Cin", "Cout", "I", "k", "s", "p", "op", "d", "g", "dtype"],
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
