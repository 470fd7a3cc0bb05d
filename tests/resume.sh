#!/bin/bash
# Interrupted training through the nabla command:
#  (a) a run with a checkpoint every 5 batches, killed with SIGKILL after
#      batch 60 (11 saves), resumed with --resume, ends with the same tensors
#      (sha256 of every tensor's bytes) as an uninterrupted run;
#  (b) one SIGINT: exit status 130, the message, a checkpoint, and the
#      printed resume command gives the same tensors and a complete log;
#  (c) two SIGINTs: the second exits at once with 130, without a checkpoint;
#  (d) a full disk: saving the model or a checkpoint fails with a clear
#      error and a non-zero exit, and the previous file is left as it was;
#  (e) after --resume the log holds every epoch once, however old the
#      checkpoint (it is rewritten from the checkpoint's history);
#  (f) a finished resumed run removes its Ctrl-C checkpoint, not an
#      explicit --checkpoint FILE;
#  (g) --checkpoint FILE saves after the last epoch too, and resuming that
#      finished run's checkpoint gives the same model and log;
#  (h) an epoch cut short by --time-limit is in the log and the metadata;
#  (i) a CNN with batch norm and dropout resumed after SIGKILL ends with the
#      same weights and running estimates, and its saved model evaluates as
#      training evaluated it.
# Signals reach the run at a known batch, not at a moment hoped to be
# mid-run: NABLA_TEST_HOLD_AT_BATCH holds it there (see docs/cli.md), so no
# outcome depends on timing or machine load.
# Usage: bash resume.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "${2:?usage: resume.sh BUILD_DIR SOURCE_DIR}" && pwd)
nabla="$build/nabla"
[ -x "$nabla" ] || { echo "no nabla binary in $build"; exit 1; }
work=$(mktemp -d "$build/resume-sh.XXXXXX")
mnt="$work/full"
pid=
cleanup() {
    # A run left held (a failed check) would wait for ever.
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

# The sha256 of each tensor's raw bytes in a safetensors file, by name.
cat > digest.py <<'EOF'
import hashlib, json, struct, sys
with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
for name in sorted(k for k in header if k != "__metadata__"):
    begin, end = header[name]["data_offsets"]
    print(name, header[name]["dtype"], header[name]["shape"],
          hashlib.sha256(body[begin:end]).hexdigest())
EOF
digest() { /usr/bin/python3 digest.py "$1"; }

same_tensors() { # what, file, reference
    if [ -f "$2" ] && [ "$(digest "$2")" = "$(digest "$3")" ] && [ -n "$(digest "$3")" ]; then
        pass "$1: every tensor is bit-identical to the uninterrupted run's"
    else
        fail "$1: the tensors differ from the uninterrupted run's"
        diff <(digest "$3") <(digest "$2" 2>&1) | head -5
    fi
}

# The states waited on below come within milliseconds; the bound only
# turns a hang into a failure.
patience=30000 # checks 10 ms apart: over 5 minutes
alive() { kill -0 "$1" 2>/dev/null; }

# held N OUT ERR ARGS...: train in the background, held after batch N of
# the run (counted as --checkpoint-every Nb counts) until hold-file is
# removed; the pid in $pid.
held() {
    local n=$1 out=$2 err=$3
    shift 3
    rm -f hold-file
    # env: the default action for SIGINT, which a job started with & by a
    # script inherits ignored (and nabla then leaves ignored).
    NABLA_TEST_HOLD_AT_BATCH=$n NABLA_TEST_HOLD_FILE=hold-file env --default-signal=INT \
        "$nabla" train "$@" > "$out" 2> "$err" &
    pid=$!
}
# hold_says TEXT: wait until the held run's hold-file says TEXT; 1 if the
# run ended first (or never got there).
hold_says() {
    for _ in $(seq "$patience"); do
        [ "$(cat hold-file 2>/dev/null)" = "$1" ] && return 0
        alive "$pid" || return 1
        sleep 0.01
    done
    return 1
}
# ended: wait for the run to end, its exit status in $status; 1 (and the
# run killed) if it never does.
ended() {
    for _ in $(seq "$patience"); do
        if ! alive "$pid"; then
            wait "$pid" 2>/dev/null
            status=$?
            pid=
            return 0
        fi
        sleep 0.01
    done
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    status=never
    pid=
    return 1
}
# The position a checkpoint file holds: "epoch E, batch K".
position() {
    /usr/bin/python3 -c '
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
m = json.loads(data[8:8 + n])["__metadata__"]
print("epoch %s, batch %s" % (m["epoch"], m["batch"]))' "$1" 2>&1
}

# 3 epochs of 53 batches of 4; every signal below is sent while the run is
# held after run batch 60 = epoch 2, batch 7.
run=(--data spiral --model dense:128,relu,dense:128,relu,dense:3 --optimizer momentum
    --lr 0.01 --batch 4 --epochs 3 --seed 3 --quiet)
at="epoch 2, batch 7"

if "$nabla" train "${run[@]}" --out ref.st > ref.out 2> ref.err; then
    pass "uninterrupted reference run"
else
    fail "uninterrupted reference run: $(cat ref.err)"
fi

# ------------------------------------------------ (a) SIGKILL, --resume
held 60 a.out a.err "${run[@]}" --checkpoint ck --checkpoint-every 5b --out a.st
if hold_says "held at $at"; then
    # Saved after run batches 5, 10, ..., 55: the last is epoch 2, batch 2.
    kill -KILL "$pid"
    ended
    if [ "$status" = 137 ] && [ ! -f a.st ] && [ "$(position ck)" = "epoch 2, batch 2" ]; then
        pass "SIGKILL after run batch 60 (status 137, no model, the checkpoint of run batch 55)"
    else
        fail "SIGKILL: status $status, model $( [ -f a.st ] && echo written || echo absent ), checkpoint at '$(position ck)'"
    fi
    if "$nabla" train "${run[@]}" --out a.st --resume ck > a2.out 2> a2.err; then
        pass "resume after SIGKILL"
    else
        fail "resume after SIGKILL: $(cat a2.err)"
    fi
    same_tensors "SIGKILL + --resume" a.st ref.st
    # Another shard count trains other weights: refused, naming the one to
    # give (batches of 4 run in one piece by default).
    "$nabla" train "${run[@]}" --shards 4 --out a4.st --resume ck > a4.out 2> a4.err
    status=$?
    if [ "$status" = 4 ] && [ ! -e a4.st ] && grep -q "split into 1 shard, this run splits them into 4.*resume with --shards 1" a4.err; then
        pass "resume with another --shards is refused (exit 4)"
    else
        fail "resume with another --shards: status $status, $(cat a4.err)"
    fi
else
    ended
    fail "the run with checkpoints did not reach run batch 60: status $status, $(tail -2 a.err)"
fi

# --------------------------------------------------- (b) one SIGINT
held 60 b.out b.err "${run[@]}" --out b.st --log b.jsonl
msg=
if hold_says "held at $at"; then
    kill -INT "$pid"
    # The handler has run: let the run go on to act on it.
    hold_says "interrupted at $at" && rm hold-file
    ended
    msg=$(grep "interrupted at epoch" b.err)
    if [ "$status" = 130 ]; then
        pass "one SIGINT: exit status 130"
    else
        fail "one SIGINT: exit status $status, expected 130: $(tail -2 b.err)"
    fi
else
    ended
    fail "one SIGINT: the run did not reach run batch 60: status $status, $(tail -2 b.err)"
fi
want="nabla train: interrupted at $at; checkpoint written to b.st.ckpt; resume with: nabla train --resume b.st.ckpt "
if [ "${msg:0:${#want}}" = "$want" ] && [ "$(position b.st.ckpt)" = "epoch 2, batch 7" ] &&
    [ ! -f b.st ]; then
    pass "one SIGINT: '$msg'"
else
    fail "one SIGINT: message '$msg', checkpoint at '$(position b.st.ckpt)'"
fi
# Run the printed command, with this build's binary.
resume_cmd=${msg#*resume with: nabla }
if [ "$resume_cmd" != "$msg" ] && eval "\"\$nabla\" $resume_cmd" > b2.out 2> b2.err; then
    pass "the printed resume command ran"
else
    fail "the printed resume command '$resume_cmd': $(cat b2.err 2>/dev/null)"
fi
same_tensors "SIGINT + the printed resume command" b.st ref.st
epochs=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["epoch"]) for l in open(sys.argv[1])))' b.jsonl 2>&1)
if [ "$epochs" = "1 2 3" ]; then
    pass "the log holds epochs 1..3 once each across both runs"
