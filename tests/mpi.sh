#!/bin/bash
# Data-parallel training under mpirun (a -DNABLA_MPI=ON build; docs/mpi.md):
#  (a) an MLP with dropout and a CNN with batch norm and dropout train to
#      the same tensors (sha256 of every tensor's bytes, buffers included)
#      alone with --shards 4, and under mpirun -np 1, 2 and 4;
#  (b) the C example (examples/mpi/mpi_train.c) saves the same model for
#      -np 1, 2 and 4;
#  (c) Ctrl-C on rank 1 while rank 0 is held at batch 5: every process
#      stops after that batch, exit 130, rank 0 writes the checkpoint, and
#      --resume under mpirun ends with the uninterrupted run's tensors;
#  (d) a rank killed (SIGKILL) mid-run ends the job with a non-zero status
#      and no model (timeout is only a failsafe: the outcome waits on
#      mpirun, not on a clock);
#  (e) a process count that does not divide the shards is refused, naming
#      both.
# Signals reach the run at a known batch: NABLA_TEST_HOLD_AT_BATCH holds
# rank 0 there (docs/cli.md), so no outcome depends on timing.
# Usage: bash mpi.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "${2:?usage: mpi.sh BUILD_DIR SOURCE_DIR}" && pwd)
nabla="$build/nabla"
[ -x "$nabla" ] || { echo "no nabla binary in $build"; exit 1; }
command -v mpirun > /dev/null || { echo "FAIL: mpirun is not installed (scripts/deps.sh)"; exit 1; }
work=$(mktemp -d "$build/mpi-sh.XXXXXX")
job=
cleanup() {
    [ -n "$job" ] && kill -KILL "$job" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1
# Root in a container, shared memory without single-copy support.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { local np=$1; shift; timeout 300 mpirun --oversubscribe -np "$np" "$@"; }

passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

# The sha256 over every tensor's name and raw bytes in a safetensors file.
cat > digest.py <<'PY'
import hashlib, json, struct, sys
with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
h = hashlib.sha256()
for name in sorted(k for k in header if k != "__metadata__"):
    begin, end = header[name]["data_offsets"]
    h.update(name.encode() + b"\0" + body[begin:end])
print(h.hexdigest())
PY
digest() { /usr/bin/python3 digest.py "$1" 2>/dev/null || echo "no model $1"; }

# The pid of rank $2 among the descendants of $1 (the subshell, timeout,
# mpirun, the ranks).
rank_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$p"
            return
        fi
        rank_pid "$p" "$2"
    done
}
wait_held() {
    while [ ! -s "$1" ] && kill -0 "$job" 2>/dev/null; do sleep 0.05; done
    [ -s "$1" ]
}

# ------------------------------------------------ (a) the same tensors
/usr/bin/python3 "$src/tests/lib/idx.py" img train 50 8 8 3 --seed 4
/usr/bin/python3 "$src/tests/lib/idx.py" img t10k 12 8 8 3 --seed 4
mlp=(--data spiral --model dense:32,relu,dropout:0.2,dense:3 --lr 0.1 --batch 32 --epochs 4
    --seed 2 --threads 1 --quiet)
cnn=(--data img --model conv:4:3,batchnorm,relu,maxpool:2,dropout:0.25,dense:3 --optimizer adam
    --lr 0.01 --batch 12 --epochs 3 --seed 5 --threads 1 --quiet)
for net in mlp cnn; do
    declare -n args=$net
    "$nabla" train "${args[@]}" --shards 4 --out "$net-alone.st" > /dev/null 2> "$net-alone.err" ||
        fail "$net alone: $(cat "$net-alone.err")"
    "$nabla" train "${args[@]}" --shards 1 --out "$net-one.st" > /dev/null 2>&1
    ref=$(digest "$net-alone.st")
    if [ "$ref" != "$(digest "$net-one.st")" ]; then
        pass "$net: --shards 4 trains other weights than --shards 1 (the comparison can fail)"
    else
        fail "$net: --shards 4 and --shards 1 give the same tensors"
    fi
    for np in 1 2 4; do
        mpi "$np" "$nabla" train "${args[@]}" --shards 4 --out "$net-$np.st" > "$net-$np.out" 2> "$net-$np.err"
        rc=$?
        got=$(digest "$net-$np.st")
        if [ $rc -eq 0 ] && [ "$got" = "$ref" ]; then
            pass "$net: -np $np gives the tensors of the single-process run"
        else
            fail "$net: -np $np: status $rc, digest $got, expected $ref; $(cat "$net-$np.err")"
        fi
    done
    unset -n args
done
# Only rank 0 prints the test metrics.
n=$(grep -c '^test:' mlp-4.out)
[ "$n" = 1 ] && pass "-np 4 prints the test metrics once" || fail "-np 4 printed 'test:' $n times"

