#!/bin/bash
# The benchmark report (bench/report.py) on made-up results whose medians,
# best settings and ratios are worked out here by hand: each tool's fastest
# setting is marked best, nabla's default is compared with each peer's best,
# a figure measured while a CPU was busy is flagged, the targets' verdicts
# follow the figures, and inference marks the best setting per metric.
# Usage: bench_report.sh BUILD_DIR SOURCE_DIR
set -eu
src=$2
python=/usr/bin/python3
[ -x "$python" ] || { echo "FAIL: $python is missing (bash scripts/deps.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Three repetitions of every setting. Training (a), s/epoch by repetition:
#   nabla default 0.30 0.26 0.28 -> median 0.28; --threads 1 0.31 0.29 0.33 -> 0.31
#   kann default 0.50 0.46 0.40 -> 0.46; kann_mt(2) 0.36 0.35 0.37 -> 0.36 (best)
#   torch default 0.90 (busy in rep 2); torch 1 thread 0.60 -> best
#   gemm 1 thread 0.27, split 0.25 -> GEMM-bound 0.25 (split)
# so KANN's best / nabla's default = 0.36/0.28 = 1.29 (>= 1.15: yes),
# PyTorch's best / nabla's default = 0.60/0.28 = 2.14 (>= 2: yes),
# nabla's default / GEMM-bound = 0.28/0.25 = 1.12 (<= 1.2: yes),
# nabla's default / --threads 1 = 0.28/0.31 = 0.90 (<= 1.02: yes), 0.28 <= 0.30: yes.
"$python" - "$tmp/results.jsonl" <<'PY'
import json, sys
rows = [dict(tool="machine", nproc=2, cpu="Test CPU", kernel="k", load_average=0.1,
             openblas="0.3", torch="1.0", numpy="1.0", kann="r557", kann_commit="abc",
             nabla_commit="def", date="2000-01-01T00:00:00+00:00", quick="0")]
train = {("nabla", "default"): [0.30, 0.26, 0.28], ("nabla", "--threads 1"): [0.31, 0.29, 0.33],
         ("kann", "default (no kann_mt)"): [0.50, 0.46, 0.40],
         ("kann", "kann_mt(2), OPENBLAS_NUM_THREADS=1"): [0.36, 0.35, 0.37],
         ("torch", "default"): [0.90, 0.90, 0.90],
         ("torch", "set_num_threads(1), OPENBLAS_NUM_THREADS=1"): [0.60, 0.60, 0.60]}
for rep in range(3):
    for (tool, setting), times in train.items():
        busy = 0.9 if (tool, setting, rep) == ("torch", "default", 1) else 0.0
        rows.append(dict(tool=tool, setting=setting, mode="train", name="a", rep=rep + 1,
                         hidden="100", epoch_median_s=times[rep], test_accuracy=0.85,
                         rss_mb=200.0, busy_cpus=busy, threads=2))
    for setting, t in (("1 thread", 0.27), ("split over 2 cores, 1 thread each", 0.25)):
        rows.append(dict(tool="gemm", setting=setting, mode="train", name="a", rep=rep + 1,
                         epoch_s=t, busy_cpus=0.0))
    # inference: nabla default 10 us / 100000 sps; torch 1 thread 50 us / 40000 sps,
    # torch default 80 us / 60000 sps -> latency 10/50 = 0.20, throughput 100000/60000 = 1.67
    for tool, setting, lat, thr in (("nabla", "default", 10.0, 100000.0),
                                    ("torch", "set_num_threads(1), OPENBLAS_NUM_THREADS=1",
                                     50.0, 40000.0),
                                    ("torch", "default", 80.0, 60000.0)):
        rows.append(dict(tool=tool, setting=setting, mode="infer", name="c", rep=rep + 1,
                         latency_us=lat, throughput_sps=thr, rss_mb=100.0, busy_cpus=0.0))
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
"$python" "$src/bench/report.py" "$tmp/results.jsonl" >"$tmp/report.md"

expect() { # a line the report must contain, exactly
    grep -qxF -- "$1" "$tmp/report.md" || {
        echo "FAIL: the report lacks the line: $1" >&2
        cat "$tmp/report.md" >&2
        exit 1
    }
}
expect '| nabla | `default` **best** | 2 | 0.280 (0.260–0.300) | 0.8500 (0.8500–0.8500) | 200.0 (200.0–200.0) | 1.00 |'
expect '| nabla | `--threads 1` | 2 | 0.310 (0.290–0.330) | 0.8500 (0.8500–0.8500) | 200.0 (200.0–200.0) | 0.90 |'
expect '| KANN | `kann_mt(2), OPENBLAS_NUM_THREADS=1` **best** | 2 | 0.360 (0.350–0.370) | 0.8500 (0.8500–0.8500) | 200.0 (200.0–200.0) | 0.78 |'
expect '| PyTorch | `default` | 2 | 0.900 (0.900–0.900) † | 0.8500 (0.8500–0.8500) † | 200.0 (200.0–200.0) † | 0.31 |'
expect '| KANN, best | 0.360 (`kann_mt(2), OPENBLAS_NUM_THREADS=1`) | — |'
expect '| PyTorch, best | 0.600 (`set_num_threads(1), OPENBLAS_NUM_THREADS=1`) | — |'
expect "| KANN's best ÷ nabla's default | 1.29 | — |"
expect "| PyTorch's best ÷ nabla's default | 2.14 | — |"
expect "| nabla's default ÷ GEMM-bound (the fastest sgemm setting) | 1.12 | — |"
expect '| (a) nabla'"'"'s default ÷ its fastest other setting (`--threads 1`) ≤ 1.02 | 0.90 | yes |'
expect "| (a) nabla's default, s/epoch ≤ 0.3 (the 2-core build machine's goal) | 0.28 | yes |"
expect "| (a) KANN's best ÷ nabla's default ≥ 1.15 | 1.29 | yes |"
expect "| (a) PyTorch's best ÷ nabla's default ≥ 2 | 2.14 | yes |"
expect '| (a) nabla'"'"'s default ÷ GEMM-bound (`split over 2 cores, 1 thread each`) ≤ 1.2 | 1.12 | yes |'
expect "| (b) KANN's best ÷ nabla's default ≥ 1.25 | — | not measured |"
expect '| PyTorch | `set_num_threads(1), OPENBLAS_NUM_THREADS=1` | — | 50.0 (50.0–50.0) **best** | 40000 (40000–40000) | 100.0 (100.0–100.0) |'
expect '| PyTorch | `default` | — | 80.0 (80.0–80.0) | 60000 (60000–60000) **best** | 100.0 (100.0–100.0) |'
expect '| PyTorch (latency `set_num_threads(1), OPENBLAS_NUM_THREADS=1`, throughput `default`) | 0.20 | 1.67 |'
grep -q '^- \*\*warning: the machine was busy' "$tmp/report.md" ||
    { echo "FAIL: no warning for the busy repetition" >&2; exit 1; }

# Without a busy figure, no warning and no flag.
sed 's/"busy_cpus": 0.9/"busy_cpus": 0.1/' "$tmp/results.jsonl" >"$tmp/idle.jsonl"
"$python" "$src/bench/report.py" "$tmp/idle.jsonl" >"$tmp/idle.md"
if grep -q '†\|warning' "$tmp/idle.md"; then
    echo "FAIL: an idle run's report flags a figure" >&2
    exit 1
fi
echo "bench_report: ok"
