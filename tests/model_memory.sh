#!/bin/bash
# Small model files cannot make info, eval or predict take memory past the
# documented limits: a graph whose compile at batch 32 would pass
# NB_MAX_ACTIVATIONS counting gradients and op scratch, or whose outputs
# per sample pass NB_MAX_FEATURES, is refused (exit 4) before anything is
# allocated for it; predict streams a model of many outputs in chunks.
# Usage: bash model_memory.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
cd "$T" || exit 1

# gen KIND OUT: a tiny model file of its own graph (python3, stdlib only).
gen() {
    "$PY" - "$@" <<'EOF'
import json, struct, sys
kind, out = sys.argv[1], sys.argv[2]
F = 1 << 20
init = {"kind": "constant", "a": 1, "b": 0, "fan_in": 0, "fan_out": 0}
w = {"name": "w", "op": "param", "init": init, "shape": [1]}
loss, outputs, inputs = "mse", F, F
if kind == "grads":
    # x [N, 2^20], y = x w: x, y, dy and the target pass 2^27 at batch 32
    # (their values alone do not).
    nodes = [{"name": "x", "op": "input", "shape": ["N", F]}, w,
             {"name": "y", "op": "mul", "inputs": ["x", "w"], "shape": ["N", F]},
             {"name": "target", "op": "input", "shape": ["N", F]},
             {"name": "loss", "op": "mse", "inputs": ["y", "target"], "shape": []}]
    output = "y"
else:
    # K outputs made by concatenating copies of one input value.
    K = {"outputs": 4094 * 1024, "many": 32 * 1024}[kind]
    nodes = [{"name": "x", "op": "input", "shape": ["N", 1]}, w,
             {"name": "y0", "op": "mul", "inputs": ["x", "w"], "shape": ["N", 1]},
             {"name": "mid", "op": "concat", "inputs": ["y0"] * 1024,
              "attrs": {"axis": {"int": [-1]}}, "shape": ["N", 1024]},
             {"name": "big", "op": "concat", "inputs": ["mid"] * (K // 1024),
              "attrs": {"axis": {"int": [-1]}}, "shape": ["N", K]},
             {"name": "target", "op": "input", "shape": ["N"]},
             {"name": "loss", "op": "softmax_with_loss", "inputs": ["big", "target"], "shape": []}]
    output, loss, outputs, inputs = "big", "softmax_ce", K, 1
g = {"nodes": nodes, "inputs": ["x"], "output": output, "target": "target", "loss": "loss"}
h = {"__metadata__": {"format": "nabla", "format_version": "2", "loss": loss,
                      "inputs": str(inputs), "outputs": str(outputs), "scale": "none",
                      "class_names": "[]", "graph": json.dumps(g, separators=(",", ":"))},
     "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
text = json.dumps(h, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(out, "wb").write(struct.pack("<Q", len(text)) + text + struct.pack("<f", 1.0))
EOF
}

gen grads grads.st
gen outputs outputs.st
gen many many.st
printf 'a\n0.5\n' >one.csv

for cmd in "info grads.st" "predict grads.st --input one.csv" "eval grads.st --data one.csv"; do
    # shellcheck disable=SC2086
    run "$NABLA" $cmd
    expect_rc 4 "$cmd: activations with their gradients past the limit"
    expect_err 'node 4 "loss" (mse): compiling the graph at batch 32 takes more than 134217728 values up to here (NB_MAX_ACTIVATIONS' "$cmd"
done
for cmd in "info outputs.st" "predict outputs.st --input one.csv"; do
    # shellcheck disable=SC2086
    run "$NABLA" $cmd
    expect_rc 4 "$cmd: outputs past the limit"
    expect_err 'metadata "outputs" is 4192256, more output values per sample than a model file holds (1048576, NB_MAX_FEATURES)' "$cmd"
done

# 32768 outputs: predict holds fewer than 256 rows at a time (4 Mi values
# at most), and every row comes out, numbered across the chunks.
"$PY" -c 'print("a"); [print(i / 100) for i in range(300)]' >rows.csv
run "$NABLA" predict many.st --input rows.csv --top 1
expect_rc 0 "predict with 32768 outputs"
if [ "$(grep -c '^row [0-9]*: 0 0\.0000$' "$T/out")" -eq 300 ] && grep -q '^row 300: ' "$T/out"; then
    pass
else
    fail "predict with 32768 outputs: 300 rows of class 0 expected: $(head -c 300 "$T/out")"
fi

finish
