#!/bin/bash
# Outputs never destroy what they were not asked to replace:
#  (a) an output (--out, --log, --report, --checkpoint, the Ctrl-C
#      checkpoint) that is the same file as an input or another output is
#      refused before any work, with exit 2, naming both options; the file
#      is byte-identical afterwards;
#  (b) the atomic writer: character devices and FIFOs are written directly
#      (never replaced), a symbolic link's target is replaced and the link
#      stays, a folder is refused, setuid/setgid/sticky bits are not copied;
#      the log follows the same rules (/dev/stdout works, even redirected);
#  (c) a model or checkpoint that is a FIFO is refused at once (exit 4);
#  (d) a finished training is never thrown away: names too long for their
#      temporary file and test labels the training part lacks are refused
#      before training; a full disk for --log or --report still saves the
#      model (exit 5); a diverging run saves its last finite weights, marked
#      (exit 1); a failed save names the file once.
# Usage: bash outputs.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
nabla="$build/nabla"
[ -x "$nabla" ] || { echo "FAIL: no nabla binary in $build"; exit 1; }
work=$(mktemp -d "$build/outputs-sh.XXXXXX")
mnt="$work/full"
cleanup() {
    mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

passed=0
failed=0
skipped=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() { # WHAT COMMAND...: pass when the command succeeds
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# run ARGS...: nabla's stdout in out, stderr in err, status in rc. (A hang,
# the fault some cases test for, ends in CTest's per-test limit: no wait
# here depends on the machine's speed.)
run() {
    "$nabla" "$@" > out 2> err
    rc=$?
}
exact() { # WHAT RC TEXT: the exit status and the whole of stderr
    if [ "$rc" -eq "$2" ] && [ "$(cat err)" = "$3" ]; then
        pass "$1: exit $rc, '$(cat err)'"
    else
        fail "$1: exit $rc (expected $2), stderr: $(head -c 400 err), expected: $3"
    fi
}
expect() { # WHAT RC TEXT: the exit status and a text in stderr
    if [ "$rc" -eq "$2" ] && grep -qF -- "$3" err; then
        pass "$1: exit $rc, '$(head -c 200 err)'"
    else
        fail "$1: exit $rc (expected $2), stderr: $(head -c 400 err)"
    fi
}
# No work was done: the data line is printed once the data is loaded.
no_work() { ! grep -q '^data: ' err; }
meta() { # FILE KEY: a "training" setting of a model file
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
meta = json.loads(data[8:8 + n])["__metadata__"]
print(json.loads(meta["training"])[sys.argv[2]])
EOF
}
tensors() { # FILE: every tensor's bytes, hex, by name
    /usr/bin/python3 - "$1" <<'EOF'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
for name in sorted(k for k in header if k != "__metadata__"):
    begin, end = header[name]["data_offsets"]
    print(name, data[8 + n + begin:8 + n + end].hex())
EOF
}
tmp_left() { ls -A "${1:-.}" | grep -q '\.tmp\.'; }

quick=(--data sine --model dense:8,tanh,dense:1 --epochs 2 --seed 1)
printf 'a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n2,1,0\n4,3,1\n6,5,0\n8,7,1\n' > d.csv
cp d.csv d.orig
csv=(--data d.csv --model dense:2 --epochs 1)

# ------------------------------------------- (a) the same file twice
for opt in out log report checkpoint; do
    run train "${csv[@]}" "--$opt" d.csv
    expect "--$opt d.csv with --data d.csv is refused" 2 "--$opt 'd.csv' and --data 'd.csv' are the same file"
    check "--$opt d.csv: the data is byte-identical, no work done" eval 'cmp -s d.csv d.orig && no_work'
done
ln d.csv hard.csv
ln -s d.csv link.csv
run train "${csv[@]}" --out hard.csv
expect "--out through a hard link to the data" 2 "--out 'hard.csv' and --data 'd.csv'"
run train "${csv[@]}" --log ./link.csv
expect "--log through a symbolic link to the data" 2 "--log './link.csv' and --data 'd.csv'"
run train "${csv[@]}" --report "$work/../$(basename "$work")/d.csv"
expect "--report by another path to the data" 2 "and --data 'd.csv' are the same file"
check "the data is byte-identical after every refusal" cmp -s d.csv d.orig

# Every file a data source reads takes part: the four files of an IDX
# folder, plain or .gz (the names not there yet too: a file created there
# would be read next time), Fashion-MNIST's under NABLA_DATA_DIR, standard
# input's file.
/usr/bin/python3 - <<'EOF'
import gzip, os, struct
for folder in ("idxc", "ddir/fashion-mnist"):
    os.makedirs(folder)
    for part, n in (("train", 10), ("t10k", 4)):
        labels = bytes([0, 1] * (n // 2))
        with open(f"{folder}/{part}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 2, 2) + bytes(range(4 * n)))
        with gzip.open(f"{folder}/{part}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + labels)
EOF
idx_files() { find idxc ddir -type f | sort | xargs sha256sum; }
idx_files > idx.sums
idx_same() { # WHAT: the IDX files are byte-identical, and no file was added
    check "$1: the IDX files are byte-identical, no work done" \
        eval '[ "$(idx_files)" = "$(cat idx.sums)" ] && no_work'
}
idx=(--data idxc --model dense:8,relu,dense:2 --epochs 1)
run train "${idx[@]}" --out idxc/train-images-idx3-ubyte --log idxc/t10k-labels-idx1-ubyte.gz
expect "--out an IDX file of --data FOLDER" 2 "--out 'idxc/train-images-idx3-ubyte' and --data 'idxc' (its file 'idxc/train-images-idx3-ubyte') are the same file: the output would replace the input"
expect "an IDX clash is a usage error: the usage line" 2 "usage: nabla train"
idx_same "--out an IDX file"
run train "${idx[@]}" --out m.st --log ./idxc/../idxc/t10k-labels-idx1-ubyte.gz
expect "--log a .gz IDX file of --data FOLDER" 2 "--log './idxc/../idxc/t10k-labels-idx1-ubyte.gz' and --data 'idxc' (its file 'idxc/t10k-labels-idx1-ubyte.gz')"
run train "${idx[@]}" --report idxc/train-labels-idx1-ubyte
expect "--report an IDX name not there yet (the .gz is)" 2 "(its file 'idxc/train-labels-idx1-ubyte')"
run train "${idx[@]}" --checkpoint idxc/t10k-images-idx3-ubyte.gz
expect "--checkpoint an IDX .gz name not there yet" 2 "(its file 'idxc/t10k-images-idx3-ubyte.gz')"
idx_same "IDX names not there yet"
run train "${idx[@]}" --out idxc/train-images-idx3-ubyte.st --log idxc/m.log --quiet
check "other names in an IDX folder are outputs like any ($rc)" [ "$rc" -eq 0 ]
rm -f idxc/train-images-idx3-ubyte.st idxc/m.log
NABLA_DATA_DIR=$work/ddir run train --data fashion-mnist --model dense:8,relu,dense:10 \
    --epochs 1 --out ddir/fashion-mnist/t10k-labels-idx1-ubyte.gz
expect "--out a Fashion-MNIST file under NABLA_DATA_DIR" 2 "--out 'ddir/fashion-mnist/t10k-labels-idx1-ubyte.gz' and --data 'fashion-mnist' (its file '$work/ddir/fashion-mnist/t10k-labels-idx1-ubyte.gz')"
idx_same "--out a Fashion-MNIST file"
"$nabla" train --data - --model dense:2 --epochs 1 --out d.csv < d.csv > out 2> err
rc=$?
expect "--out the file standard input reads (--data -)" 2 "--out 'd.csv' and --data '-' (its file '/dev/stdin') are the same file"
check "--data - < d.csv --out d.csv: the data is byte-identical, no work done" eval 'cmp -s d.csv d.orig && no_work'

run train "${quick[@]}" --out m.st --report ./m.st
expect "--out and --report name one new file" 2 "--out 'm.st' and --report './m.st' are the same file"
run train "${quick[@]}" --out m.st --log m.st.ckpt
expect "--log is the Ctrl-C checkpoint <out>.ckpt" 2 "--log 'm.st.ckpt' and the Ctrl-C checkpoint 'm.st.ckpt'"
run train "${quick[@]}" --log nabla.ckpt
expect "--log is the Ctrl-C checkpoint nabla.ckpt" 2 "the Ctrl-C checkpoint 'nabla.ckpt'"
run train "${quick[@]}" --checkpoint c.ck --report c.ck
expect "--report is the --checkpoint" 2 "--report 'c.ck' and --checkpoint 'c.ck'"
check "no file was created by the refused runs" eval '[ ! -e m.st ] && [ ! -e c.ck ] && [ ! -e m.st.ckpt ]'

# --resume: a checkpoint may be resumed and written again, never replaced by
# another output.
run train "${quick[@]}" --checkpoint ck --quiet
check "a run with a checkpoint" [ "$rc" -eq 0 ]
cp ck ck.orig
for opt in out log report; do
    run train "${quick[@]}" --resume ck "--$opt" ck
    expect "--$opt is the --resume checkpoint" 2 "--$opt 'ck' and --resume 'ck' are the same file"
done
check "the checkpoint is byte-identical" cmp -s ck ck.orig
run train "${quick[@]}" --resume ck --checkpoint ck --quiet
check "--resume FILE --checkpoint FILE (one file) is allowed: the finished run's checkpoint resumes with no step" eval '[ "$rc" -eq 0 ] && cmp -s ck ck.orig'
cp ck m2.st
run train "${quick[@]}" --resume ck --out m2.st --quiet
check "--resume and --out: two files with the same bytes are not one file" [ "$rc" -eq 0 ]

# ------------------------------------------------- (b) the atomic writer
run train "${quick[@]}" --out dir.st/ --quiet
expect "--out into a folder that does not exist" 5 "the folder"
mkdir adir
run train "${quick[@]}" --out adir
expect "--out names a folder" 5 "--out: cannot write \"adir\": it is a folder"
check "a refused folder: no work done" no_work

mkfifo fifo
cat fifo > from-fifo &
reader=$!
# The shell holds the pipe open while nabla runs: the bytes wait in it
# whatever the order, and the reader ends when it is closed (no hang, even
# when a faulty writer replaced the FIFO).
exec 3<>fifo
run train "${quick[@]}" --out fifo --quiet
exec 3>&-
wait "$reader"
run info from-fifo
check "--out FIFO: the model goes through the pipe and the FIFO stays" \
    eval '[ -p fifo ] && grep -q "dense:8,tanh,dense:1" out'

if mknod null c 1 3 2>/dev/null; then
    run train "${quick[@]}" --out null --log null --report null --quiet
    check "--out/--log/--report to a private null device: exit 0, still a device ($rc)" \
        eval '[ "$rc" -eq 0 ] && [ -c null ] && [ "$(stat -c %t,%T null)" = 1,3 ]'
else
    echo "skip: mknod is not allowed here (the device node case)"
    skipped=$((skipped + 1))
fi
# A private full device (never the system's /dev/full: a writer that
# replaced devices would replace it).
if mknod full-dev c 1 7 2>/dev/null; then
    run train "${quick[@]}" --out full-dev --quiet
    exact "--out to a full device: one context, the reason" 5 'nabla train: saving model "full-dev": cannot write: No space left on device'
    check "--out to a full device: still the device" eval '[ -c full-dev ] && [ "$(stat -c %t,%T full-dev)" = 1,7 ]'
else
    echo "skip: mknod is not allowed here (the full device case)"
    skipped=$((skipped + 1))
fi

"$nabla" train "${quick[@]}" --quiet --log /dev/stdout | cat > piped
check "--log /dev/stdout into a pipe: two epoch lines and the metrics" \
    eval '[ "$(grep -c "^{\"epoch\"" piped)" -eq 2 ] && grep -q "^test: " piped'
"$nabla" train "${quick[@]}" --quiet --log /dev/stdout > redirected
check "--log /dev/stdout redirected to a file: log and metrics both kept" \
    eval '[ "$(grep -c "^{\"epoch\":[12]," redirected)" -eq 2 ] && grep -q "^test: " redirected'

echo old > target.st
ln -s target.st sym.st
run train "${quick[@]}" --out sym.st --quiet
check "--out through a symbolic link: the link stays, its target is the model" \
    eval '[ -L sym.st ] && [ "$(readlink sym.st)" = target.st ] && ! grep -q old target.st && ! tmp_left'
ln -s new-target.st dangling.st
run train "${quick[@]}" --out dangling.st --log dlog --quiet
check "--out through a dangling link creates its target" eval '[ -L dangling.st ] && [ -s new-target.st ]'
ln -s log-target logsym
echo old > log-target
run train "${quick[@]}" --log logsym --quiet
check "--log through a symbolic link: the link stays, the target holds the log" \
    eval '[ -L logsym ] && [ "$(grep -c epoch log-target)" -eq 2 ]'

for bits in 6755 1644; do
    echo old > "perm$bits.st"
    chmod "$bits" "perm$bits.st"
    run train "${quick[@]}" --out "perm$bits.st" --quiet
    mode=$(stat -c %a "perm$bits.st")
    check "--out over mode $bits: replaced with mode ${bits#?} ($mode), no setuid/setgid/sticky" \
        [ "$mode" = "${bits#?}" ]
done
echo old > log6755
chmod 6755 log6755
run train "${quick[@]}" --log log6755 --quiet
check "--log over mode 6755: mode 755 ($(stat -c %a log6755))" [ "$(stat -c %a log6755)" = 755 ]
echo keep > linked
ln linked log-hard
run train "${quick[@]}" --log log-hard --quiet
check "--log over a file with another name: the other name keeps its bytes" \
    eval '[ "$(cat linked)" = keep ] && [ "$(grep -c epoch log-hard)" -eq 2 ]'

# ------------------------------------------------- (c) FIFOs as inputs
mkfifo model-fifo
run train "${quick[@]}" --out good.st --quiet
for cmd in "info model-fifo" "eval model-fifo --data sine" "predict model-fifo --input d.csv"; do
    read -ra words <<< "$cmd"
    run "${words[@]}"
    expect "nabla $cmd: refused at once" 4 'model file "model-fifo": it is a FIFO, not a regular file'
done
run train "${quick[@]}" --resume model-fifo --quiet
expect "--resume FIFO: refused at once" 4 'resuming from checkpoint "model-fifo": it is a FIFO, not a regular file'

# ----------------------------------------- (d) the training is kept
long=$(printf 'n%.0s' $(seq 248)).st # 251 bytes: the name fits, its temporary does not
run train "${quick[@]}" --out "$long"
expect "an --out name too long for its temporary file: refused before training" 5 "too long for its temporary file"
check "the long name: no work done" no_work
run train "${quick[@]}" --report "$long"
expect "a --report name too long for its temporary file" 5 "--report: cannot write"
# A path too long as a whole (a deep folder): exit 5 before training, the
# limit named, the path shortened to its first and last 60 bytes. The
# implicit Ctrl-C checkpoint <--out>.ckpt alone too long is only a warning
# (Ctrl-C then ends the run at once), and the run trains and saves.
deep=deep
for _ in $(seq 20); do deep="$deep/$(printf 'a%.0s' $(seq 200))"; done # 4024 bytes
mkdir -p "$deep"
name80=$(printf 'm%.0s' $(seq 80))
path="$deep/$name80" # 4105 bytes
run train "${quick[@]}" --out "$path"
exact "an --out path over the limit: exit 5 up front, the limit, the path shortened" 5 \
    "nabla train: --out: cannot write \"${path:0:60}...${path: -60}\": the path is too long (4105 bytes, at most 4095)"
check "an --out path over the limit: no work done" no_work
path="$deep/${name80:0:60}" # 4085 bytes: its temporary file's name is one too many
run train "${quick[@]}" --out "$path"
exact "an --out path too long for its temporary file" 5 \
    "nabla train: --out: cannot write \"${path:0:60}...${path: -60}\": the path is too long for its temporary file (4096 bytes, at most 4095)"
name59=${name80:0:59}
run train "${quick[@]}" --out "$deep/$name59" --quiet
check "only the Ctrl-C checkpoint <--out>.ckpt too long: a warning, the model saved ($rc)" \
    eval '[ "$rc" -eq 0 ] && [ -s "$deep/$name59" ] && grep -q "warning: the Ctrl-C checkpoint: cannot write .*: the path is too long for its temporary file (4100 bytes, at most 4095); Ctrl-C will save none" err'

# IDX files whose test part has a label the training part lacks.
/usr/bin/python3 - <<'EOF'
import os, struct
os.mkdir("idx")
def write(name, labels):
    with open(f"idx/{name}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(labels), 2, 2))
        f.write(bytes(4 * len(labels)))
    with open(f"idx/{name}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)) + bytes(labels))
write("train", [0, 1] * 5)
write("t10k", [0, 1, 2])
EOF
run train --data idx --model dense:2 --epochs 1 --out idx.st
expect "test labels the training part lacks: refused before training" 3 'class "2" is in the test part (1 sample) but no training sample has it'
check "unseen test labels: no model, no work" eval '[ ! -e idx.st ] && no_work'

run train --data sine --model dense:8,tanh,dense:1 --lr 1e3 --out div.st --log div.log --report div.html
expect "a diverging run: exit 1, the trainer's reason" 1 "the weights from before this step are kept"
expect "a diverging run: says the weights were saved" 1 "the weights from before the failing step were saved to div.st"
# The metadata names the last step taken: the one before the failing step
# the message names ("at epoch E, batch B of N").
read -r fail_epoch fail_batch < <(sed -n 's/.* at epoch \([0-9]*\), batch \([0-9]*\) of .*/\1 \2/p' err)
check "a diverging run: the model is saved, marked stop_reason \"numeric error\" after the step before epoch ${fail_epoch:-?}, batch ${fail_batch:-?}" \
    eval '[ "${fail_batch:-1}" -gt 1 ] && [ "$(meta div.st stop_reason)" = "numeric error" ] && [ "$(meta div.st stopped_at_epoch)" = "$fail_epoch" ] && [ "$(meta div.st stopped_at_batch)" = $((fail_batch - 1)) ] && [ -s div.html ]'
run info div.st
check "a diverging run: its model loads ($rc)" [ "$rc" -eq 0 ]
# The report warns as info does, where the test metrics would be.
warning=$(sed -n 's/^nabla info: warning: model "div.st" was saved when //p' err)
check "a diverging run: the report says why it has no test metrics, in info's words ($warning)" \
    eval '[ -n "$warning" ] && grep -qF "No test metrics: the model was saved when $warning." div.html && ! grep -q "no test part" div.html'
# The same run with a checkpoint after every batch: its last checkpoint holds
# the weights from before the failing step.
run train --data sine --model dense:8,tanh,dense:1 --lr 1e3 --checkpoint every.ckpt --checkpoint-every 1b --quiet
check "a diverging run: the saved weights are those from before the failing step" \
    eval '[ "$(tensors every.ckpt)" = "$(tensors div.st | grep -v "^target_scaler")" ] && [ -n "$(tensors every.ckpt)" ]'

# A full disk: a 64 KiB tmpfs.
mkdir -p "$mnt"
if mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null; then
    large=(--data spiral --model dense:1024,relu,dense:256,relu,dense:3 --epochs 1 --quiet)
    run train "${quick[@]}" --out "$mnt/m.st" --quiet
    cp "$mnt/m.st" m-before.st
    run train "${large[@]}" --out "$mnt/m.st"
    exact "a model on a full disk: the exact message" 5 "nabla train: saving model \"$mnt/m.st\": cannot write: No space left on device"
    check "a model on a full disk: the previous model byte-identical, no temporary" \
        eval 'cmp -s "$mnt/m.st" m-before.st && ! tmp_left "$mnt"'
    rm -f "$mnt/m.st"
    run train "${large[@]}" --checkpoint "$mnt/ck" --checkpoint-every 1b
    exact "a checkpoint on a full disk: the exact message" 5 "nabla train: saving checkpoint \"$mnt/ck\": cannot write: No space left on device"
    head -c 1000000 /dev/zero > "$mnt/filler" 2>/dev/null
    run train --data sine --model dense:8,tanh,dense:1 --epochs 300 --out kept.st --log "$mnt/log" --quiet
    expect "--log on a full disk: exit 5, what is missing" 5 "cannot write log '$mnt/log' (epoch"
    check "--log on a full disk: the model is still saved with all 300 epochs" \
        eval '[ "$(meta kept.st epochs_run)" = 300 ]'
    run train "${large[@]}" --out kept2.st --report "$mnt/r.html"
    expect "--report on a full disk: exit 5" 5 "saving report \"$mnt/r.html\": cannot write: No space left on device"
    check "--report on a full disk: the model is still saved" eval '[ -s kept2.st ] && ! tmp_left "$mnt"'
else
    echo "skip: cannot mount a tmpfs here (the full-disk cases)"
    skipped=1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
[ "$skipped" -eq 0 ] || exit 77
