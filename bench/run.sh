#!/usr/bin/env bash
# Benchmark nabla against PyTorch, NumPy, KANN and OpenBLAS alone on
# Fashion-MNIST, every tool in its default thread setting and in its others,
# on an idle machine.
#
#   bash bench/run.sh                          3 repetitions of 5 epochs, then the sweeps
#   KANN_DIR=/path/to/kann bash bench/run.sh   the same with the KANN peer
#   BENCH_QUICK=1 bash bench/run.sh            1 repetition of 1 epoch, small sweeps (smoke test)
#
# Environment: BENCH_REPS (3), BENCH_EPOCHS (5), BENCH_QUICK (0), BENCH_SWEEP (1: run
# the batch and width sweeps), BENCH_SWEEP_SAMPLES (training samples per sweep epoch:
# 60000, quick 10000), BENCH_THREADS (the thread counts tried besides each tool's
# default: "1 nproc"), BENCH_ALLOW_BUSY (0; 1: run on a busy machine and flag every
# figure measured while busy), BENCH_IDLE_WAIT (seconds to wait for an idle CPU
# before each run: 60), BENCH_JOBS (build jobs: nproc), KANN_DIR (a KANN source
# tree; empty: no KANN rows), KANN_COMMIT (recorded with KANN's figures; found with
# git when KANN_DIR is a checkout), NABLA_DATA_DIR (the Fashion-MNIST IDX files).
# OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are recorded, then cleared: each setting
# sets its own.
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
sweep_batches=(32 64 128 256 512 1024)
sweep_widths=(64 128 256 512 1024)
if [ "$quick" = 1 ]; then
    reps=1
    epochs=1
    sweep_samples=${BENCH_SWEEP_SAMPLES:-10000}
    sweep_batches=(32 256)
    sweep_widths=(64 256)
fi
cores=$(nproc)
read -ra thread_counts <<<"${BENCH_THREADS:-1 $cores}"
allow_busy=${BENCH_ALLOW_BUSY:-0}
idle_wait=${BENCH_IDLE_WAIT:-60}
kann_dir=${KANN_DIR:-}
data=${NABLA_DATA_DIR:-/usr/share/datasets/fashion-mnist}
export BENCH_ENV_OMP_NUM_THREADS=${OMP_NUM_THREADS:-} BENCH_ENV_OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-}
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS

# Refuse to start when another process holds a CPU: the 1-minute load
# average must be under 0.5 before anything is built. Before each run, the
# CPUs' busy time over one second must be under half a CPU (wait_idle).
# shellcheck source=bench/idle.sh
. "$root/bench/idle.sh"
load=$(load_average)
if is_busy "$load"; then
    if [ "$allow_busy" = 1 ]; then
        echo "bench: warning: 1-minute load average $load (>= 0.5); BENCH_ALLOW_BUSY=1, so" \
            "every figure measured while a CPU is busy is flagged in the report" >&2
    else
        echo "bench: the machine is busy: 1-minute load average $load (>= 0.5) on $cores" \
            "CPUs; another process would distort every timing. Stop it and wait for the" \
            "load to fall, or set BENCH_ALLOW_BUSY=1 for a smoke test (figures flagged)." >&2
        exit 1
    fi
fi

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
    t10k-labels-idx1-ubyte; do
    if [ ! -e "$data/$f.gz" ] && [ ! -e "$data/$f" ]; then
        echo "bench: $data/${f}[.gz] is missing; install dataset-fashion-mnist" \
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
if [ -n "$kann_dir" ] && { [ ! -f "$kann_dir/kann.c" ] || [ ! -f "$kann_dir/kautodiff.c" ]; }; then
    echo "bench: KANN_DIR=$kann_dir has no kann.c and kautodiff.c (a KANN source tree)" >&2
    exit 1
fi

# Waits for an idle CPU; prints the last busy figure. Refuses after
# BENCH_IDLE_WAIT seconds unless BENCH_ALLOW_BUSY=1.
wait_idle() {
    local busy waited=0
    while :; do
        busy=$(busy_cpus "$cores")
        if ! is_busy "$busy" || [ "$allow_busy" = 1 ]; then
            break
        fi
        if ((waited >= idle_wait)); then
            echo "bench: the machine stayed busy ($busy CPUs over one second) for" \
                "${idle_wait} s; stopping (BENCH_ALLOW_BUSY=1 runs anyway and flags it)" >&2
            exit 1
        fi
        ((waited += 1))
    done
    printf '%s' "$busy"
}

