#!/bin/bash
# A model saved by a training run that stopped on a numeric error (its
# training.stop_reason is "numeric error") still loads, but info, eval and
# predict each say once on stderr that its outputs may be meaningless, and
# eval's non-finite error says where the model comes from. Its metadata
# claims no best epoch: the weights kept are those of its last step.
# Usage: bash diverged.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
NABLA=$(cd "$(dirname "$NABLA")" && pwd)/nabla
cd "$T" || exit 1

expect_line() { # LINE WHAT: stderr holds LINE exactly, once
    local n
    n=$(grep -cxF -- "$1" "$T/err")
    if [ "$n" -eq 1 ]; then pass; else fail "$2: stderr holds '$1' $n times: $(head -c 600 "$T/err")"; fi
}
warnings() { grep -c 'warning: model' "$T/err"; }
# A copy of model FROM with training's keys changed: KEY=JSON... ("KEY=" drops it).
forge() { # FROM TO KEY=JSON...
    "$PY" - "$@" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
training = json.loads(header["__metadata__"]["training"])
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    if v:
        training[k] = json.loads(v)
    else:
        training.pop(k, None)
header["__metadata__"]["training"] = json.dumps(training)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
EOF
}
training_key() { # FILE KEY: a "training" setting, "absent" when missing
    "$PY" - "$1" "$2" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
t = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["training"])
print(t.get(sys.argv[2], "absent"))
EOF
}

# Momentum 0.99 at lr 0.05 diverges within a few epochs.
run "$NABLA" train --data sine --model dense:20,relu,dense:1 --optimizer momentum \
    --momentum 0.99 --lr 0.05 --epochs 60 --out dv.st --quiet
expect_rc 1 "the diverging run"
expect_file dv.st "the diverging run saves its model"
epoch=$(training_key dv.st stopped_at_epoch)
batch=$(training_key dv.st stopped_at_batch)
if [ "$(training_key dv.st stop_reason)" = "numeric error" ] && [ "$epoch" -gt 0 ]; then pass; else
    fail "the diverging run: stop_reason $(training_key dv.st stop_reason), stopped at epoch $epoch"
fi
# The weights are those of epoch $epoch, batch $batch: no finished epoch's.
if [ "$(training_key dv.st best_epoch)" = absent ] && [ "$(training_key dv.st epochs_run)" -eq $((epoch - 1)) ]; then pass; else
    fail "the diverging run: best_epoch $(training_key dv.st best_epoch), epochs_run $(training_key dv.st epochs_run), stopped at epoch $epoch"
fi

warning() { # CMD FILE [WHEN]
    echo "nabla $1: warning: model \"$2\" was saved when training stopped on a numeric error${3-" (the weights kept are from epoch $epoch, batch $batch)"}: its outputs may be meaningless"
}

printf '0.5\n1.0\n' >in.txt
run "$NABLA" predict dv.st --input in.txt
expect_rc 0 "predict on the diverged model"
expect_line "$(warning predict dv.st)" "predict warns"
if [ "$(wc -l <"$T/out")" -eq 2 ]; then pass; else fail "predict still prints its 2 rows: $(cat "$T/out")"; fi

run "$NABLA" info dv.st
expect_rc 0 "info on the diverged model"
expect_line "$(warning info dv.st)" "info warns"
run "$NABLA" info dv.st --json
expect_line "$(warning info dv.st)" "info --json warns"

run "$NABLA" eval dv.st --data sine
expect_rc 1 "eval on the diverged model: a non-finite loss"
expect_line "$(warning eval dv.st)" "eval warns"
expect_err "the loss is inf (the model was saved when its training stopped on a numeric error)" \
    "eval's non-finite error names the diverged training"
if [ "$(warnings)" -eq 1 ]; then pass; else fail "eval warns $(warnings) times"; fi

# A model from a run that ended well: no warning.
run "$NABLA" train --data xor --model dense:4,tanh,dense:2 --epochs 2 --out ok.st --quiet
expect_rc 0 "a run that ends well"
for cmd in info "eval ok.st --data xor"; do
    [ "$cmd" = info ] && cmd="info ok.st"
    # shellcheck disable=SC2086
    run "$NABLA" $cmd
    expect_rc 0 "$cmd on a good model"
    if [ "$(warnings)" -eq 0 ]; then pass; else fail "$cmd warns on a good model: $(cat "$T/err")"; fi
done

# The first step failed: the initial weights; no step recorded: no place.
forge ok.st first.st 'stop_reason="numeric error"' stopped_at_epoch=0 stopped_at_batch=0 || fail "forging first.st"
run "$NABLA" info first.st
expect_line "$(warning info first.st " (the weights kept are the initial ones)")" "info on a model whose first step failed"
forge ok.st bare.st 'stop_reason="numeric error"' stopped_at_epoch= stopped_at_batch= || fail "forging bare.st"
run "$NABLA" eval bare.st --data xor
expect_rc 0 "eval on a marked model whose outputs are finite"
expect_line "$(warning eval bare.st "")" "eval on a marked model without its step"

finish
