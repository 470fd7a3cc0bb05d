#!/usr/bin/env bash
# The C example in README.md compiles as written and prints what it says.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib/doc_example.sh
. "$src/tests/lib/doc_example.sh"
build_doc_example "$build" "$src" README.md "" "$tmp/example"
"$tmp/example" >"$tmp/out.txt"
cat "$tmp/out.txt"
# The README says what the example prints; check the numbers, which follow
# from the notes' apple example: price 220, d price / d apple = 2.2.
grep -q "price = 220" "$tmp/out.txt"
grep -q "d price / d apple = 2.2" "$tmp/out.txt"
echo "1 passed, 0 failed"
