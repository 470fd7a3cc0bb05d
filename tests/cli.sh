#!/usr/bin/env bash
# End-to-end checks of the nabla command: usage errors and exit codes,
# training on built-in and CSV data, the log, the report, and info, eval,
# predict and gradcheck on the saved models.
# Usage: bash cli.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"

# ---------------------------------------------------------------- help
run "$NABLA" --help
expect_rc 0 "nabla --help"
if grep -q "130" "$T/out"; then pass; else fail "nabla --help lists the exit codes"; fi
run "$NABLA" --version
expect_rc 0 "nabla --version"
if grep -q "^conv: .*; gemm: " "$T/out"; then pass; else fail "nabla --version names the conv and gemm kernels"; fi
if grep -q "^several processes: " "$T/out"; then pass; else fail "nabla --version says whether it runs under mpirun"; fi
for cmd in train eval predict info gradcheck; do
    run "$NABLA" "$cmd" --help
    expect_rc 0 "nabla $cmd --help"
    if grep -q "usage: nabla $cmd" "$T/out"; then pass; else fail "nabla $cmd --help shows its usage"; fi
done
# Under mpirun (as its environment says) only train runs; the others would
# each write the same files. Rank 0 alone says so.
OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 run "$NABLA" eval m.st --data spiral
expect_rc 2 "eval under mpirun"
expect_err "under mpirun only 'nabla train' runs" "eval under mpirun"
OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1 run "$NABLA" export m.st --c out
expect_rc 2 "export under mpirun, rank 1"
expect_no_err "mpirun" "rank 1 stays quiet"
run "$NABLA"
expect_rc 2 "nabla without a command"
run "$NABLA" frobnicate
expect_rc 2 "unknown command"
expect_err "frobnicate" "unknown command"

# ---------------------------------------------------------- usage errors
SPEC="dense:8,tanh,dense:3"
run "$NABLA" train --data spiral --model "$SPEC" --bogus 1
expect_rc 2 "unknown option"
expect_err "--bogus" "unknown option"
expect_err "usage: nabla train" "unknown option shows the usage line"
run "$NABLA" train --data spiral --model "$SPEC" --lr abc
expect_rc 2 "bad number"
expect_err "--lr" "bad number"
run "$NABLA" train --data spiral --model "$SPEC" --epochs 3x
expect_rc 2 "trailing junk in a whole number"
expect_err "--epochs" "trailing junk in a whole number"
# Shards the batch rules out are a usage error before any data is read
# (the data file does not even exist).
run "$NABLA" train --data no-such-file.csv --model "$SPEC" --batch 64 --shards 3
expect_rc 2 "--shards 3"
expect_err "shards must be a power of two" "--shards 3"
run "$NABLA" train --data no-such-file.csv --model "$SPEC" --batch 64 --shards 128
expect_rc 2 "--shards past the batch"
# Batch norm cannot learn from a shard of one row, also when every full
# batch ends in one (7 rows in shards of 2): refused before training.
run "$NABLA" train --data spiral --model dense:8,batchnorm,relu,dense:3 --batch 7 --shards 4 \
    --epochs 1 --out "$T/bn7.st"
expect_rc 1 "batch norm with a 1-row shard in every batch"
expect_err "batches of 7 in 4 shards of up to 2 rows end in a shard of 1" "1-row shard"
if [ -e "$T/bn7.st" ]; then fail "a refused run wrote a model"; else pass; fi
run "$NABLA" train --data spiral --model "$SPEC" --batch 0
expect_rc 2 "batch out of range"
expect_err "--batch" "batch out of range"
run "$NABLA" train --data spiral --model "$SPEC" --seed -1
expect_rc 2 "negative seed"
expect_err "--seed" "negative seed"
run "$NABLA" train --data spiral
expect_rc 2 "missing --model"
expect_err "--model" "missing --model"
run "$NABLA" train --data spiral --model "$SPEC" --epochs
expect_rc 2 "option without its value"
expect_err "--epochs" "option without its value"
run "$NABLA" train --data spiral --model "dense:8,wobble,dense:3"
expect_rc 2 "bad spec"
expect_err "wobble" "bad spec"
run "$NABLA" train --data spiral --model "dense:8,tanh,dense:5"
expect_rc 2 "last layer does not match the classes"
expect_err "5 units" "last layer does not match the classes"
expect_err "3 classes" "last layer does not match the classes"
run "$NABLA" eval --data spiral
expect_rc 2 "eval without a model"
run "$NABLA" predict "$T/none.safetensors"
expect_rc 2 "predict without --input"
expect_err "--input" "predict without --input"