else
    fail "the log's epochs: ${epochs:0:200}"
fi

# --------------------------------------------------- (c) two SIGINTs
# The second Ctrl-C comes while the first has not yet been acted on (the
# run stays held): it must end the program at once, without a checkpoint.
held 60 c.out c.err "${run[@]}" --out c.st
if hold_says "held at $at" && kill -INT "$pid" && hold_says "interrupted at $at"; then
    kill -INT "$pid"
    ended
    if [ "$status" = 130 ] && grep -q "interrupted again" c.err && [ ! -f c.st ] &&
        [ ! -f c.st.ckpt ] && ! grep -q "checkpoint written" c.err; then
        pass "two SIGINTs: exit 130, '$(grep -o 'interrupted again[^;]*' c.err)', no checkpoint"
    else
        fail "two SIGINTs: status $status: $(tail -c 300 c.err)"
    fi
else
    ended
    fail "two SIGINTs: the run did not reach run batch 60 or ended at the first: status $status, $(tail -c 300 c.err)"
fi

# ------------------------------------------- (e) the log after --resume
# The log is rewritten from the checkpoint's history, so it holds every
# epoch once however old the checkpoint: killed in epoch 4 after epoch 3 was
# logged, with a checkpoint of epoch 2 (every 2 epochs) or of epoch 3, batch
# 6 (every 10 batches); a regression run with a validation part (its MAE,
# RMSE and R^2 restored); a finished run's last checkpoint (every batch).
# Spiral: 6 epochs of 7 batches, run batch 23 = epoch 4, batch 2; sine
# (with its validation part): 5 batches, run batch 17.
cat > logcmp.py <<'EOF'
import json, sys
def lines(path):
    out = []
    for line in open(path):
        d = json.loads(line)  # every line valid JSON (no NaN)
        d.pop("seconds")
        out.append(d)
    return out
