#!/usr/bin/env bash
# Benchmark nabla against PyTorch, NumPy and OpenBLAS alone on Fashion-MNIST.
#
#   bash bench/run.sh                  3 repetitions of 5 epochs, then the sweeps
#   BENCH_QUICK=1 bash bench/run.sh    1 repetition of 1 epoch, small sweeps (smoke test)
#
# Environment: BENCH_REPS (3), BENCH_EPOCHS (5), BENCH_QUICK (0), BENCH_SWEEP (1: run
# the batch and width sweeps), BENCH_SWEEP_SAMPLES (training samples per sweep epoch:
# 60000, quick 10000), BENCH_JOBS (build jobs: nproc), OMP_NUM_THREADS (threads of every
# tool: nproc), NABLA_DATA_DIR (the Fashion-MNIST IDX files).
# Every tool run is its own process, so the peak RSS is per configuration. Results go
# to build/bench/results.jsonl (one JSON line per run), the report to
# build/bench/report.md and the plot to build/bench/scaling.svg (copied to
# bench/scaling.svg by a full, non-quick run).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/build/bench
py=/usr/bin/python3
quick=${BENCH_QUICK:-0}
reps=${BENCH_REPS:-3}
epochs=${BENCH_EPOCHS:-5}
sweep=${BENCH_SWEEP:-1}
sweep_samples=${BENCH_SWEEP_SAMPLES:-60000}
if [ "$quick" = 1 ]; then
    reps=1
    epochs=1
    sweep_samples=${BENCH_SWEEP_SAMPLES:-10000}
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$OMP_NUM_THREADS}
data=${NABLA_DATA_DIR:-/usr/share/datasets/fashion-mnist}

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
    t10k-labels-idx1-ubyte; do
    if [ ! -e "$data/$f.gz" ] && [ ! -e "$data/$f" ]; then
        echo "bench: $data/$f[.gz] is missing; install dataset-fashion-mnist" \
            "(bash scripts/deps.sh) or set NABLA_DATA_DIR" >&2
        exit 1
    fi
done
for m in torch numpy; do
    if ! "$py" -c "import $m" 2>/dev/null; then
        echo "bench: $py cannot import $m; run: bash scripts/deps.sh --bench" >&2
        exit 1
    fi
done

echo "bench: building nabla (Release) and the benchmark programs in $out" >&2
mkdir -p "$out"
cmake -S "$root/bench" -B "$out" -DCMAKE_BUILD_TYPE=Release >"$out/configure.log" 2>&1 ||
    { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" -j "${BENCH_JOBS:-$(nproc)}" >"$out/build.log" 2>&1 ||
    { tail -40 "$out/build.log" >&2; exit 1; }

results=$out/results.jsonl
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > 0.25 * n) }'; then
    echo "bench: warning: load average $load on $(nproc) CPUs; other work will distort" \
        "the timings (threaded runs suffer most)" >&2
fi
"$py" "$root/bench/report.py" --machine >"$results"

# One run: the command's JSON line goes to the results, its stderr to the terminal.
run() {
    local label=$1
    shift
    echo "bench: $label" >&2
    local line
    if ! line=$("$@"); then
        echo "bench: failed: $*" >&2
        exit 1
    fi
    printf '%s\n' "$line" >>"$results"
}

nabla=$out/bench_nabla
gemm=$out/bench_gemm
torch_py=("$py" "$root/bench/bench_torch.py")
numpy_py=("$py" "$root/bench/bench_numpy.py")
a=(--name a --hidden 100 --opt sgd --lr 0.1 --batch 100 --epochs "$epochs")
b=(--name b --hidden 256,128 --opt adam --lr 0.001 --batch 100 --epochs "$epochs")
c=(--mode infer --name c --hidden 256,128)

# Alternate the tools: each repetition runs every tool once per configuration,
# and the order of the tools rotates from one repetition to the next.
# Repetition r seeds every tool with r, so accuracies are medians over seeds.
tools=(nabla torch numpy)
for ((r = 1; r <= reps; r++)); do
    for cfg in a b c; do
        for ((k = 0; k < 3; k++)); do
            tool=${tools[(k + r - 1) % 3]}
            declare -n args=$cfg
            case $tool in
            nabla) run "rep $r/$reps $cfg nabla" "$nabla" "${args[@]}" --rep "$r" --seed "$r" ;;
            torch) run "rep $r/$reps $cfg PyTorch" "${torch_py[@]}" "${args[@]}" --rep "$r" --seed "$r" ;;
            numpy) [ "$cfg" = c ] ||
                run "rep $r/$reps $cfg NumPy" "${numpy_py[@]}" "${args[@]}" --rep "$r" --seed "$r" ;;
            esac
            unset -n args
        done
    done
    run "rep $r/$reps GEMM-bound a" "$gemm" --name a --hidden 100 --batch 100 --rep "$r"
    run "rep $r/$reps GEMM-bound b" "$gemm" --name b --hidden 256,128 --batch 100 --rep "$r"
    run "rep $r/$reps peak GEMM" "$gemm" --peak 2048 --rep "$r"
done

# How cost grows: one epoch per point (of sweep_samples training samples),
# nabla and PyTorch alternating which goes first.
if [ "$sweep" = 1 ]; then
    i=0
    point() { # name, then the options shared by every tool
        local name=$1
        shift
        local common=(--name "$name" --opt adam --lr 0.001 --epochs 1 --samples "$sweep_samples")
        if ((i++ % 2 == 0)); then
            run "$name nabla" "$nabla" "${common[@]}" "$@"
            run "$name PyTorch" "${torch_py[@]}" "${common[@]}" "$@"
        else
            run "$name PyTorch" "${torch_py[@]}" "${common[@]}" "$@"
            run "$name nabla" "$nabla" "${common[@]}" "$@"
        fi
        run "$name GEMM-bound" "$gemm" --name "$name" --samples "$sweep_samples" --reps 1 "$@"
    }
    for bs in 32 64 128 256 512 1024; do
        point "sweep/batch/$bs" --hidden 256,128 --batch "$bs"
    done
    for w in 64 128 256 512 1024; do
        point "sweep/width/$w" --hidden "$w,$((w / 2))" --batch 100
    done
fi

svg=$out/scaling.svg
"$py" "$root/bench/report.py" "$results" --svg "$svg" | tee "$out/report.md"
if [ "$quick" != 1 ] && [ "$sweep" = 1 ]; then
    cp "$svg" "$root/bench/scaling.svg"
fi
echo "bench: results in $results, report in $out/report.md, plot in $svg" >&2
