#!/bin/bash
# The notes' example programs: each runs, writes a Graphviz picture with
# --dot that `dot -Tsvg` renders, with the labels we expect, and prints its
# trace with at least 7 significant digits.
# Usage: bash notes_dot.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?usage: notes_dot.sh BUILD_DIR SOURCE_DIR}
bin=$build/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

if ! command -v dot >/dev/null; then
    echo "FAIL: Graphviz's dot is not installed (apt-get install graphviz)"
    exit 1
fi

# check NAME LABEL...: run the example, render its picture, look for labels
# (each the whole text of one line of a node's label in the SVG).
check() {
    local name=$1
    shift
    if ! "$bin/$name" --dot "$work/$name.dot" >"$work/$name.out" 2>&1; then
        fail "$name exited with an error:"
        cat "$work/$name.out"
        return
    fi
    if ! dot -Tsvg "$work/$name.dot" -o "$work/$name.svg" 2>"$work/$name.err"; then
        fail "dot could not render $name.dot:"
        cat "$work/$name.err"
        return
    fi
    local label svg
    for label in "$@"; do
        # Graphviz writes a minus sign as the character reference &#45;.
        svg=$(printf '%s' "$label" | sed 's/-/\&#45;/g')
        grep -qF ">$svg</text>" "$work/$name.svg" || fail "$name.svg lacks the label \"$label\""
    done
}

check apple_orange apple_price apple_count orange_price orange_count tax \
    "value 715" "grad 650" "grad 2.2" "mul []"
check square_of_sum x y t z "value 25" "grad 10"
check sigmoid_graph x neg_x exp_neg_x denominator y y_fused "reciprocal []" "sigmoid []"
check two_layer_softmax W1 b1 W2 b2 z1 a1 z2 loss "softmax_with_loss []" \
    "value 0.631556" "grad [[-0.280942, 0.234118]]" "param [2, 2]"
check softmax_sse x y y_hat target sse "value 0.14" "grad [0.2, -0.6, 0.4]"
check another_example w2_5 u5 v5 "v3/v4" F L "grad -0.0576091" "value 1.74099"

# number LABEL FILE: the first number after "LABEL = " or "LABEL = [" or
# "LABEL = [[" on a line of FILE.
number() {
    sed -n "s/^$1 *= *\[*\(-\{0,1\}[0-9.e+-]*\).*/\1/p" "$2" | head -n 1
}