got, want = lines(sys.argv[1]), lines(sys.argv[2])
if got != want:
    print("epochs %s, expected %s; first difference: %s" % (
        [d.get("epoch") for d in got], [d["epoch"] for d in want],
        next(([g, w] for g, w in zip(got, want) if g != w), "in length")))
    sys.exit(1)
EOF
logcmp() { /usr/bin/python3 logcmp.py "$1" "$2" 2>&1; }
spiral=(--data spiral --model dense:16,relu,dense:3 --lr 0.1 --batch 30 --epochs 6 --seed 2)
sine=(--data sine --model dense:16,tanh,dense:1 --lr 0.05 --batch 30 --epochs 6 --seed 2 --val 0.2)
"$nabla" train "${spiral[@]}" --quiet --log ref-spiral.jsonl --out ref-spiral.st > /dev/null 2> e0.err ||
    fail "log reference run (spiral): $(cat e0.err)"
"$nabla" train "${sine[@]}" --quiet --log ref-sine.jsonl > /dev/null 2> e0.err ||
    fail "log reference run (sine): $(cat e0.err)"
# killed_resume NAME EVERY POSITION SET: held at epoch 4, batch 2 with a
# checkpoint every EVERY, killed there (the log holds epochs 1..3), resumed
# with the same --log; the log must equal the reference's but for seconds.
killed_resume() {
    local name=$1 every=$2 want_pos=$3 set=$4 args before pos diff
    local at=23
    if [ "$set" = sine ]; then args=("${sine[@]}" --quiet) at=17; else args=("${spiral[@]}" --quiet); fi
    held "$at" "$name.out" "$name.err" "${args[@]}" --checkpoint "$name.ck" \
        --checkpoint-every "$every" --log "$name.jsonl"
    if ! hold_says "held at epoch 4, batch 2"; then
        ended
        fail "$name: the run did not reach run batch $at: status $status, $(tail -2 "$name.err")"
        return
    fi
    kill -KILL "$pid"
    ended
    before=$(cut -c1-11 "$name.jsonl" | tr '\n' ' ')
    pos=$(position "$name.ck")
    if [ "$before" != '{"epoch":1, {"epoch":2, {"epoch":3, ' ] || [ "$pos" != "$want_pos" ]; then
        fail "$name: killed with the log holding '$before' and the checkpoint at '$pos', expected epochs 1..3 and '$want_pos'"
        return
    fi
    if ! "$nabla" train "${args[@]}" --checkpoint "$name.ck" --checkpoint-every "$every" \
        --log "$name.jsonl" --resume "$name.ck" > "$name.2.out" 2> "$name.2.err"; then
        fail "$name: resume: $(cat "$name.2.err")"
        return
    fi
    if diff=$(logcmp "$name.jsonl" "ref-$set.jsonl"); then
        pass "$name: checkpoint at $want_pos, log 1..3, killed; after --resume the log holds epochs 1..6 once each, equal to the uninterrupted run's but for seconds"
    else
        fail "$name: the log after --resume: $diff"
    fi
}
killed_resume every-2-epochs 2 "epoch 3, batch 0" spiral
killed_resume every-10-batches 10b "epoch 3, batch 6" spiral
killed_resume regression 2 "epoch 3, batch 0" sine

