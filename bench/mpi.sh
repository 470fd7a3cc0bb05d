#!/bin/bash
# Throughput of data-parallel training (docs/mpi.md) on Fashion-MNIST, one
# epoch of each benchmark network (bench/run.sh's): 1 process x 2 threads,
# 1 x 1, 1 x 1 with --shards 2, and 2 processes x 1 thread (mpirun, --shards
# 2). The step time of 2 processes less half that of 1 x 1 with --shards 2
# (the same shards, computed serially) is what two processes spend
# exchanging and agreeing: its share of a step is printed.
# Usage: bash bench/mpi.sh [BUILD_DIR]   (an MPI build: -DNABLA_MPI=ON)
set -eu
build=${1:-build/mpi}
nabla="$build/nabla"
data=${NABLA_DATA_DIR:-/usr/share/datasets/fashion-mnist}
[ -x "$nabla" ] || { echo "bench: no $nabla (cmake -B $build -DNABLA_MPI=ON)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seconds of training (the "stopped after ..., S s" line of rank 0).
seconds() { sed -n 's/^stopped after .*, \([0-9.]*\) s$/\1/p' "$1"; }

nets=("784-100-10 sgd|--model dense:100,relu,dense:10 --optimizer sgd --lr 0.1"
    "784-256-128-10 adam|--model dense:256,relu,dense:128,relu,dense:10 --optimizer adam")
printf '%-20s %-26s %10s %12s\n' network run seconds samples/s
for net in "${nets[@]}"; do
    name=${net%%|*}
    read -ra model <<< "${net#*|}"
    common=(--data "$data" "${model[@]}" --batch 32 --epochs 1 --seed 1 --val 0)
    declare -A t
    run() {
        local label=$1
        shift
        "$@" > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
        t[$label]=$(seconds "$work/err")
        printf '%-20s %-26s %10s %12.0f\n' "$name" "$label" "${t[$label]}" \
            "$(echo "54000 / ${t[$label]}" | bc -l)"
    }
    run "1 process x 2 threads" "$nabla" train "${common[@]}" --threads 2
    run "1 x 1" "$nabla" train "${common[@]}" --threads 1
    run "1 x 1, --shards 2" "$nabla" train "${common[@]}" --threads 1 --shards 2
    run "2 processes x 1 thread" mpirun --oversubscribe -np 2 "$nabla" train "${common[@]}" \
        --threads 1 --shards 2
    share=$(echo "(${t[2 processes x 1 thread]} - ${t[1 x 1, --shards 2]} / 2) / \
        ${t[2 processes x 1 thread]} * 100" | bc -l)
    printf '%-20s exchange and agreement: %.0f%% of a step (2 processes)\n' "$name" "$share"
    unset t
done
