#!/usr/bin/env bash
# nabla explain's pages in a real browser: headless Chromium (driven by
# tests/lib/explain_check.py over the DevTools protocol) steps the page of
# every notes example and of two small trained models (a dense network on
# spiral, a CNN on 8x8 IDX images) through to the end with the arrow
# keys; every number the panel shows must be the trace's, ArrowLeft goes
# back, nothing overflows a 390-pixel screen and the page asks for no
# other file. Also the command's refusals: a page may not replace the
# model or a data file. Fails (does not skip) without chromium.
# Usage: bash explain_page.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
SRC=$(cd "${2:?usage: explain_page.sh BUILD_DIR SOURCE_DIR}" && pwd) || exit 1

if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    echo "FAIL: chromium is not installed (scripts/deps.sh installs it)"
    exit 1
fi
if ! command -v dot >/dev/null; then
    echo "FAIL: Graphviz's dot is not installed (scripts/deps.sh installs it)"
    exit 1
fi
cd "$T" || exit 1

pages=()
# page NAME ARGS...: nabla explain --out NAME.html --trace ARGS > NAME.trace
page() {
    local name=$1
    shift
    run "$NABLA" explain --out "$T/$name.html" --trace "$@"
    expect_rc 0 "explain $*"
    cp "$T/out" "$T/$name.trace"
    expect_file "$T/$name.html" "explain $*"
    pages+=("$T/$name.html" "$T/$name.trace")
}

# Every example the command lists, and one with numbers of our own.
run "$NABLA" explain --list
expect_rc 0 "explain --list"
examples=$(awk '{print $1}' "$T/out")
if [ "$(echo "$examples" | wc -l)" -eq 9 ]; then pass; else fail "--list: $(cat "$T/out")"; fi
for ex in $examples; do page "$ex" --example "$ex"; done
page square_of_sum_4_-1 --example square_of_sum -- 4 -1
if grep -q "grad  6" "$T/square_of_sum_4_-1.trace"; then pass; else
    fail "square_of_sum 4 -1: dz/dx is not 2 (4 - 1) = 6"
fi

# Two trained models: dense on spiral, a small CNN on 8x8 images.
run "$NABLA" train --data spiral --model dense:8,tanh,dense:3 --epochs 2 --seed 1 \
    --out "$T/spiral.st" --quiet
expect_rc 0 "train spiral"
page spiral_model "$T/spiral.st" --data spiral --row 7
"$PY" "$SRC/tests/lib/idx.py" "$T/img" train 24 8 8 3
"$PY" "$SRC/tests/lib/idx.py" "$T/img" t10k 6 8 8 3
run "$NABLA" train --data "$T/img" --model conv:4:3,relu,maxpool:2,dense:3 --epochs 1 --seed 1 \
    --out "$T/cnn.st" --quiet
expect_rc 0 "train cnn"
page cnn_model "$T/cnn.st" --data "$T/img" --row 2
# The CNN's image and its first convolution's weights come with heat maps.
if grep -q '"heat":{"rows":8,"cols":8' "$T/cnn_model.html"; then pass; else
    fail "the CNN page has no 8x8 heat map of its input image"
fi

if "$PY" "$SRC/tests/lib/explain_check.py" "${pages[@]}" >"$T/check.out" 2>&1; then pass; else
    fail "the pages in Chromium:"
    cat "$T/check.out"
fi

# Refusals: the page may not replace what it reads; usage errors.
cp "$T/spiral.st" "$T/keep.st"
run "$NABLA" explain "$T/spiral.st" --data spiral --out "$T/spiral.st"
expect_rc 2 "--out MODEL"
expect_err "the page would replace the model" "--out MODEL"
if cmp -s "$T/spiral.st" "$T/keep.st"; then pass; else fail "--out MODEL changed the model"; fi
printf 'a,b,label\n1,2,x\n3,4,y\n' >"$T/d.csv"
cp "$T/d.csv" "$T/keep.csv"
run "$NABLA" explain "$T/spiral.st" --data "$T/d.csv" --out "$T/d.csv"
expect_rc 2 "--out DATA"
expect_err "the page would replace the data" "--out DATA"
if cmp -s "$T/d.csv" "$T/keep.csv"; then pass; else fail "--out DATA changed the data"; fi
run "$NABLA" explain --example pear --out "$T/x.html"
expect_rc 2 "unknown example"
expect_err "apple_orange" "unknown example lists the names"
run "$NABLA" explain --example apple_orange
expect_rc 2 "no --out or --trace"
run "$NABLA" explain --example square_of_sum 1 --trace
expect_rc 2 "one number of two"
run "$NABLA" explain "$T/spiral.st" --data spiral --row 100000 --trace
expect_rc 2 "--row past the data"
expect_err "--row 100000" "--row past the data"
run "$NABLA" explain --example two_layer --loss z1 --trace
expect_rc 1 "--loss of a node that is not a scalar"
# No dot: an error naming graphviz, and no page.
NABLA_DOT=/nonexistent/dot run "$NABLA" explain --example apple_orange --out "$T/nodot.html"
expect_rc 5 "no dot"
expect_err "graphviz" "no dot"
if [ -e "$T/nodot.html" ]; then fail "no dot: a page was written"; else pass; fi
finish