# A finished run's last checkpoint (saved after its last batch), resumed.
if "$nabla" train "${spiral[@]}" --quiet --checkpoint fin.ck --checkpoint-every 1b \
    --log fin.jsonl > /dev/null 2> fin.err && [ "$(position fin.ck)" = "epoch 6, batch 7" ] &&
    "$nabla" train "${spiral[@]}" --quiet --checkpoint fin.ck --log fin.jsonl --resume fin.ck \
        > /dev/null 2> fin2.err; then
    if diff=$(logcmp fin.jsonl ref-spiral.jsonl); then
        pass "a finished run's last checkpoint resumed: the log holds epochs 1..6 once each"
    else
        fail "a finished run's last checkpoint resumed: the log: $diff"
    fi
else
    fail "a finished run's last checkpoint: position '$(position fin.ck)', $(cat fin.err fin2.err 2>/dev/null)"
fi

# A refused checkpoint (another optimizer) leaves the log as it was.
cp fin.jsonl refused.jsonl
"$nabla" train "${spiral[@]}" --quiet --optimizer adam --log refused.jsonl --resume fin.ck \
    > /dev/null 2> refused.err
status=$?
if [ "$status" = 4 ] && cmp -s fin.jsonl refused.jsonl; then
    pass "a refused checkpoint (exit 4) leaves the log untouched"
else
    fail "a refused checkpoint: exit $status, log $(cmp fin.jsonl refused.jsonl 2>&1): $(cat refused.err)"
fi