# ------------------------------------------------------------ data errors
run "$NABLA" train --data "$T/missing.csv" --model "$SPEC"
expect_rc 3 "missing data file"
expect_err "missing.csv" "missing data file"
printf 'a,b,label\n1,2,x\n3,oops,y\n' >"$T/bad.csv"
run "$NABLA" train --data "$T/bad.csv" --model "dense:4,tanh,dense:2"
expect_rc 3 "malformed CSV"
expect_err "bad.csv" "malformed CSV"

# ---------------------------------------------------- train on spiral
run "$NABLA" train --data spiral --model "dense:16,tanh,dense:3" --optimizer adam --lr 0.05 \
    --batch 16 --epochs 6 --seed 3 --val 0.2 \
    --out "$T/spiral.safetensors" --log "$T/spiral.jsonl" --report "$T/spiral.html"
expect_rc 0 "train spiral"
expect_file "$T/spiral.safetensors" "train spiral: model"
expect_file "$T/spiral.jsonl" "train spiral: log"
expect_file "$T/spiral.html" "train spiral: report"
if grep -q "accuracy" "$T/out"; then pass; else fail "train prints the test accuracy"; fi
if grep -q "epoch 6/6" "$T/err"; then pass; else fail "train prints one line per epoch (no terminal)"; fi
expect_py "log: one JSON object per epoch with the required keys" '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 6, "%d lines, expected 6" % len(lines)
for i, line in enumerate(lines, 1):
    o = json.loads(line)
    for k in ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "lr"):
        assert k in o, "line %d lacks %s" % (i, k)
    assert o["epoch"] == i, o
    assert 0 <= o["train_accuracy"] <= 1 and 0 <= o["val_accuracy"] <= 1, o
    assert o["train_loss"] > 0 and o["lr"] == 0.05, o
' "$T/spiral.jsonl"
expect_py "report: self-contained HTML with charts and a confusion matrix" '
import sys
h = open(sys.argv[1]).read()
assert h.startswith("<!DOCTYPE html>") and h.rstrip().endswith("</html>")
assert h.count("<svg") >= 2, "loss and accuracy charts"
assert "polyline" in h and "confusion" in h and "precision" in h
assert "first convolution" not in h, "a dense model has no convolution section"
low = h.lower()
assert "<script" not in low, "no scripts"
for bad in ("src=\"http", "href=\"http", "url(http", "@import"):
    assert bad not in low, "fetches " + bad
