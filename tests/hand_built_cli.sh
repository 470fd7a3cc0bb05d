#!/bin/bash
# The nabla command on a model built by hand with the graph API and saved
# with nb_model_save (no spec, no training settings): eval reads the label
# as a number to fit when the model is no classifier, predict takes the
# inputs in order, and info names the input nodes (with their shapes per
# sample and the features each takes), the output and the target, for a
# spec model too. Usage: bash hand_built_cli.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
cd "$T" || exit 1

expect_out_line() { # LINE WHAT: stdout holds LINE exactly
    if grep -qxF -- "$1" "$T/out"; then pass; else fail "$2: stdout lacks '$1': $(head -c 800 "$T/out")"; fi
}

# Two inputs, "signal" [1] and "context" [3], an mse loss, no "training".
if ! "$BUILD/examples/two_inputs" ti.st >two_inputs.out 2>&1; then
    fail "examples/two_inputs: $(cat two_inputs.out)"
    finish
    exit 1
fi
# Four feature columns and a numeric target, labels that are no class
# indices (2, 0.5): read as numbers, not as classes.
printf 's,c0,c1,c2,y\n0.1,0.2,0.3,0.4,0.5\n-0.5,0.1,0.9,-0.2,2\n0.3,0.3,0.3,0.3,0.2\n' >ti.csv

# ---------------------------------------------------------------- eval
run "$NABLA" eval ti.st --data ti.csv
expect_rc 0 "eval of a hand-built mse model without training settings"
expect_no_err "has label" "eval: the label is no class"
if grep -q '^all: 3 samples, loss .*, MAE .*, RMSE .*, R² ' "$T/out"; then pass; else
    fail "eval prints regression metrics: $(cat "$T/out")"; fi
run "$NABLA" eval ti.st --data ti.csv --json
expect_rc 0 "eval --json of the hand-built model"
expect_py "eval --json: regression metrics of 3 samples" '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["samples"] == 3 and m["accuracy"] is None and "mae" in m and "rmse" in m, m
assert "classes" not in m, m' "$T/out"
# The same as --regression says.
cp "$T/out" default.json
run "$NABLA" eval ti.st --data ti.csv --json --regression
expect_rc 0 "eval --regression of the hand-built model"
if cmp -s default.json "$T/out"; then pass; else fail "eval: the default is not --regression"; fi

# The model decides, not its record: training.regression false (an
# edited record) on a model that is no classifier still fits numbers.
"$PY" - ti.st ti-classes.st <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
header["__metadata__"]["training"] = json.dumps({"regression": False})
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
EOF
run "$NABLA" eval ti-classes.st --data ti.csv
if [ "$rc" -eq 0 ] && grep -q "MAE" "$T/out"; then
    pass
else
    fail "eval: a record contradicting the model decided: exit $rc: $(head -c 300 "$T/err")"
fi

# ------------------------------------------------------------- predict
run "$NABLA" predict ti.st --input ti.csv
expect_rc 0 "predict with the hand-built model"
if [ "$(grep -c '^row [0-9]*: ' "$T/out")" -eq 3 ]; then pass; else
    fail "predict prints 3 rows: $(cat "$T/out")"; fi

# ---------------------------------------------------------------- info
run "$NABLA" info ti.st
expect_rc 0 "info on the hand-built model"
expect_out_line "inputs      4" "info keeps its inputs line"
expect_out_line "outputs     1" "info keeps its outputs line"
expect_out_line "input node  signal [1] (feature 1)" "info names input 0"
expect_out_line "input node  context [3] (features 2-4)" "info names input 1"
expect_out_line "output node out.out [1]" "info names the output"
expect_out_line "target node target [1]" "info names the target"
if grep -q '^graph .*concat 1' "$T/out"; then pass; else fail "info keeps its graph line"; fi
run "$NABLA" info ti.st --json
expect_rc 0 "info --json on the hand-built model"
expect_py "info --json: input, output and target nodes" '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["input_nodes"] == [{"name": "signal", "shape": [1], "features": 1},
                            {"name": "context", "shape": [3], "features": 3}], j["input_nodes"]
assert j["output_node"] == {"name": "out.out", "shape": [1]}, j["output_node"]
assert j["target_node"] == {"name": "target", "shape": [1]}, j["target_node"]
assert j["inputs"] == 4 and j["outputs"] == 1 and j["spec"] is None' "$T/out"

# A spec model: input "x" [2], its class index target [].
run "$NABLA" train --data xor --model dense:4,tanh,dense:2 --epochs 1 --out xor.st
expect_rc 0 "train a spec model"
run "$NABLA" info xor.st
expect_rc 0 "info on a spec model"
expect_out_line "input node  x [2] (features 1-2)" "info names a spec model's input"
expect_out_line "output node dense1.out [2]" "info names a spec model's output"
expect_out_line "target node target []" "info names a spec model's target"
# A seed past 10^15 comes back exactly: eval finds the model's own test part.
run "$NABLA" train --data spiral --model dense:4,tanh,dense:3 --epochs 1 \
    --seed 8000000000000001 --quiet --out big-seed.st
run "$NABLA" eval big-seed.st --data spiral
if [ "$rc" -eq 0 ] && grep -q "the model's own test part" "$T/out"; then
    pass
else
    fail "eval after --seed 8000000000000001: $(head -c 300 "$T/out")"
fi
# A classifier whose record was edited to say regression still reads classes.
"$PY" - xor.st xor-edited.st <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
training = json.loads(header["__metadata__"]["training"])
training["regression"] = True
header["__metadata__"]["training"] = json.dumps(training)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
EOF
printf 'a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >xor.csv
run "$NABLA" eval xor-edited.st --data xor.csv
if [ "$rc" -eq 0 ] && grep -q "accuracy" "$T/out"; then
    pass
else
    fail "eval: a classifier's record saying regression decided: exit $rc: $(head -c 300 "$T/err")"
fi
run "$NABLA" info xor.st --json
expect_py "info --json on a spec model" '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["input_nodes"] == [{"name": "x", "shape": [2], "features": 2}], j
assert j["target_node"] == {"name": "target", "shape": []}, j' "$T/out"
# A trained classifier still reads its labels as classes.
run "$NABLA" eval xor.st --data xor
expect_rc 0 "eval of a trained classifier"

finish
