#!/usr/bin/env bash
# Option values: one strict number parser for every subcommand, exclusive
# range ends, options that need another setting, what a loss needs of the
# spec, and every such usage error exits 2 before any data is read (the data
# named here does not exist: had it been read first, the exit would be 3 and
# the message about the file); a --resume checkpoint that cannot be one
# exits 4, also before.
# Usage: bash args.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
MISSING="$T/missing.csv"

# usage_error TEXT ARGS...: exit 2, stderr has TEXT and the usage line, and
# says nothing about the (missing) data file.
usage_error() {
    local text=$1
    shift
    run "$NABLA" "$@"
    local what="nabla $*"
    if [ "$rc" -ne 2 ]; then
        fail "$what: exit $rc, expected 2; stderr: $(head -c 300 "$T/err")"
    elif ! grep -qF -- "$text" "$T/err"; then
        fail "$what: stderr does not say '$text': $(head -c 300 "$T/err")"
    elif ! grep -q "^usage: nabla" "$T/err"; then
        fail "$what: no usage line: $(head -c 300 "$T/err")"
    elif grep -qF "missing.csv" "$T/err"; then
        fail "$what: the data was opened before the options were checked"
    else
        pass
    fi
}

# accepted ARGS...: the options pass, so the missing data is what fails (3).
accepted() {
    run "$NABLA" "$@"
    if [ "$rc" -eq 3 ] && grep -qF "missing.csv" "$T/err"; then
        pass
    else
        fail "nabla $*: exit $rc, expected 3 (the data); stderr: $(head -c 300 "$T/err")"
    fi
}

if [ ! -x "$NABLA" ]; then
    echo "FAIL: $NABLA not built"
    exit 1
fi

train=(train --data "$MISSING" --model dense:2)

# ------------------------------------------------- ranges, ends excluded
usage_error "--lr: 0 is out of range (0, 1000000]" "${train[@]}" --lr 0
usage_error "--lr: -1 is out of range (0, 1000000]" "${train[@]}" --lr -1
usage_error "--gamma: 0 is out of range (0, 1000000]" "${train[@]}" --schedule step --gamma 0
usage_error "--momentum: 1 is out of range [0, 1)" "${train[@]}" --optimizer momentum --momentum 1
usage_error "--beta1: 1 is out of range [0, 1)" "${train[@]}" --optimizer adam --beta1 1
usage_error "--beta1: -0.1 is out of range [0, 1)" "${train[@]}" --optimizer adam --beta1 -0.1
usage_error "--beta2: 1 is out of range [0, 1)" "${train[@]}" --optimizer adamw --beta2 1
usage_error "--clip-norm: 0 is out of range (0," "${train[@]}" --clip-norm 0
usage_error "--target-loss: 0 is out of range (0," "${train[@]}" --target-loss 0
usage_error "--target-accuracy: 0 is out of range (0, 1]" "${train[@]}" --target-accuracy 0
usage_error "--target-accuracy: 1.5 is out of range (0, 1]" "${train[@]}" --target-accuracy 1.5
usage_error "--time-limit: 0 is out of range (0," "${train[@]}" --time-limit 0
usage_error "--patience: 0 is out of range [1," "${train[@]}" --patience 0
usage_error "--batch: 0 is out of range [1," "${train[@]}" --batch 0
usage_error "--epochs: 0 is out of range [1," "${train[@]}" --epochs 0
usage_error "--step-epochs: 0 is out of range [1," "${train[@]}" --schedule step --step-epochs 0
usage_error "--val: 1 is out of range [0, 0.99]" "${train[@]}" --val 1
usage_error "--weight-decay: -1 is out of range [0," "${train[@]}" --weight-decay -1
usage_error "--threads: 2000 is out of range [0, 1024]" "${train[@]}" --threads 2000
# The cosine schedule ends at --lr-min: it cannot be above the rate.
usage_error "--lr-min 0.5 is above the learning rate 0.1" \
    "${train[@]}" --schedule cosine --lr 0.1 --lr-min 0.5
usage_error "--lr-min 0.05 is above the learning rate 0.01 (the default of this optimizer)" \
    "${train[@]}" --schedule cosine --lr-min 0.05
accepted "${train[@]}" --schedule cosine --lr 0.1 --lr-min 0.1

# -------------------------------------- options that need another setting
usage_error "--momentum has no effect without --optimizer momentum or nesterov" \
    "${train[@]}" --momentum 0.5
usage_error "--beta1 has no effect without --optimizer adam or adamw" "${train[@]}" --beta1 0.8
usage_error "--beta2 has no effect without --optimizer adam or adamw" \
    "${train[@]}" --optimizer sgd --beta2 0.9
usage_error "--gamma has no effect without --schedule step" "${train[@]}" --gamma 0.5
usage_error "--step-epochs has no effect without --schedule step" "${train[@]}" --step-epochs 3
usage_error "--lr-min has no effect without --schedule cosine" "${train[@]}" --lr-min 0.001
usage_error "--checkpoint-every needs --checkpoint FILE" "${train[@]}" --checkpoint-every 2
usage_error "--scale-targets: unknown scaling 'unit' (none, minmax, zscore)" \
    "${train[@]}" --scale-targets unit