' "$T/spiral.html"
if ls "$T"/*.tmp-* >/dev/null 2>&1; then fail "temporary files left behind"; else pass; fi

# ------------------------------------------------------------------ info
run "$NABLA" info "$T/spiral.safetensors"
expect_rc 0 "info"
if grep -q "dense:16,tanh,dense:3" "$T/out" && grep -q "dense0.weight" "$T/out"; then pass; else
    fail "info shows the spec and tensors: $(head -c 300 "$T/out")"; fi
run "$NABLA" info "$T/spiral.safetensors" --json
expect_rc 0 "info --json"
# 2 inputs x 16 + 16 + 16 x 3 + 3 = 99 parameters.
expect_py "info --json: shapes, parameters, settings" '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["inputs"] == 2 and o["outputs"] == 3, o
assert o["parameters"] == 2 * 16 + 16 + 16 * 3 + 3, o["parameters"]
shapes = {t["name"]: t["shape"] for t in o["tensors"]}
assert shapes["dense0.weight"] == [2, 16] and shapes["dense1.bias"] == [3], shapes
assert o["training"]["optimizer"] == "adam" and o["training"]["epochs"] == 6, o["training"]
' "$T/out"

# ------------------------------------------------------------------ eval
run "$NABLA" eval "$T/spiral.safetensors" --data spiral --json
expect_rc 0 "eval --json"
cp "$T/out" "$T/eval.json"
run "$NABLA" info "$T/spiral.safetensors" --json
expect_py "eval --json: keys, and the same test metrics as training saved" '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "exactly one JSON object"
e = json.loads(lines[0])
for k in ("accuracy", "loss", "samples", "confusion", "per_class"):
    assert k in e, k
assert e["samples"] == sum(map(sum, e["confusion"])) > 0
correct = sum(e["confusion"][i][i] for i in range(len(e["confusion"])))
assert abs(e["accuracy"] - correct / e["samples"]) < 1e-12, e["accuracy"]
m = json.load(open(sys.argv[2]))["metrics"]
assert m["samples"] == e["samples"] and m["confusion"] == e["confusion"], (m, e)
assert abs(m["accuracy"] - e["accuracy"]) < 1e-12
' "$T/eval.json" "$T/out"
run "$NABLA" eval "$T/spiral.safetensors" --data xor
expect_rc 0 "eval on a set with 2 classes and 2 features"

# --------------------------------------------------------------- predict
printf 'x,y\n0.5,0.1\n-0.3,0.4\n0.0,-0.6\n' >"$T/samples.csv"
run "$NABLA" predict "$T/spiral.safetensors" --input "$T/samples.csv" --top 2
expect_rc 0 "predict --top 2"
expect_py "predict: 3 rows of 2 classes, most probable first" '
import re, sys
rows = open(sys.argv[1]).read().splitlines()
assert len(rows) == 3, rows
for r in rows:
    probs = [float(p) for p in re.findall(r" (\d\.\d+)(?:,|$)", r)]
    assert len(probs) == 2 and probs[0] >= probs[1] and sum(probs) <= 1 + 1e-6, r
' "$T/out"
run "$NABLA" predict "$T/spiral.safetensors" --input "$T/samples.csv" --json
expect_py "predict --json: probabilities of all 3 classes sum to 1" '
import json, sys
o = json.load(open(sys.argv[1]))
assert len(o["predictions"]) == 3
for p in o["predictions"]:
    assert len(p["top"]) == 3
    assert abs(sum(t["probability"] for t in p["top"]) - 1) < 1e-5, p
' "$T/out"
printf '1,2,3,4\n' >"$T/wide.csv"
run "$NABLA" predict "$T/spiral.safetensors" --input "$T/wide.csv"
expect_rc 3 "predict: wrong number of columns"
expect_err "2 feature values are expected" "predict: wrong number of columns"

# ------------------------------------------------------------- gradcheck
run "$NABLA" gradcheck --model "dense:8,tanh,dense:3" --data spiral
expect_rc 0 "gradcheck"
if grep -q "dense0.weight" "$T/out"; then pass; else fail "gradcheck lists the tensors"; fi
run "$NABLA" gradcheck --model "dense:8,tanh,dense:3" --data spiral --tolerance 0
expect_rc 1 "gradcheck with tolerance 0 fails"

# ----------------------------------------------------- model file errors
head -c 200 "$T/spiral.safetensors" >"$T/cut.safetensors"
run "$NABLA" info "$T/cut.safetensors"
expect_rc 4 "info on a truncated model"
expect_err "cut.safetensors" "info on a truncated model"
run "$NABLA" eval "$T/cut.safetensors" --data spiral
expect_rc 4 "eval on a truncated model"
run "$NABLA" info "$T/nothing.safetensors"
expect_rc 4 "info on a missing model"

# ---------------------------------------------- CSV with --label by name
# 3 classes of points around 3 centres in 3-D; the label column in the
# middle, named, with text labels.
"$PY" -c '
import random
random.seed(7)
centres = {"red": (0, 0, 0), "green": (4, 0, 1), "blue": (0, 4, -1)}
print("a,b,colour,c")
for i in range(150):
    name = ("red", "green", "blue")[i % 3]
    x = [c + random.gauss(0, 0.7) for c in centres[name]]
    print("%.4f,%.4f,%s,%.4f" % (x[0], x[1], name, x[2]))
' >"$T/colours.csv"
run "$NABLA" train --data "$T/colours.csv" --label colour --model "dense:16,tanh,dense:3" \
    --optimizer adam --lr 0.05 --batch 16 --epochs 15 --out "$T/colours.safetensors"
expect_rc 0 "train on CSV with --label by name"
run "$NABLA" info "$T/colours.safetensors" --json
expect_py "CSV model: class names and a fitted zscore scaler" '
import json, sys
o = json.load(open(sys.argv[1]))
assert sorted(o["class_names"]) == ["blue", "green", "red"], o["class_names"]
assert o["scale"] == "zscore" and o["inputs"] == 3, o
assert o["metrics"]["accuracy"] > 0.8, o["metrics"]
' "$T/out"
cp "$T/out" "$T/colours-info.json"
run "$NABLA" eval "$T/colours.safetensors" --data "$T/colours.csv" --json
expect_rc 0 "eval on CSV (saved label and seed)"
expect_py "eval on CSV reproduces the saved test metrics (saved scaler applied)" '
import json, sys
e = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))["metrics"]
assert e["samples"] == m["samples"] == 45, (e["samples"], m["samples"])
assert e["confusion"] == m["confusion"], (e["confusion"], m["confusion"])
' "$T/out" "$T/colours-info.json"
printf 'a,b,colour,c\n4.1,0.2,green,0.9\n0.1,-0.2,red,0.1\n' >"$T/colour-rows.csv"
run "$NABLA" predict "$T/colours.safetensors" --input "$T/colour-rows.csv" --top 1
expect_rc 0 "predict on CSV rows with the label column present"
if [ "$(cut -d' ' -f3 "$T/out" | tr '\n' ' ')" = "green red " ]; then pass; else
    fail "predict names the right classes: $(cat "$T/out")"; fi
run "$NABLA" eval "$T/spiral.safetensors" --data "$T/colours.csv" --label colour
expect_rc 3 "eval with a different feature count"
expect_err "3 feature columns" "eval with a different feature count"
expect_err "2 are expected" "eval with a different feature count"

# -------------------------------------------------------- output errors
run "$NABLA" train --data xor --model "dense:4,tanh,dense:2" --epochs 2 --out "$T/no/such/dir/m.safetensors"
expect_rc 5 "--out into a missing folder"
expect_err "$T/no/such/dir" "--out into a missing folder"
mkdir "$T/ro" && chmod 500 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
    run "$NABLA" train --data xor --model "dense:4,tanh,dense:2" --epochs 2 --report "$T/ro/r.html"
    expect_rc 5 "--report into a read-only folder"
fi
if [ -z "$(ls -A "$T/ro")" ]; then pass; else fail "files left in a folder that failed"; fi
if ls "$T"/*.tmp-* "$T"/*/*.tmp-* >/dev/null 2>&1; then fail "temporary files left behind"; else pass; fi