echo "bench: building nabla (Release) and the benchmark programs in $out" >&2
mkdir -p "$out"
cmake -S "$root/bench" -B "$out" -DCMAKE_BUILD_TYPE=Release -DKANN_DIR="$kann_dir" \
    >"$out/configure.log" 2>&1 || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" -j "${BENCH_JOBS:-$cores}" >"$out/build.log" 2>&1 ||
    { tail -40 "$out/build.log" >&2; exit 1; }

kann_commit=${KANN_COMMIT:-}
if [ -n "$kann_dir" ] && [ -z "$kann_commit" ]; then
    kann_commit=$(git -C "$kann_dir" rev-parse HEAD 2>/dev/null || echo unknown)
fi
if [ -z "$kann_dir" ]; then
    echo "bench: note: no KANN_DIR given, so no KANN rows (KANN_DIR=/path/to/kann adds them)" >&2
fi
results=$out/results.jsonl
BENCH_LOAD_AT_START=$load BENCH_KANN_DIR=$kann_dir BENCH_KANN_COMMIT=$kann_commit \
    BENCH_ALLOW_BUSY=$allow_busy "$py" "$root/bench/report.py" --machine >"$results"

# One run: waits for an idle CPU, runs the command with the setting's
# environment, and adds the setting and the busy figure to its JSON line.
run() { # label, setting, environment ("VAR=value ..." or ""), command...
    local label=$1 setting=$2 envs=$3 busy line
    shift 3
    busy=$(wait_idle)
    echo "bench: $label [$setting]" >&2
    # shellcheck disable=SC2086 # envs is a list of VAR=value words
    if ! line=$(env $envs "$@"); then
        echo "bench: failed: $envs $*" >&2
        exit 1
    fi
    printf '%s,"setting":"%s","busy_cpus":%s}\n' "${line%\}}" "$setting" "$busy" >>"$results"
}

# The settings: tool|setting|environment|options. The tools take turns
# (one setting of each, then the next), so no tool runs twice in a row.
settings_of() { # tool
    local t
    case $1 in
    nabla)
        echo "nabla|default||"
        for t in "${thread_counts[@]}"; do echo "nabla|--threads $t||--threads $t"; done
        ;;
    torch)
        echo "torch|default||"
        for t in "${thread_counts[@]}"; do
            if [ "$t" = 1 ]; then
                echo "torch|set_num_threads(1), OPENBLAS_NUM_THREADS=1|OPENBLAS_NUM_THREADS=1|--threads 1"
            else
                echo "torch|set_num_threads($t)||--threads $t"
            fi
        done
        ;;
    numpy)
        echo "numpy|default||"
        echo "numpy|OPENBLAS_NUM_THREADS=1|OPENBLAS_NUM_THREADS=1|"
        ;;
    kann)
        echo "kann|default (no kann_mt)||"
        echo "kann|OPENBLAS_NUM_THREADS=1|OPENBLAS_NUM_THREADS=1|"
        for t in "${thread_counts[@]}"; do
            [ "$t" = 1 ] || echo "kann|kann_mt($t), OPENBLAS_NUM_THREADS=1|OPENBLAS_NUM_THREADS=1|--mt $t"
        done
        ;;
    esac
}
tools=(nabla torch numpy)
[ -z "$kann_dir" ] || tools+=(kann)
settings=()
for tool in "${tools[@]}"; do mapfile -t "list_$tool" < <(settings_of "$tool"); done
for ((i = 0; ; i++)); do
    added=0
    for tool in "${tools[@]}"; do
        declare -n list=list_$tool
        if ((i < ${#list[@]})); then
            settings+=("${list[i]}")
            added=1
        fi
        unset -n list
    done
    ((added)) || break
done

nabla=$out/bench_nabla
gemm=$out/bench_gemm
command_of() { # tool -> the command words
    case $1 in
    nabla) echo "$nabla" ;;
    torch) echo "$py $root/bench/bench_torch.py" ;;
    numpy) echo "$py $root/bench/bench_numpy.py" ;;
    kann) echo "$out/bench_kann" ;;
    esac
}
# shellcheck disable=SC2034,SC2054 # used through declare -n; commas are in values
a=(--name a --hidden 100 --opt sgd --lr 0.1 --batch 100 --epochs "$epochs")
# shellcheck disable=SC2034,SC2054
b=(--name b --hidden 256,128 --opt adam --lr 0.001 --batch 100 --epochs "$epochs")
# shellcheck disable=SC2034,SC2054
c=(--mode infer --name c --hidden 256,128)
gemm_settings=("1 thread|OPENBLAS_NUM_THREADS=1|" "OpenBLAS default threads||")
((cores < 2)) || gemm_settings+=("split over $cores cores, 1 thread each||--split $cores")