usage_error "--scale-targets: unknown scaling 'log'" "${train[@]}" --scale-targets log
accepted "${train[@]}" --optimizer nesterov --momentum 0.5 --scale-targets minmax
accepted "${train[@]}" --optimizer adam --beta1 0 --beta2 0.5 --schedule step --gamma 2 \
    --step-epochs 3

# ----------------------- what a loss needs, known from the options and spec
usage_error "--loss softmax_ce needs one output per class (2 or more), but the last dense layer of --model has 1 unit" \
    train --data "$MISSING" --model dense:4,tanh,dense:1 --loss softmax_ce
usage_error "--loss bce needs one output (one logit for two classes), but the last dense layer of --model has 10 units" \
    train --data "$MISSING" --model dense:4,tanh,dense:10 --loss bce
usage_error "--loss softmax_ce needs class labels, but --regression makes the label a number to fit" \
    "${train[@]}" --regression --loss softmax_ce
usage_error "--loss bce needs class labels, but --regression makes the label a number to fit" \
    train --data "$MISSING" --model dense:1 --regression --loss bce
usage_error "--scale-targets zscore applies to numeric targets, but --loss softmax_ce trains on class labels" \
    "${train[@]}" --loss softmax_ce --scale-targets zscore
usage_error "--target-accuracy needs class labels, but --regression makes the label a number to fit" \
    train --data "$MISSING" --model dense:1 --regression --target-accuracy 0.9
accepted train --data "$MISSING" --model dense:4,tanh,dense:1 --loss bce
accepted train --data "$MISSING" --model dense:4,tanh,dense:1 --regression --loss sae
accepted "${train[@]}" --loss softmax_ce --scale-targets none --target-accuracy 0.9

# --resume FILE that cannot be a checkpoint: exit 4 (as a bad model file)
# before the data is read, a FIFO never waited on.
mkfifo "$T/fifo"
mkdir "$T/folder"
for ck in "$T/none.ckpt:cannot open: No such file or directory" "$T/fifo:it is a FIFO, not a regular file" \
    "$T/folder:it is a folder, not a regular file"; do
    run "$NABLA" "${train[@]}" --resume "${ck%%:*}"
    if [ "$rc" -eq 4 ] && grep -qF "resuming from checkpoint \"${ck%%:*}\": ${ck#*:}" "$T/err" &&
        ! grep -qF missing.csv "$T/err"; then
        pass
    else
        fail "--resume ${ck%%:*}: exit $rc, expected 4 before the data: $(head -c 300 "$T/err")"
    fi
done

# The --val that --patience brings is named as such when it is too small.
run "$NABLA" train --data xor --model dense:4,tanh,dense:2 --patience 3
expect_rc 2 "--patience on xor's 4 samples"
expect_err "--patience needs a validation part, but its default --val 0.1 of 4 training samples leaves an empty part (give a larger --val)" \
    "--patience on xor's 4 samples"

# --------------------------------------------------- the number parser
for bad in " 5" "5 " "0x10" "5.0" "1e2" "5x" "" "+" "5-" "nan"; do
    usage_error "--batch: '$bad' is not a whole number" "${train[@]}" --batch "$bad"
done
for bad in " 0.1" "0.1 " "0x1p-3" "2e" "1e" "." "inf" "-inf" "nan" "1,5" "0.1.2" "1e+"; do
    usage_error "--lr: '$bad' is not a decimal number" "${train[@]}" --lr "$bad"
done
usage_error "--lr: '1e400' is too large" "${train[@]}" --lr 1e400
usage_error "--weight-decay: '-1e400' is too large" "${train[@]}" --weight-decay -1e400
# Too small for a double is a subnormal (or 0), not an error of its own.
accepted "${train[@]}" --lr 1e-320
accepted "${train[@]}" --lr 4.9e-324
usage_error "--lr: 1e-400 is out of range (0, 1000000]" "${train[@]}" --lr 1e-400
accepted "${train[@]}" --lr .5 --batch +7 --weight-decay 1E-3 --epochs 3
accepted "${train[@]}" --lr=5. --batch=007
for bad in " 1" "1 " "-1" "+1" "0x10" "1.5" "1e3"; do
    usage_error "--seed: '$bad' is not a number from 0 to 2^64-1" "${train[@]}" --seed "$bad"
done
usage_error "--seed: '18446744073709551616' is not a number" \
    "${train[@]}" --seed 18446744073709551616
accepted "${train[@]}" --seed 18446744073709551615

# --checkpoint-every: the same parser, then one unit letter.
ck=(--checkpoint "$T/c.ckpt" --checkpoint-every)
for bad in "2e" "0x10b" "0x10" " 1" "1 " "1.5" "1.5b" "0" "0m" "-1" "+2" "2mb" "m" "10s" \
    "1e400m" "inf" "nanm"; do
    usage_error "--checkpoint-every '$bad': expected N (epochs), Nm (minutes) or Nb (batches)" \
        "${train[@]}" "${ck[@]}" "$bad"