# --------------------------------------------------- sine regression
run "$NABLA" train --data sine --model "dense:20,sigmoid,dense:1" --loss mse --optimizer adam \
    --lr 0.02 --batch 16 --epochs 30 --out "$T/sine.safetensors" --log "$T/sine.jsonl" \
    --report "$T/sine.html" --quiet
expect_rc 0 "train sine with --loss mse"
if [ ! -s "$T/err" ]; then pass; else fail "--quiet prints nothing on stderr: $(head -c 300 "$T/err")"; fi
expect_py "sine: the loss falls, accuracy is null" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 30 and rows[-1]["train_loss"] < rows[0]["train_loss"], rows
assert all(r["train_accuracy"] is None for r in rows)
' "$T/sine.jsonl"
run "$NABLA" eval "$T/sine.safetensors" --data sine --json
expect_py "sine eval --json: accuracy null, loss below the variance of sin" '
import json, sys
o = json.load(open(sys.argv[1]))
# Predicting 0 everywhere scores mean(sin^2) = 0.5 on [-pi, pi].
assert o["accuracy"] is None and o["loss"] < 0.5 and o["samples"] > 0, o
' "$T/out"
printf '0\n1.5707963\n' >"$T/x.csv"
run "$NABLA" predict "$T/sine.safetensors" --input "$T/x.csv"
expect_rc 0 "predict regression values"
if [ "$(wc -l <"$T/out")" -eq 2 ]; then pass; else fail "predict prints a value per row"; fi
run "$NABLA" train --data sine --model "dense:20,sigmoid,dense:1" --lr 1e6 --epochs 5 \
    --out "$T/blown.safetensors" --report "$T/blown.html" --quiet
