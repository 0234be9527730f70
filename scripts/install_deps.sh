#!/usr/bin/env bash
# Installs the Debian 12 packages lucid builds, tests and benchmarks with.
# Needs root (apt-get). Safe to run again.
set -euo pipefail
# ocl-icd-opencl-dev: oneDNN's CMake config asks for OpenCL (Debian builds it
# with the OpenCL GPU runtime and only recommends the package).
packages=(build-essential cmake ninja-build git python3-venv
          libgtest-dev libbenchmark-dev libdnnl-dev ocl-icd-opencl-dev libopenblas-dev libhwy-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