done
for good in 2 10m 0.5m 500b 1e3b 1e-320m; do
    accepted "${train[@]}" "${ck[@]}" "$good"
done

# ------------------------------------------------ the other subcommands
usage_error "--tolerance: -1 is out of range [0," gradcheck --model dense:3 --data "$MISSING" \
    --tolerance -1
usage_error "--eps: 0 is out of range [1e-12, 1]" gradcheck --model dense:3 --data "$MISSING" \
    --eps 0
usage_error "--samples: ' 4' is not a whole number" gradcheck --model dense:3 --data "$MISSING" \
    --samples " 4"
usage_error "--loss: unknown loss \"nope\"" gradcheck --model dense:3 --data "$MISSING" --loss nope
usage_error "--top: 0 is out of range [1, 64]" predict "$T/m.st" --input "$MISSING" --top 0
usage_error "--top: '3 ' is not a whole number" predict "$T/m.st" --input "$MISSING" --top "3 "
usage_error "--seed: ' 1' is not a number" eval "$T/m.st" --data "$MISSING" --seed " 1"

# ------------------------------------------------ --help and --version
# A subcommand's --help wins wherever it is (a command typed half-way asks
# for its options); the top level's --version takes nothing else, --help
# (help, -h) one command name at most.
for args in "train --help extra" "train --data $MISSING --help" "eval -h $T/m.st"; do
    # shellcheck disable=SC2086
    run "$NABLA" $args
    if [ "$rc" -eq 0 ] && grep -q "^usage: nabla" "$T/out"; then pass; else
        fail "nabla $args: exit $rc, expected 0 and the help"
    fi
done
for args in "--version x" "--help x" "help nope"; do
    # shellcheck disable=SC2086
    run "$NABLA" $args
    expect_rc 2 "nabla $args"
done
run "$NABLA" --version x
expect_err "nabla: --version takes no arguments (got 'x')" "nabla --version x"
run "$NABLA" help train
expect_rc 0 "nabla help train"
if head -1 "$T/out" | grep -q "^usage: nabla train"; then pass; else fail "nabla help train shows train's help"; fi

# A resume refused for a setting names both numbers as typed (the shortest
# text that reads back as the same double), not 0.10000000000000001.
xor=(train --data xor --model dense:4,tanh,dense:2 --optimizer momentum --epochs 2 --quiet)
run "$NABLA" "${xor[@]}" --lr 0.1 --checkpoint "$T/r.ckpt"
expect_rc 0 "a run that writes a checkpoint"
run "$NABLA" "${xor[@]}" --lr 0.3 --resume "$T/r.ckpt"
expect_rc 4 "resuming with another --lr"
expect_err "it was written with optimizer lr 0.1, this run has 0.3; resume with the same settings" \
    "resuming with another --lr"
run "$NABLA" "${xor[@]}" --lr 0.1 --momentum 0.95 --resume "$T/r.ckpt"
expect_err "it was written with optimizer momentum 0.9, this run has 0.95;" "resuming with another --momentum"
# Two doubles 1 ulp apart still print apart.
run "$NABLA" "${xor[@]}" --lr 0.10000000000000002 --resume "$T/r.ckpt"
expect_err "it was written with optimizer lr 0.1, this run has 0.10000000000000002;" \
    "resuming with --lr 1 ulp away"

# Regression has one target column: a comma in --label is part of the name,
# and the message says so when that name is not found.
printf 'x,y1,y2\n1,2,3\n2,3,4\n3,4,5\n' >"$T/two.csv"
run "$NABLA" train --data "$T/two.csv" --regression --label y1,y2 --model dense:1 --quiet
expect_rc 3 "--regression --label y1,y2"
expect_err 'label column "y1,y2" not found in the header (line 1: "x", "y1", "y2"); one label column is expected and the comma is taken as part of its name (several target columns are not supported yet)' \
    "--regression --label y1,y2"

# The top-level help: one command name at most, no options, no value.
run "$NABLA" help train extra
expect_rc 2 "nabla help train extra"
expect_err "nabla: help takes one command name (got 'train extra')" "nabla help train extra"
run "$NABLA" --help --version
expect_rc 2 "nabla --help --version"
expect_err "nabla: --help takes no options, only a command name (got '--version')" "nabla --help --version"
expect_no_err "unknown command" "nabla --help --version"
run "$NABLA" help help
expect_rc 0 "nabla help help"
if head -1 "$T/out" | grep -q "^usage: nabla <command>"; then pass; else fail "nabla help help shows the top-level help"; fi
run "$NABLA" info "$T/m.st" --help=1
expect_rc 2 "nabla info --help=1"
expect_err "nabla info: --help takes no value" "nabla info --help=1"
# Typed text in these messages is escaped.
run "$NABLA" help "$(printf 'x\033[31m')"
expect_err "nabla: unknown command 'x\x1b[31m'" "an unknown command name is escaped"
run "$NABLA" info "$T/m.st" "--nope$(printf '\302\233')"
expect_err "unknown option '--nope\u009b'" "an unknown option is escaped"

finish