expect_rc 1 "a loss that blows up fails the training"
expect_err "loss" "a loss that blows up fails the training"
# The weights from before the failing step are kept and saved, marked.
expect_py "a blown-up training saves its last finite weights, marked" '
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
meta = json.loads(data[8:8 + n])["__metadata__"]
assert json.loads(meta["training"])["stop_reason"] == "numeric error", meta["training"]
' "$T/blown.safetensors"
expect_file "$T/blown.html" "a blown-up training still writes its report"
# Its report says why there are no test metrics (it has a test part) and
# which weights were kept, in the words info warns with.
expect_py "a blown-up training's report: no test metrics because of the numeric error" '
import json, re, struct, sys
h = open(sys.argv[1]).read()
data = open(sys.argv[2], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
t = json.loads(json.loads(data[8:8 + n])["__metadata__"]["training"])
assert t["test_samples"] > 0, t
assert "no test part" not in h, "says the data has no test part"
e, b = t["stopped_at_epoch"], t["stopped_at_batch"]
kept = "the weights kept are from epoch %d, batch %d" % (e, b) if e > 0 else "the weights kept are the initial ones"
want = ("No test metrics: the model was saved when training stopped on a numeric error (%s): "
        "its outputs may be meaningless." % kept)
assert want in h, re.findall(r"<p class=\"note[^>]*>[^<]*", h)
' "$T/blown.html" "$T/blown.safetensors"
# Early stopping keeps an earlier epoch: the headline says which.
run "$NABLA" train --data spiral --model "dense:16,relu,dense:3" --epochs 300 --patience 3 --lr 0.5 \
    --out "$T/early.safetensors" --report "$T/early.html" --quiet
expect_rc 0 "an early-stopped run"
expect_py "an early-stopped run's report: the headline names the epoch whose weights were kept" '
import json, struct, sys
h = open(sys.argv[1]).read()
data = open(sys.argv[2], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
t = json.loads(json.loads(data[8:8 + n])["__metadata__"]["training"])
assert t["stop_reason"] == "early stopping" and t["best_epoch"] < t["epochs_run"], t
want = "<div class=\"big\">%d</div>epochs run; weights from epoch %d (early stopping)</div>" % (
    t["epochs_run"], t["best_epoch"])
assert want in h, want
' "$T/early.html" "$T/early.safetensors"
run "$NABLA" train --data sine --model "dense:4,tanh,dense:1" --loss softmax_ce
expect_rc 2 "a classification loss on regression data"

# ----------------------------------------------------------- Ctrl-C
# The run is held after its 3rd batch (NABLA_TEST_HOLD_AT_BATCH, see
# docs/cli.md), so the signal finds it training whatever the machine's load;
# removing the hold file lets it act on the signal.
hold_says() { # TEXT PID: the hold file says TEXT (a bound only against a hang)
    local i
    for i in $(seq 30000); do
        [ "$(cat "$T/hold" 2>/dev/null)" = "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}
# A job started with & by a script inherits SIGINT ignored (and keeps it
# so, see below): env gives this one the default action, as a terminal's
# foreground job has.
NABLA_TEST_HOLD_AT_BATCH=3 NABLA_TEST_HOLD_FILE="$T/hold" env --default-signal=INT "$NABLA" \
    train --data spiral --model "dense:64,tanh,dense:3" --batch 1 --epochs 5 \
    --out "$T/int.safetensors" >"$T/out" 2>"$T/err" &
pid=$!
if hold_says "held at epoch 1, batch 3" "$pid" && kill -INT "$pid" &&
    hold_says "interrupted at epoch 1, batch 3" "$pid"; then
    rm -f "$T/hold"
else
    fail "Ctrl-C: the run was not held at batch 3: $(head -c 400 "$T/err")"
    kill -KILL "$pid" 2>/dev/null
fi
wait "$pid" 2>/dev/null
rc=$?
expect_rc 130 "Ctrl-C during training"
expect_err "interrupted at epoch 1, batch 3; checkpoint written to $T/int.safetensors.ckpt" \
    "Ctrl-C during training"
expect_file "$T/int.safetensors.ckpt" "Ctrl-C during training: checkpoint"
if [ ! -e "$T/int.safetensors" ]; then pass; else fail "an interrupted run writes no model"; fi

# SIGINT ignored on entry (`nabla train ... &` in a script) stays ignored, as
# POSIX programs leave it: Ctrl-C at the terminal is not meant for a
# background job. Held at batch 3, the run neither catches SIGINT (its
# /proc status) nor acts on one sent to it: an ignored signal is discarded
# when sent, so once released it trains to the end.
rm -f "$T/hold"
(
    trap '' INT
    NABLA_TEST_HOLD_AT_BATCH=3 NABLA_TEST_HOLD_FILE="$T/hold" exec "$NABLA" train \
        --data spiral --model "dense:64,tanh,dense:3" --batch 1 --epochs 1 \
        --out "$T/ign.safetensors" >"$T/out" 2>"$T/err"
) &
pid=$!
masks=
if hold_says "held at epoch 1, batch 3" "$pid"; then
    [ -r "/proc/$pid/status" ] && masks=$(awk '/^Sig(Ign|Cgt):/ {printf "%s=%s ", $1, $2}' "/proc/$pid/status")
    kill -INT "$pid"
    rm -f "$T/hold"
else
    fail "SIGINT ignored on entry: the run was not held at batch 3: $(head -c 400 "$T/err")"
    kill -KILL "$pid" 2>/dev/null
fi
wait "$pid" 2>/dev/null
rc=$?
expect_rc 0 "SIGINT ignored on entry: the run goes on to the end"
expect_no_err "interrupted" "SIGINT ignored on entry"
expect_file "$T/ign.safetensors" "SIGINT ignored on entry: the model"
if [ -z "$masks" ]; then
    echo "skip: no /proc/PID/status (the signal masks of an ignored SIGINT)"
elif [[ $masks =~ SigIgn:=([0-9a-f]+)\ SigCgt:=([0-9a-f]+) ]] &&
    (((0x${BASH_REMATCH[1]} & 2) != 0 && (0x${BASH_REMATCH[2]} & 2) == 0)); then
    pass
else
    fail "SIGINT ignored on entry: the run caught it: $masks"
fi

# A typed path with control, C1 and bidi characters: status lines are
# escaped like errors, and the printed resume command still names the file.
E="$T/e$(printf '\x1b[31m\xc2\x9bx\xe2\x80\xae').st"
rm -f "$T/hold"
NABLA_TEST_HOLD_AT_BATCH=3 NABLA_TEST_HOLD_FILE="$T/hold" env --default-signal=INT "$NABLA" \
    train --data spiral --model "dense:8,tanh,dense:3" --batch 1 --epochs 2 \
    --out "$E" --report "$E.html" >"$T/out" 2>"$T/err" &
pid=$!
if hold_says "held at epoch 1, batch 3" "$pid" && kill -INT "$pid" &&
    hold_says "interrupted at epoch 1, batch 3" "$pid"; then
    rm -f "$T/hold"
else
    fail "escaped paths: the run was not held at batch 3: $(head -c 400 "$T/err")"
    kill -KILL "$pid" 2>/dev/null
fi
wait "$pid" 2>/dev/null
rc=$?
expect_rc 130 "Ctrl-C with an odd path"
expect_err 'checkpoint written to '"$T"'/e\x1b[31m\u009bx\u202e.st.ckpt; resume with: ' \
    "the interrupted line escapes the path"
resume_cmd=$(grep -o 'resume with: nabla .*' "$T/err")
resume_cmd=${resume_cmd#resume with: }
eval "${NABLA_WRAP:-} \"$NABLA\" ${resume_cmd#nabla }" >"$T/out" 2>"$T/err2"
rc=$?
expect_rc 0 "the printed resume command (with \$'...' quoting) runs"
expect_file "$E" "the resumed run saved the model at the odd path"
expect_py "status lines escape the path and hold no raw control or format byte" '
import sys
b = open(sys.argv[1], "rb").read()
t = b.decode("utf-8")
assert "model saved to " in t and "report written to " in t and "resuming from checkpoint" in t, t
assert "\\x1b[31m\\u009bx\\u202e.st" in t, t
assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in t), t
' "$T/err2"

finish
