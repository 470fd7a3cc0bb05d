#!/bin/bash
# The benchmark's idle check (bench/idle.sh, used by bench/run.sh): busy
# CPUs from two /proc/stat lines worked out by hand, and bench/run.sh
# refusing to start on a made-up /proc whose load average is 0.8 (before it
# needs the data set, Python's packages or a build).
# Usage: bench_idle.sh BUILD_DIR SOURCE_DIR
set -eu
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$src/bench/idle.sh"

check() { # what, got, expected
    [ "$2" = "$3" ] || { echo "FAIL: $1: got '$2', expected '$3'" >&2; exit 1; }
}
# 2 CPUs; in between: user +100, system +50, steal +100, idle +100, iowait +50:
# 250 busy of 400 jiffies -> 2 * 250 / 400 = 1.25 CPUs.
check "busy CPUs" "$(busy_between "cpu  100 0 50 1000 10 0 0 0 0 0" \
    "cpu  200 0 100 1100 60 0 0 100 0 0" 2)" 1.25
# Nothing but idle and iowait: 0.
check "idle CPUs" "$(busy_between "cpu  5 5 5 5 5 5 5 5 0 0" "cpu  5 5 5 90 15 5 5 5 0 0" 2)" 0.00
is_busy 0.50 || { echo "FAIL: 0.50 CPUs is busy" >&2; exit 1; }
if is_busy 0.49; then echo "FAIL: 0.49 CPUs is not busy" >&2; exit 1; fi

mkdir "$tmp/proc"
echo "0.80 0.50 0.20 1/100 1234" >"$tmp/proc/loadavg"
check "load average" "$(BENCH_PROC=$tmp/proc load_average)" 0.80
status=0
BENCH_PROC=$tmp/proc BENCH_ALLOW_BUSY=0 bash "$src/bench/run.sh" >"$tmp/out" 2>"$tmp/err" ||
    status=$?
check "run.sh's exit status on a busy machine" "$status" 1
grep -q "the machine is busy: 1-minute load average 0.80" "$tmp/err" ||
    { echo "FAIL: run.sh did not say why it refused:" >&2; cat "$tmp/err" >&2; exit 1; }
[ ! -e "$tmp/out" ] || [ ! -s "$tmp/out" ] || { echo "FAIL: run.sh printed a report" >&2; exit 1; }
echo "bench_idle: ok"
