#!/usr/bin/env bash
# The whole test suite and an end-to-end CLI run under valgrind's memcheck:
# any error or definite/indirect leak fails. Uses its own Debug build without
# sanitizers (valgrind and ASan do not mix), and without oneDNN: its
# just-in-time kernels run very slowly under valgrind, and the sanitizer
# build checks the oneDNN path.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/valgrind
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DNABLA_DNNL=OFF >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" >/dev/null
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --track-origins=yes --suppressions="$PWD/scripts/valgrind.supp")
failed=0
passed=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    start=$SECONDS
    if (cd "$build/tests" && "${vg[@]}" "./$name" >"$name.valgrind.log" 2>&1); then
        passed=$((passed + 1))
        echo "valgrind: $name ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        echo "valgrind: $name FAILED"
        tail -n 40 "$build/tests/$name.valgrind.log"
    fi
done
# The command line end to end, every nabla process under valgrind.
if NABLA_WRAP="${vg[*]}" bash tests/cli.sh "$build" "$PWD" >"$build/cli.valgrind.log" 2>&1; then
    passed=$((passed + 1))
    echo "valgrind: cli.sh ok"
else
    failed=$((failed + 1))
    echo "valgrind: cli.sh FAILED"
    tail -n 40 "$build/cli.valgrind.log"
fi
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
