#!/usr/bin/env bash
# Install the library into a temporary prefix, then build a consumer program
# against it twice: with CMake's find_package(nabla) and with pkg-config.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
# The README's example is the consumer.
awk '/^```c$/{on=1; next} /^```$/{if(on){exit}} on' "$src/README.md" >"$tmp/example.c"
passed=0
failed=0
check() { # WHAT COMMAND...
    local what=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what"
        tail -n 20 "$tmp/out"
    fi
}

mkdir -p "$tmp/consumer"
cp "$tmp/example.c" "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(nabla REQUIRED)
add_executable(example example.c)
target_link_libraries(example PRIVATE nabla::nabla)
CMAKE
sanitize=$(grep -q 'NABLA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && echo -fsanitize=address,undefined || true)
check "find_package(nabla) configures" cmake -S "$tmp/consumer" -B "$tmp/consumer/build" \
    -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_EXE_LINKER_FLAGS="$sanitize"
check "the consumer builds" cmake --build "$tmp/consumer/build"
check "the consumer runs" "$tmp/consumer/build/example"
grep -q "price = 220" "$tmp/out" && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: output"; }

export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
check "pkg-config knows nabla" pkg-config --exists nabla
# pkg-config links the shared library; run it from the prefix.
check "pkg-config build" sh -c "cc -std=c11 $sanitize $tmp/example.c \$(pkg-config --cflags nabla) \
    \$(pkg-config --libs nabla) -o $tmp/example-pc && \
    LD_LIBRARY_PATH=\$(pkg-config --variable=libdir nabla) $tmp/example-pc"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
