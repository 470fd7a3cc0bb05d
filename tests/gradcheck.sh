#!/usr/bin/env bash
# nabla gradcheck prepares the data and the model as train does: numeric
# targets are scaled (house prices of 1e5..1e6 check clean), the CSV
# options apply, and every spec, loss or option that train refuses for the
# data is refused with the same exit code and message.
# Usage: bash gradcheck.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"

# A house-price table: prices 1e5..1e6 from three features, and the same
# with ';' and no header; a 3-class table.
awk 'BEGIN {
    print "area,rooms,age,price"
    for (i = 0; i < 60; i++) {
        area = 40 + (i * 37) % 260; rooms = 1 + i % 6; age = (i * 13) % 80
        printf "%d,%d,%d,%d\n", area, rooms, age, 100000 + 3000 * area + 20000 * rooms - 1000 * age
    }
}' >"$T/house.csv"
tail -n +2 "$T/house.csv" | tr , ';' >"$T/house_semi.csv"
awk 'BEGIN {
    print "a,b,c,d,species"
    for (i = 0; i < 30; i++)
        printf "%d,%d,%d,%d,%s\n", i % 7, i % 5, i % 3, i % 11, (i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z")
}' >"$T/three.csv"

# passes WHAT ARGS...: gradcheck exits 0 and says passed.
passes() {
    local what=$1
    shift
    run "$NABLA" gradcheck "$@"
    if [ "$rc" -eq 0 ] && grep -q "^passed" "$T/out"; then
        pass
    else
        fail "$what: exit $rc, expected 0; $(cat "$T/out") $(head -c 400 "$T/err")"
    fi
}

# same_refusal WANT ARGS...: train and gradcheck both exit WANT with the same
# first error line (after "nabla <command>: ").
same_refusal() {
    local want=$1
    shift
    run "$NABLA" train --epochs 1 --quiet "$@"
    local train_rc=$rc train_msg
    train_msg=$(grep -m1 "^nabla train: " "$T/err" | sed 's/^nabla train: //')
    run "$NABLA" gradcheck "$@"
    local msg
    msg=$(grep -m1 "^nabla gradcheck: " "$T/err" | sed 's/^nabla gradcheck: //')
    if [ "$train_rc" -ne "$want" ]; then
        fail "train $*: exit $train_rc, expected $want"
    elif [ "$rc" -ne "$want" ]; then
        fail "gradcheck $*: exit $rc, expected $want (train: $train_msg); $(head -c 300 "$T/out")"
    elif [ -z "$msg" ] || [ "$msg" != "$train_msg" ]; then
        fail "gradcheck $*: says '$msg', train says '$train_msg'"
    else
        pass
    fi
}

# ------------------------------------------- the same data as train sees
# Unscaled, prices of 1e5..1e6 make a loss of about 1e11, which no finite
# difference can resolve (every tensor failed with relative error 1).
passes "regression targets of 1e5..1e6" --model dense:4,tanh,dense:1 --data "$T/house.csv" \
    --regression
passes "the CSV options as train's" --model dense:4,tanh,dense:1 --data "$T/house_semi.csv" \
    --regression --delimiter ';' --header no
passes "--label by name" --model dense:4,tanh,dense:1 --data "$T/house.csv" --label price \
    --regression --scale minmax --scale-targets minmax
passes "classes from a CSV" --model dense:4,tanh,dense:3 --data "$T/three.csv"
passes "bce on 2 classes" --model dense:4,tanh,dense:1 --data body --loss bce
passes "mse on one-hot classes" --model dense:4,tanh,dense:3 --data spiral --loss mse
passes "sine" --model dense:6,sigmoid,dense:1 --data sine --samples 8

# ---------------------------- what train refuses, refused the same way
same_refusal 2 --model dense:4,tanh,dense:2 --data sine
same_refusal 2 --model dense:4,tanh,dense:5 --data "$T/three.csv"
same_refusal 2 --model dense:4,tanh,dense:3 --data "$T/house.csv" --regression
same_refusal 2 --model dense:4,tanh,dense:3 --data spiral --loss bce
same_refusal 2 --model dense:4,tanh,dense:1 --data sine --loss softmax_ce
same_refusal 2 --model dense:4,tanh,dense:1 --data "$T/house.csv" --regression --loss bce
same_refusal 2 --model dense:4,tanh,dense:3 --data spiral --regression
same_refusal 2 --model dense:4,tanh,dense:3 --data spiral --label 1
same_refusal 2 --model dense:4,tanh,dense:3 --data spiral --scale-targets zscore
same_refusal 2 --model dense:4,tanh,dense:3 --data spiral --scale bogus
same_refusal 2 --model dense:4,tanh,dense:3 --data spiral --header maybe
same_refusal 3 --model dense:4,tanh,dense:3 --data "$T/house.csv" --label nope
# The messages name the problem and both numbers.
run "$NABLA" gradcheck --model dense:4,tanh,dense:2 --data sine
expect_err "the last dense layer has 2 units, but the data has 1 regression target" \
    "the message says both numbers"
expect_err "usage: nabla gradcheck" "a usage error prints the usage line"
run "$NABLA" gradcheck --model dense:4,tanh,dense:3 --data spiral --regression
expect_rc 2 "--regression with a built-in set"
expect_err "regression (--regression) applies to CSV data, but spiral is a built-in data set" "says why"

finish
