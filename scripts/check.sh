#!/usr/bin/env bash
# Every test in every build: float (with oneDNN where installed) and double,
# OpenBLAS and the portable kernel, AddressSanitizer + UndefinedBehaviorSanitizer, valgrind; each
# fuzz target for FUZZ_SECONDS; then the formatting and static-analysis
# checks. Exits non-zero on the first failure. NABLA_CHECK_ONLY=float,lint
# runs only the stages named (float double noblas sanitize mpi valgrind fuzz
# lint).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

run_build() {
    local name=$1
    shift
    echo "=== build $name: $*"
    cmake -S . -B "build/$name" -DCMAKE_BUILD_TYPE=Release "$@" >"build/$name.configure.log" 2>&1 ||
        { cat "build/$name.configure.log"; return 1; }
    cmake --build "build/$name" -j "$jobs"
    (cd "build/$name" && ctest --output-on-failure -j "$jobs")
}

mkdir -p build
only=${NABLA_CHECK_ONLY:-}
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

want float && run_build float
want double && run_build double -DNABLA_DOUBLE=ON
# The portable kernels alone: no OpenBLAS, no oneDNN (which would take
# the products and convolutions where installed).
want noblas && run_build noblas -DNABLA_BLAS=OFF -DNABLA_DNNL=OFF
want sanitize && run_build sanitize -DCMAKE_BUILD_TYPE=Debug -DNABLA_SANITIZE=ON

# Several processes under mpirun (tests/mpi.sh) in an MPI build.
if want mpi; then
    echo "=== build mpi: -DNABLA_MPI=ON"
    cmake -S . -B build/mpi -DCMAKE_BUILD_TYPE=Release -DNABLA_MPI=ON >build/mpi.configure.log 2>&1 ||
        { cat build/mpi.configure.log; exit 1; }
    cmake --build build/mpi -j "$jobs"
    (cd build/mpi && ctest --output-on-failure -R '^(mpi|test_shards)$')
fi
want valgrind && bash scripts/valgrind.sh
want fuzz && FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash scripts/fuzz.sh

if want lint; then
    echo "=== format"
    files=$(git ls-files '*.c' '*.h')
    clang-format --dry-run --Werror $files
    echo "=== cppcheck"
    cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
        --inline-suppr --std=c11 -I include -I src -I cli \
        --suppress=missingIncludeSystem src cli
fi
echo "=== all checks passed"
