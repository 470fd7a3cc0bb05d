#!/usr/bin/env bash
# The C example of docs/training.md ("Training step by step") compiles as
# written and trains.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib/doc_example.sh
. "$src/tests/lib/doc_example.sh"
build_doc_example "$build" "$src" docs/training.md "## Training step by step" "$tmp/example"
"$tmp/example" >"$tmp/out.txt"
cat "$tmp/out.txt"
# Spirals of 300 points learn to a train loss of 0.3 well within 50 epochs.
grep -Eq '^[0-9]+ epochs, train loss 0\.[0-2][0-9]*, stopped by "target loss"$' "$tmp/out.txt"
echo "1 passed, 0 failed"