# digits NUMBER: its significant digits (no sign, point or leading zeros).
digits() {
    local mantissa=${1%%[eE]*}
    mantissa=$(printf '%s' "$mantissa" | tr -d -- '-.' | sed 's/^0*//')
    echo ${#mantissa}
}

# precise FILE LABEL EXPECTED: the printed number has >= 7 significant
# digits and is within 1e-6 of EXPECTED (computed with python3 from the
# formulas; float builds round in the 8th digit).
precise() {
    local got
    got=$(number "$2" "$work/$1.out")
    if [ -z "$got" ]; then
        fail "$1 does not print $2"
        return
    fi
    [ "$(digits "$got")" -ge 7 ] || fail "$1 prints $2 = $got with fewer than 7 significant digits"
    awk -v a="$got" -v b="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6) }' ||
        fail "$1 prints $2 = $got, expected $3"
}

precise two_layer_softmax a1 0.710949503      # sigmoid(0.9)
precise two_layer_softmax loss 0.631556184    # -log softmax(z2)_1
precise two_layer_softmax dX -0.017023245
precise another_example "dL\/dw_52" -0.0576090612
precise sigmoid_graph "y (1 - y)" 0.235003712 # sigmoid(0.5) (1 - sigmoid(0.5))
precise softmax_sse y 0.165636322             # e / (e + e^2 + e^1.5 + e^0.6)

# In the trace itself, every value line holds numbers of 9 digits where a
# number needs them: a1 = sigmoid(z1) of the two-layer example.
line=$(grep -A1 '\] a1 = sigmoid(z1)' "$work/two_layer_softmax.out" | tail -n 1)
first=$(echo "$line" | sed -n 's/.*value \[\[\([-0-9.e+]*\),.*/\1/p')
[ -n "$first" ] && [ "$(digits "$first")" -ge 7 ] ||
    fail "the trace's a1 line \"$line\" lacks a value with 7 significant digits"

# A wrong option is a usage error, not a crash.
"$bin/apple_orange" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "apple_orange --bogus should exit with status 2"

# expect STATUS TEXT NAME ARG...: run the example; it exits with STATUS and
# its stderr holds TEXT (stdout for status 0), and never "error:" with an
# empty reason.
expect() {
    local want=$1 text=$2 name=$3 rc
    shift 3
    "$bin/$name" "$@" >"$work/x.out" 2>"$work/x.err"
    rc=$?
    local where="$work/x.err"
    [ "$want" -eq 0 ] && where="$work/x.out"
    [ $rc -eq "$want" ] || fail "$name $*: exit $rc, expected $want ($(cat "$work/x.err"))"
    grep -qF -- "$text" "$where" || fail "$name $*: no \"$text\" in: $(cat "$where")"
    ! grep -qE ': *$' "$work/x.err" || fail "$name $*: a message with an empty reason: $(cat "$work/x.err")"
}
# The same options and number rules in every program; numbers as the CLI
# reads them: finite decimals only.
for name in apple_orange square_of_sum sigmoid_graph two_layer_softmax softmax_sse another_example; do
    expect 0 "usage: $name " "$name" --help
    expect 0 "--dot FILE" "$name" -h
    expect 2 "$name: --dot given twice (first '$work/a.dot')" "$name" --dot "$work/a.dot" --dot "$work/b.dot"
    [ ! -e "$work/a.dot" ] && [ ! -e "$work/b.dot" ] || fail "$name: --dot twice wrote a picture"
    expect 2 "$name: --dot needs a FILE" "$name" --dot
    expect 2 "$name: unknown option '--bogus'" "$name" --bogus
done
expect 2 "square_of_sum: x: '1e400' is too large" square_of_sum 1e400 2
expect 2 "square_of_sum: y: 'nan' is not a decimal number" square_of_sum 1 nan
expect 2 "square_of_sum: x: 'inf' is not a decimal number" square_of_sum inf 2
expect 2 "square_of_sum: x: '-inf' is not a decimal number" square_of_sum -inf 2
expect 2 "square_of_sum: x: '0x10' is not a decimal number" square_of_sum 0x10 2
expect 2 "square_of_sum: y: '2abc' is not a decimal number" square_of_sum 1 2abc
expect 2 "square_of_sum: x: '1e' is not a decimal number" square_of_sum 1e 2
expect 2 "square_of_sum: x: ' 1' is not a decimal number" square_of_sum " 1" 2
expect 2 "square_of_sum: give all the numbers or none (missing y)" square_of_sum 1
expect 2 "square_of_sum: unexpected argument '3'" square_of_sum 1 2 3
expect 2 "sigmoid_graph: x: '1e999' is too large" sigmoid_graph 1e999
expect 2 "apple_orange: unexpected argument '1'" apple_orange 1
expect 0 "x = -1.5, y = 0.5" square_of_sum -1.5 .5
expect 0 "z     = 4" square_of_sum 1e-400 2e0
# A picture that cannot be written: the path and the system's reason, once.
expect 1 "square_of_sum: writing the picture \"/nonexistent/x.dot\": cannot open: No such file or directory" \
    square_of_sum --dot /nonexistent/x.dot
expect 1 "square_of_sum: writing the picture \".\": cannot open: Is a directory" square_of_sum --dot .
[ "$(wc -l <"$work/x.err")" -eq 1 ] || fail "square_of_sum --dot .: more than one message: $(cat "$work/x.err")"
if [ -w /dev/full ]; then
    expect 1 "apple_orange: writing the picture \"/dev/full\": cannot write: No space left on device" \
        apple_orange --dot /dev/full
    [ "$(wc -l <"$work/x.err")" -eq 1 ] || fail "apple_orange --dot /dev/full: more than one message: $(cat "$work/x.err")"
fi

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "notes examples: all checks passed"
