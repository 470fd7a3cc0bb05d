#!/usr/bin/env bash
# Install the Debian packages nabla builds, tests and benchmarks with.
# Safe to run again: apt-get skips what is already there.
set -euo pipefail
packages=(
    build-essential cmake pkg-config clang-format cppcheck valgrind
    libopenblas-dev libdnnl-dev libcjson-dev zlib1g-dev libcmocka-dev
    graphviz dataset-fashion-mnist clang libclang-rt-14-dev python3
    libopenmpi-dev openmpi-bin
    chromium
)
if [ "${1:-}" = "--bench" ]; then
    packages+=(python3-numpy python3-torch gcc-arm-none-eabi)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#packages[@]} packages present"
    exit 0
fi
echo "deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
