#!/usr/bin/env bash
# The C example of docs/training.md ("Training step by step") compiles as
# written and trains.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The first ```c block after the section's heading.
awk '/^## Training step by step$/{in_section=1} in_section && /^```c$/{on=1; next}
     /^```$/{if(on){exit}} on' "$src/docs/training.md" >"$tmp/example.c"
test -s "$tmp/example.c" || { echo "no C example in docs/training.md"; exit 1; }
flags=$(grep -q 'NABLA_DOUBLE:BOOL=ON' "$build/CMakeCache.txt" && echo -DNABLA_DOUBLE || true)
libs=$(pkg-config --libs libcjson zlib)
blas=$(grep -q 'NABLA_BLAS:BOOL=OFF' "$build/CMakeCache.txt" || pkg-config --libs openblas)
cc -std=c11 -Wall -Wextra -Werror $flags -I "$src/include" "$tmp/example.c" \
    "$build/libnabla.a" $libs $blas -lm -o "$tmp/example" \
    $(grep -q 'NABLA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && echo -fsanitize=address,undefined)
"$tmp/example" >"$tmp/out.txt"
cat "$tmp/out.txt"
# Spirals of 300 points learn to a train loss of 0.3 well within 50 epochs.
grep -Eq '^[0-9]+ epochs, train loss 0\.[0-2][0-9]*, stopped by "target loss"$' "$tmp/out.txt"
echo "1 passed, 0 failed"
