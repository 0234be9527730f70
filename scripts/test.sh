#!/usr/bin/env bash
# Runs every test: the C++ suite (Release), the C++ suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the Python suite
# (against PyTorch 2.13) on a freshly installed package, its PyTorch parity
# tests again on the AVX2 and baseline kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install_deps.sh

echo "== C++ tests (Release, with the benchmark's smoke test)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLUCID_BUILD_BENCH=ON
cmake --build build -j2
ctest --test-dir build --output-on-failure

echo "== C++ tests (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLUCID_SANITIZE=ON
cmake --build build-asan -j2
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure

echo "== Python tests"
bash scripts/python_env.sh
# From outside the checkout, so that `import lucid` is the installed package.
cd /tmp
run_pytest() { "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" "$@"; }
run_pytest "$root/python/tests" "$root/docs"

echo "== Python parity with PyTorch on the AVX2 and baseline kernels"
for isa in avx2 base; do
  LUCID_ISA=$isa OPENBLAS_CORETYPE=Haswell run_pytest "$root/python/tests/test_torch_parity.py"
done