# Repetition r starts the list of settings at a different place (so a slow
# drift of the machine hits every tool alike) and seeds every tool with r,
# so accuracies are medians over seeds.
n=${#settings[@]}
for ((r = 1; r <= reps; r++)); do
    for cfg in a b c; do
        declare -n args=$cfg
        for ((k = 0; k < n; k++)); do
            IFS='|' read -r tool setting envs opts <<<"${settings[(k + (r - 1) * n / reps) % n]}"
            read -ra cmd <<<"$(command_of "$tool")"
            read -ra extra <<<"$opts"
            run "rep $r/$reps $cfg $tool" "$setting" "$envs" "${cmd[@]}" "${args[@]}" \
                ${extra[@]+"${extra[@]}"} --rep "$r" --seed "$r"
        done
        unset -n args
    done
    for g in "${gemm_settings[@]}"; do
        IFS='|' read -r setting envs opts <<<"$g"
        read -ra extra <<<"$opts"
        for cfg in "a --hidden 100" "b --hidden 256,128"; do
            read -ra ga <<<"$cfg"
            run "rep $r/$reps GEMM-bound ${ga[0]}" "$setting" "$envs" "$gemm" --name "${ga[@]}" \
                --batch 100 --rep "$r" ${extra[@]+"${extra[@]}"}
        done
    done
    run "rep $r/$reps peak GEMM" "OpenBLAS default threads" "" "$gemm" --peak 2048 --rep "$r"
done

# How cost grows: one epoch per point (of sweep_samples training samples),
# nabla in its default and PyTorch in its one-thread setting, alternating which
# goes first, and the GEMM-bound time on one thread and split over the cores.
if [ "$sweep" = 1 ]; then
    i=0
    point() { # name, then the options shared by every tool
        local name=$1
        shift
        local common=(--name "$name" --opt adam --lr 0.001 --epochs 1 --samples "$sweep_samples")
        local torch_run=("$name PyTorch" "set_num_threads(1), OPENBLAS_NUM_THREADS=1"
            "OPENBLAS_NUM_THREADS=1" "$py" "$root/bench/bench_torch.py" "${common[@]}" "$@"
            --threads 1)
        if ((i++ % 2 == 0)); then
            run "$name nabla" default "" "$nabla" "${common[@]}" "$@"
            run "${torch_run[@]}"
        else
            run "${torch_run[@]}"
            run "$name nabla" default "" "$nabla" "${common[@]}" "$@"
        fi
        for g in "${gemm_settings[@]}"; do
            IFS='|' read -r setting envs opts <<<"$g"
            [ "$setting" != "OpenBLAS default threads" ] || continue
            read -ra extra <<<"$opts"
            run "$name GEMM-bound" "$setting" "$envs" "$gemm" --name "$name" \
                --samples "$sweep_samples" --reps 1 "$@" ${extra[@]+"${extra[@]}"}
        done
    }
    for bs in "${sweep_batches[@]}"; do
        point "sweep/batch/$bs" --hidden 256,128 --batch "$bs"
    done
    for w in "${sweep_widths[@]}"; do
        point "sweep/width/$w" --hidden "$w,$((w / 2))" --batch 100
    done
fi

svg=$out/scaling.svg
"$py" "$root/bench/report.py" "$results" --svg "$svg" | tee "$out/report.md"
if [ "$quick" != 1 ] && [ "$sweep" = 1 ]; then
    cp "$svg" "$root/bench/scaling.svg"
fi
echo "bench: results in $results, report in $out/report.md, plot in $svg" >&2
