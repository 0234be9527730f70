#!/usr/bin/env bash
# Creates .venv (if needed) with what the Python package, its tests and the
# benchmark's chart need, then builds and installs lucid into it from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch==2.13.0 is the CPU build; any other version pulls a multi-GB CUDA build.
# matplotlib draws the benchmark's chart (bench/run.py).
.venv/bin/python -m pip install -q "numpy>=1.24" pytest "scikit-build-core>=0.10" "pybind11>=2.12" torch==2.13.0 \
  matplotlib
.venv/bin/python -m pip install -q --no-build-isolation .
