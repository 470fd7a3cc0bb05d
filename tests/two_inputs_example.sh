#!/usr/bin/env bash
# examples/two_inputs.c: a model from a hand-built graph with two inputs
# trains, is saved with its graph, loads without a spec and predicts the
# same, bit for bit.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/examples/two_inputs" "$tmp/model.safetensors" >"$tmp/out.txt"
cat "$tmp/out.txt"
grep -q '^inputs: 2 ("signal" and "context"), 4 features per sample$' "$tmp/out.txt"
grep -q '^loaded model predicts the same, bit for bit$' "$tmp/out.txt"
# The loss falls at least tenfold over the 40 epochs.
awk '/^train loss:/ { first = $5 + 0; last = $8 + 0; exit !(last * 10 < first) }' "$tmp/out.txt"
"$build/nabla" info "$tmp/model.safetensors" | grep -q '^graph .*concat 1'
echo "1 passed, 0 failed"
