#!/usr/bin/env bash
# From a fresh Debian 12 machine: installs what lucid needs, builds the C++
# library and the Python package (into .venv), runs the seed page's examples
# in C++ and in Python, then trains a 3D convolutional autoencoder (about a
# minute on 2 cores), leaving its checkpoint and a PNG in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLUCID_BUILD_BENCH=ON
cmake --build build -j2
bash scripts/python_env.sh

echo "== seed example 1 (C++)"; ./build/examples/seed_basic
echo "== seed example 2 (C++)"; ./build/examples/seed_decoder
echo "== seed page (Python, verbatim)"
.venv/bin/python examples/seed_page.py

echo "== main job: train a 3D autoencoder (C++)"
./build/examples/autoencoder3d --out out
