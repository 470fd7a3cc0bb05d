#!/usr/bin/env bash
# The C example in README.md compiles as written and prints what it says.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The first ```c block of the README.
awk '/^```c$/{on=1; next} /^```$/{if(on){exit}} on' "$src/README.md" >"$tmp/example.c"
test -s "$tmp/example.c" || { echo "no C example in README.md"; exit 1; }
flags=$(grep -q 'NABLA_DOUBLE:BOOL=ON' "$build/CMakeCache.txt" && echo -DNABLA_DOUBLE || true)
libs=$(pkg-config --libs libcjson zlib)
blas=$(grep -q 'NABLA_BLAS:BOOL=OFF' "$build/CMakeCache.txt" || pkg-config --libs openblas)
cc -std=c11 -Wall -Wextra -Werror $flags -I "$src/include" "$tmp/example.c" \
    "$build/libnabla.a" $libs $blas -lm -o "$tmp/example" \
    $(grep -q 'NABLA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && echo -fsanitize=address,undefined)
"$tmp/example" >"$tmp/out.txt"
cat "$tmp/out.txt"
# The README says what the example prints; check the numbers, which follow
# from the notes' apple example: price 220, d price / d apple = 2.2.
grep -q "price = 220" "$tmp/out.txt"
grep -q "d price / d apple = 2.2" "$tmp/out.txt"
echo "1 passed, 0 failed"
