#!/usr/bin/env bash
# BENCHMARKS.md, "Exported C": train 784-100-10 on Fashion-MNIST, export
# it as float and as int8 C, and measure code and data size (x86-64 and,
# with arm-none-eabi-gcc, a Cortex-M4), test accuracy of both exports and
# time per sample against nabla predict.
# Usage: bash bench/export_c.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
NABLA=$(cd "${1:-$SRC/build/release}" && pwd)/nabla
DATA=${NABLA_DATA_DIR:-/usr/share/datasets}/fashion-mnist
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
"$NABLA" train --data fashion-mnist --model dense:100,relu,dense:10 --optimizer sgd \
    --lr 0.1 --batch 100 --epochs 5 --seed 1 --out fashion.st --quiet
"$NABLA" eval fashion.st --data fashion-mnist | head -1
"$NABLA" export fashion.st --c fashion
"$NABLA" export fashion.st --c fashion8 --int8
for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do gunzip -c "$DATA/$f.gz" >"$f"; done

echo "== size, x86-64 (gcc -O2 -c)"
for m in fashion fashion8; do gcc -std=c99 -O2 -c "$m.c" -o "$m.o"; done
size fashion.o fashion8.o
echo "== size, Cortex-M4 (arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -c)"
for m in fashion fashion8; do
    arm-none-eabi-gcc -std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os \
        -fstack-usage -c "$m.c" -o "$m.m4.o"
done
arm-none-eabi-size fashion.m4.o fashion8.m4.o
grep -h _predict fashion.m4.su fashion8.m4.su
grep -h 'SCRATCH_SIZE\|WEIGHT_BYTES' fashion.h fashion8.h

echo "== accuracy and time per sample, exported C (gcc -O2, one sample at a time)"
for m in fashion fashion8; do
    gcc -std=c99 -O2 -I. -DMODEL_H="\"$m.h\"" -DNAME=$m -DUNAME="${m^^}" \
        "$SRC/bench/export_bench.c" "$m.c" -lm -o "bench_$m"
    echo "$m: $("./bench_$m" t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)"
done
gcc -std=c99 -O3 -march=native -ffast-math -I. -DMODEL_H='"fashion.h"' -DNAME=fashion \
    -DUNAME=FASHION "$SRC/bench/export_bench.c" fashion.c -lm -o bench_fast
echo "fashion, gcc -O3 -march=native -ffast-math: $(./bench_fast t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)"
echo "== nabla predict on the same 10000 images (reading, predicting in chunks, printing)"
for i in 1 2 3; do
    s=$(date +%s.%N)
    "$NABLA" predict fashion.st --input t10k-images-idx3-ubyte --top 1 >/dev/null
    e=$(date +%s.%N)
    echo "run $i: $(echo "($e - $s) * 1000000 / 10000" | bc -l | cut -c1-5) us per sample"
done