# ------------------------------------------------------- (b) the example
example="$build/examples/mpi_train"
if [ -x "$example" ]; then
    for np in 1 2 4; do mpi "$np" "$example" "ex-$np.st" > "ex-$np.out" 2>&1; done
    a=$(digest ex-1.st)
    if [ "$a" = "$(digest ex-2.st)" ] && [ "$a" = "$(digest ex-4.st)" ] &&
        [ "$(grep -c '^epoch' ex-4.out)" = 5 ]; then
        pass "examples/mpi/mpi_train.c: the same model for -np 1, 2 and 4, epochs printed once"
    else
        fail "examples/mpi/mpi_train.c: $(cat ex-1.out ex-2.out ex-4.out)"
    fi
else
    fail "no examples/mpi_train in $build"
fi

# ------------------------------ (c) Ctrl-C on rank 1, then --resume
NABLA_TEST_HOLD_AT_BATCH=5 NABLA_TEST_HOLD_FILE=hold \
    mpi 2 "$nabla" train "${mlp[@]}" --shards 4 --out int.st --checkpoint int.ck > int.out 2> int.err &
job=$!
if wait_held hold; then
    r1=$(rank_pid "$job" 1)
    [ -n "$r1" ] && kill -INT "$r1"
    rm -f hold
fi
wait "$job"
rc=$?
job=
if [ $rc -ne 0 ] && [ -s int.ck ] && [ ! -e int.st ] &&
    grep -q "interrupted at epoch 1, batch 5; checkpoint written to int.ck" int.err; then
    pass "Ctrl-C on rank 1: status $rc, stopped after batch 5, rank 0 wrote the checkpoint"
else
    fail "Ctrl-C on rank 1: status $rc, $(ls) $(cat int.err)"
fi
mpi 2 "$nabla" train "${mlp[@]}" --shards 4 --out res.st --checkpoint int.ck --resume int.ck > res.out \
    2> res.err
rc=$?
if [ $rc -eq 0 ] && [ "$(digest res.st)" = "$(digest mlp-alone.st)" ]; then
    pass "--resume under mpirun ends with the uninterrupted run's tensors"
else
    fail "--resume under mpirun: status $rc, $(cat res.err)"
fi

# ------------- (c2) Ctrl-C on mpirun: it sends SIGTERM to every rank
# (then SIGKILL after odls_base_sigkill_timeout seconds: long here, so the
# outcome does not depend on how fast the ranks save).
mpirun_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mpirun ]; then
            echo "$p"
            return
        fi
        mpirun_pid "$p"
    done
}
OMPI_MCA_odls_base_sigkill_timeout=120 NABLA_TEST_HOLD_AT_BATCH=5 NABLA_TEST_HOLD_FILE=hold3 \
    mpi 2 "$nabla" train "${mlp[@]}" --shards 4 --out term.st --checkpoint term.ck > term.out \
    2> term.err &
job=$!
if wait_held hold3; then
    m=$(mpirun_pid "$job")
    [ -n "$m" ] && kill -INT "$m"
    # Rank 0 says in the hold file when its SIGTERM has come; then it may go on.
    while [ -n "$m" ] && kill -0 "$job" 2>/dev/null && ! grep -q interrupted hold3; do
        sleep 0.05
    done
    rm -f hold3
fi
wait "$job"
job=
if [ -s term.ck ] && [ ! -e term.st ] &&
    grep -q "interrupted at epoch 1, batch 5; checkpoint written to term.ck; resume with: mpirun -np 2 " term.err; then
    pass "Ctrl-C on mpirun: the ranks stop after batch 5 and rank 0 writes the checkpoint"
else
    fail "Ctrl-C on mpirun: $(ls) $(cat term.err)"
fi

# ------------------------------------------------- (d) a killed rank
NABLA_TEST_HOLD_AT_BATCH=5 NABLA_TEST_HOLD_FILE=hold2 \
    mpi 4 "$nabla" train "${mlp[@]}" --shards 4 --out killed.st > killed.out 2> killed.err &
job=$!
if wait_held hold2; then
    r2=$(rank_pid "$job" 2)
    [ -n "$r2" ] && kill -KILL "$r2"
    rm -f hold2
fi
wait "$job"
rc=$?
job=
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ ! -e killed.st ]; then
    pass "a rank killed mid-run ends the job with status $rc and no model"
else
    fail "a killed rank: status $rc (124: the failsafe timeout), $(cat killed.err)"
fi

# --------------------------------------------- (e) shards vs processes
mpi 4 "$nabla" train "${mlp[@]}" --shards 2 --out no.st > no.out 2> no.err
rc=$?
if [ $rc -ne 0 ] && grep -q "2 shards cannot be shared by 4 processes" no.err && [ ! -e no.st ]; then
    pass "--shards 2 under -np 4 is refused"
else
    fail "--shards 2 under -np 4: status $rc, $(cat no.err)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
