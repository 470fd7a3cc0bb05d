#!/usr/bin/env bash
# Run every libFuzzer target under ASan + UBSan from its committed seed
# corpus for FUZZ_SECONDS (default 60) each. A crash fails the run and leaves
# the input in build/fuzz/artifacts/; commit it to fuzz/regressions/<target>/
# with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"idx csv model spec"}
out=build/fuzz
mkdir -p "$out/artifacts"
flags=(-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc)
libs=$(pkg-config --libs libcjson zlib)
# The library once, instrumented for coverage (portable matrix kernel).
objs=()
# The explain page's assets as C (as the CMake build makes them); the MPI
# glue is not part of the core library.
cmake -DNABLA_SOURCE_DIR=. -DNABLA_EMBED_C="$out/explain_assets.c" -P cmake/embed.cmake
for src in src/*/*.c "$out/explain_assets.c"; do
    [[ $src == src/mpi/* ]] && continue
    obj="$out/obj/${src//\//_}.o"
    mkdir -p "$out/obj"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
        clang "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -c "$src" -o "$obj"
    fi
    objs+=("$obj")
done
status=0
for t in $targets; do
    clang "${flags[@]}" "fuzz/fuzz_$t.c" "${objs[@]}" $libs -lm -o "$out/fuzz_$t"
    work="$out/corpus-$t"
    mkdir -p "$work"
    cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    cp -n fuzz/regressions/"$t"/* "$work"/ 2>/dev/null || true
    echo "=== fuzz $t for ${seconds}s"
    if ! "$out/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 \
        "$work" 2>"$out/fuzz_$t.log"; then
        tail -n 60 "$out/fuzz_$t.log"
        status=1
    fi
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$out/fuzz_$t.log" | tail -n 2
done
exit $status
