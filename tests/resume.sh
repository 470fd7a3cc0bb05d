#!/bin/bash
# Interrupted training through the nabla command:
#  (a) a run with a checkpoint every 5 batches, killed with SIGKILL after
#      at least two saves, resumed with --resume, ends with the same tensors
#      (sha256 of every tensor's bytes) as an uninterrupted run;
#  (b) one SIGINT: exit status 130, the message, a checkpoint, and the
#      printed resume command gives the same tensors and a complete log;
#  (c) two SIGINTs: the second exits at once with 130;
#  (d) a full disk: saving the model or a checkpoint fails with a clear
#      error and a non-zero exit, and the previous file is left as it was.
# Usage: bash resume.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
nabla="$build/nabla"
[ -x "$nabla" ] || { echo "no nabla binary in $build"; exit 1; }
work=$(mktemp -d "$build/resume-sh.XXXXXX")
mnt="$work/full"
cleanup() {
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

# Wait (up to 60 s) until a command succeeds; 1 if it never did.
wait_for() {
    for _ in $(seq 6000); do
        "$@" && return 0
        sleep 0.01
    done
    return 1
}
alive() { kill -0 "$1" 2>/dev/null; }
log_has_lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }

# 300 epochs of 53 batches of 4: a few seconds, so that signals find it
# training.
run=(--data spiral --model dense:128,relu,dense:128,relu,dense:3 --optimizer momentum
    --lr 0.01 --batch 4 --epochs 300 --seed 3 --quiet)

if "$nabla" train "${run[@]}" --out ref.st > ref.out 2> ref.err; then
    pass "uninterrupted reference run"
else
    fail "uninterrupted reference run: $(cat ref.err)"
fi

# ------------------------------------------------ (a) SIGKILL, --resume
"$nabla" train "${run[@]}" --checkpoint ck --checkpoint-every 5b --out a.st > a.out 2> a.err &
pid=$!
# Two saves: the file exists, then is replaced by a newer one (inode numbers
# can be reused, so the nanosecond modification time tells them apart).
stamp() { stat -c '%i %y' ck 2>/dev/null; }
if wait_for test -f ck; then
    first=$(stamp)
    wait_for test "$(stamp)" != "$first"
fi
if alive "$pid"; then
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    status=$?
    if [ "$status" -eq 137 ] && [ ! -f a.st ] && [ -f ck ]; then
        pass "SIGKILL during training after two checkpoints (status 137, no model written)"
    else
        fail "SIGKILL: status $status, model $( [ -f a.st ] && echo written || echo absent )"
    fi
    if "$nabla" train "${run[@]}" --out a.st --resume ck > a2.out 2> a2.err; then
        pass "resume after SIGKILL"
    else
        fail "resume after SIGKILL: $(cat a2.err)"
    fi
    same_tensors "SIGKILL + --resume" a.st ref.st
else
    fail "the run with checkpoints ended before it could be killed: $(tail -2 a.err)"
fi

# --------------------------------------------------- (b) one SIGINT
"$nabla" train "${run[@]}" --out b.st --log b.jsonl > b.out 2> b.err &
pid=$!
# The log's first line: training has started (and the handler is set).
wait_for log_has_lines b.jsonl 1
kill -INT "$pid"
wait "$pid"
status=$?
msg=$(grep "interrupted at epoch" b.err)
if [ "$status" -eq 130 ]; then
    pass "one SIGINT: exit status 130"
else
    fail "one SIGINT: exit status $status, expected 130: $(tail -2 b.err)"
fi
if [[ "$msg" =~ interrupted\ at\ epoch\ [0-9]+,\ batch\ [0-9]+\;\ checkpoint\ written\ to\ b\.st\.ckpt\;\ resume\ with:\ nabla\ train\ --resume\ b\.st\.ckpt\  ]] &&
    [ -f b.st.ckpt ] && [ ! -f b.st ]; then
    pass "one SIGINT: '$msg'"
else
    fail "one SIGINT: message '$msg', checkpoint $(ls b.st.ckpt 2>&1)"
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
if [ "$epochs" = "$(seq -s ' ' 1 300)" ]; then
    pass "the log holds epochs 1..300 once each across both runs"
else
    fail "the log's epochs: ${epochs:0:200}..."
fi

# --------------------------------------------------- (c) two SIGINTs
# A model of 1.05 million weights with Adam: the checkpoint that the first
# Ctrl-C writes is 12 MB, so the second arrives while it is being written.
big=(--data spiral --model dense:1024,relu,dense:1024,relu,dense:3 --optimizer adam --batch 4
    --epochs 1000 --quiet)
"$nabla" train "${big[@]}" --out c.st --log c.jsonl > c.out 2> c.err &
pid=$!
wait_for log_has_lines c.jsonl 1
kill -INT "$pid"
sleep 0.005
kill -INT "$pid" 2>/dev/null
start=$(date +%s%N)
wait "$pid"
status=$?
took=$((($(date +%s%N) - start) / 1000000))
if [ "$status" -eq 130 ] && grep -q "interrupted again" c.err && [ ! -f c.st ] &&
    [ "$took" -lt 1000 ]; then
    pass "two SIGINTs: exit 130 ${took} ms after the second, '$(grep -o 'interrupted again[^;]*' c.err)'"
else
    fail "two SIGINTs: status $status after $took ms: $(tail -c 300 c.err)"
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