# ---------------------------------- (f) the Ctrl-C checkpoint is removed
# Once a run resumed from its Ctrl-C checkpoint (<--out>.ckpt) finishes and
# its model is saved, that checkpoint is removed and the last line says so;
# an explicit --checkpoint FILE is kept.
ctrl_c() { # NAME ARGS...: Ctrl-C at run batch 23, then the printed command
    local name=$1 m
    shift
    held 23 "$name.out" "$name.err" "${spiral[@]}" "$@"
    if hold_says "held at epoch 4, batch 2"; then
        kill -INT "$pid"
        hold_says "interrupted at epoch 4, batch 2" && rm hold-file
    fi
    ended
    m=$(grep -o "resume with: nabla .*" "$name.err")
    m=${m#resume with: nabla }
    [ "$status" = 130 ] && [ -n "$m" ] && eval "\"\$nabla\" $m" > "$name.2.out" 2> "$name.2.err"
}
if ctrl_c implicit --out f.st && [ -f f.st ] && [ ! -e f.st.ckpt ] &&
    [ "$(tail -1 implicit.2.err)" = "the run is finished: removed the Ctrl-C checkpoint f.st.ckpt" ]; then
    pass "Ctrl-C, resumed, finished: f.st saved, f.st.ckpt removed: '$(tail -1 implicit.2.err)'"
else
    fail "Ctrl-C, resumed, finished: status $status, model $(ls f.st 2>&1), checkpoint $(ls f.st.ckpt 2>&1), $(tail -3 implicit.2.err 2>/dev/null)"
fi
if ctrl_c explicit --out g.st --checkpoint g.ck && [ -f g.st ] && [ -f g.ck ] &&
    ! grep -q "removed" explicit.2.err; then
    pass "Ctrl-C with --checkpoint g.ck, resumed, finished: g.ck is kept"
else
    fail "Ctrl-C with --checkpoint g.ck: status $status, checkpoint $(ls g.ck 2>&1), $(tail -3 explicit.2.err 2>/dev/null)"
fi
# (a) resumed from --checkpoint ck without naming it again: ck is kept.
if [ -f ck ]; then
    pass "(a): a checkpoint resumed from that is not the Ctrl-C one is kept"
else
    fail "(a): ck was removed"
fi

# ------------------------------- (g) the checkpoint after the last epoch
# Per-epoch checkpoints (the default every 1) include the last epoch: the
# file says epoch 7, batch 0 (all 6 done, in its history), and resuming it
# runs nothing more: the same model and a log of epochs 1..6.
if "$nabla" train "${spiral[@]}" --quiet --checkpoint last.ck --log last.jsonl --out last.st \
    > /dev/null 2> last.err && [ "$(position last.ck)" = "epoch 7, batch 0" ] &&
    "$nabla" train "${spiral[@]}" --quiet --checkpoint last.ck --log last.jsonl --out last2.st \
        --resume last.ck > /dev/null 2> last2.err; then
    same_tensors "--checkpoint (every epoch), the run's final checkpoint resumed" last2.st ref-spiral.st
    if diff=$(logcmp last.jsonl ref-spiral.jsonl); then
        pass "the final per-epoch checkpoint resumed: the log holds epochs 1..6 once each"
    else
        fail "the final per-epoch checkpoint resumed: the log: $diff"
    fi
else
    fail "the final per-epoch checkpoint: position '$(position last.ck)', $(cat last.err last2.err 2>/dev/null)"
fi
# One epoch leaves a checkpoint; every 4 of 6 epochs leaves the one of epoch 4.
"$nabla" train --data spiral --model dense:16,relu,dense:3 --epochs 1 --quiet --checkpoint one.ck \
    > /dev/null 2> one.err
"$nabla" train "${spiral[@]}" --quiet --checkpoint four.ck --checkpoint-every 4 \
    > /dev/null 2> four.err
if [ "$(position one.ck)" = "epoch 2, batch 0" ] && [ "$(position four.ck)" = "epoch 5, batch 0" ]; then
    pass "--epochs 1 --checkpoint one.ck saves one.ck; every 4 of 6 epochs keeps epoch 4's"
else
    fail "final checkpoints: '$(position one.ck)', '$(position four.ck)', expected 'epoch 2, batch 0' and 'epoch 5, batch 0': $(cat one.err four.err)"
fi

# --------------------------------------- (h) an epoch cut by --time-limit
# A limit of 1e-9 s has always passed after the first batch: the run stops
# there, and that epoch is logged and counted like any other.
"$nabla" train "${spiral[@]}" --quiet --time-limit 1e-9 --log tl.jsonl --out tl.st \
    > /dev/null 2> tl.err
run_info=$("$nabla" info tl.st --json 2> tl-info.err | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["training"]
print(t["epochs_run"], t["stop_reason"])' 2>&1)
if [ "$(cut -c1-11 tl.jsonl 2>/dev/null)" = '{"epoch":1,' ] && [ "$run_info" = "1 time limit" ]; then
    pass "--time-limit 1e-9: the log holds the cut epoch 1, info says epochs_run 1 (time limit)"
else
    fail "--time-limit 1e-9: log '$(cat tl.jsonl 2>/dev/null)', info '$run_info', $(cat tl.err tl-info.err)"
fi

# ------------------- (i) a CNN with batch norm and dropout, SIGKILL, --resume
# Its running estimates (buffers) and the dropout masks' draw count must
# come back too: the resumed run ends with the same weights and estimates.
/usr/bin/python3 "$src/tests/lib/idx.py" img train 24 8 8 3 --seed 4
/usr/bin/python3 "$src/tests/lib/idx.py" img t10k 12 8 8 3 --seed 4
cnn=(--data img --model conv:4:3,batchnorm,relu,maxpool:2,dropout:0.25,dense:3 --optimizer adam
    --lr 0.01 --batch 4 --epochs 3 --seed 5 --quiet)
if "$nabla" train "${cnn[@]}" --out cnn-ref.st > cnn-ref.out 2> cnn-ref.err; then
    pass "uninterrupted CNN run"
else
    fail "uninterrupted CNN run: $(cat cnn-ref.err)"
fi
if digest cnn-ref.st | grep -q "^batchnorm0.running_var " && digest cnn-ref.st | grep -q "^conv0.weight "; then
    pass "the CNN's file holds its weights and running estimates"
else
    fail "the CNN's file lacks conv0.weight or batchnorm0.running_var: $(digest cnn-ref.st | cut -c1-60)"
fi
# 6 batches per epoch; held after run batch 10 (epoch 2, batch 4), saved
# after run batch 9 (epoch 2, batch 3).
held 10 i.out i.err "${cnn[@]}" --checkpoint cnn-ck --checkpoint-every 3b --out cnn.st
if hold_says "held at epoch 2, batch 4"; then
    kill -KILL "$pid"
    ended
    if [ "$status" = 137 ] && [ "$(position cnn-ck)" = "epoch 2, batch 3" ]; then
        pass "CNN: SIGKILL after run batch 10, the checkpoint of run batch 9"
    else
        fail "CNN SIGKILL: status $status, checkpoint at '$(position cnn-ck)'"
    fi
    if "$nabla" train "${cnn[@]}" --out cnn.st --resume cnn-ck > i2.out 2> i2.err; then
        pass "CNN resume after SIGKILL"
    else
        fail "CNN resume after SIGKILL: $(cat i2.err)"
    fi
    same_tensors "CNN SIGKILL + --resume" cnn.st cnn-ref.st
else
    ended
    fail "the CNN run did not reach run batch 10: status $status, $(tail -2 i.err)"
fi
# info counts the running estimates apart from the trained parameters:
# conv 4x1x3x3 + 4, gamma and beta 4 + 4, dense (4x4x4) x 3 + 3 = 243; 8 in
# buffers.
"$nabla" info cnn-ref.st --json > info.json 2>&1
if /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["parameters"] == 36 + 4 + 8 + 64 * 3 + 3 and o["buffer_values"] == 8, o
kinds = {t["name"]: t["kind"] for t in o["tensors"]}
assert kinds["batchnorm0.running_mean"] == "buffer" and kinds["conv0.weight"] == "param", kinds
' info.json && "$nabla" info cnn-ref.st | grep -Eq "^  batchnorm0.running_var +\[4\] +4 +buffer$"; then
    pass "CNN info: 243 parameters, 8 buffer values, buffers marked"
else
    fail "CNN info: $(head -c 300 info.json)"
fi
# The loaded model evaluates as the trained one did (evaluation mode: no
# dropout, the running estimates), and twice alike.
want=$(grep -o "loss [0-9.e+-]*, accuracy [0-9.]*%" cnn-ref.out)
"$nabla" eval cnn-ref.st --data img > e1.out 2>&1
"$nabla" eval cnn-ref.st --data img > e2.out 2>&1
got=$(grep -o "loss [0-9.e+-]*, accuracy [0-9.]*%" e1.out)
if [ -n "$want" ] && [ "$got" = "$want" ] && cmp -s e1.out e2.out; then
    pass "CNN eval of the saved model: '$got', as training printed, and the same twice"
else
    fail "CNN eval: '$got' (twice alike: $(cmp -s e1.out e2.out && echo yes || echo no)), training printed '$want'"
fi

# ------------------------------------------------------ (d) full disk
mkdir -p "$mnt"
if mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null; then
    how="a 64 KiB tmpfs"
    full=(env)
    target=$mnt
else
    # No mount here: the file size limit (ulimit -f, SIGXFSZ ignored) makes
    # writes past 64 KiB fail with EFBIG, as a full disk fails them.
    how="ulimit -f 64 (no tmpfs mount allowed)"
    full=(bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' limit)
    target=$work
fi
echo "full disk: $how"
small=(--data spiral --model dense:8,relu,dense:3 --epochs 2 --quiet)
large=(--data spiral --model dense:1024,relu,dense:256,relu,dense:3 --epochs 1 --quiet)
if "${full[@]}" "$nabla" train "${small[@]}" --out "$target/m.st" > d0.out 2> d0.err; then
    cp "$target/m.st" m-before.st
    "${full[@]}" "$nabla" train "${large[@]}" --out "$target/m.st" > d1.out 2> d1.err
    status=$?
    if [ "$status" -eq 5 ] && grep -Eq "saving model .*(No space left on device|File too large)" d1.err &&
        cmp -s "$target/m.st" m-before.st && [ -z "$(ls "$target" | grep '\.tmp\.')" ]; then
        pass "model on a full disk ($how): exit 5, '$(head -c 160 d1.err)', the previous model intact, no temporary file"
    else
        fail "model on a full disk: exit $status, $(cat d1.err)"
    fi
    cp "$target/m.st" "$target/ck"
    cp "$target/ck" ck-before
    "${full[@]}" "$nabla" train "${large[@]}" --checkpoint "$target/ck" --checkpoint-every 1b > d2.out 2> d2.err
    status=$?
    if [ "$status" -eq 5 ] && grep -Eq "checkpoint .*(No space left on device|File too large)" d2.err &&
        cmp -s "$target/ck" ck-before && [ -z "$(ls "$target" | grep '\.tmp\.')" ]; then
        pass "checkpoint on a full disk ($how): exit 5, '$(head -c 160 d2.err)', the previous file intact"
    else
        fail "checkpoint on a full disk: exit $status, $(cat d2.err)"
    fi
else
    fail "a small model on $how: $(cat d0.err)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
