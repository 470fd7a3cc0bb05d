#!/usr/bin/env bash
# The one data reader through the nabla command: train, eval and predict
# read CSV and IDX with the same rules (BOM, CRLF, quotes, delimiter and
# header detection, missing values, stdin and pipes, content over names),
# and labels mean the same classes everywhere.
# Usage: bash data_cli.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
expect_rows() { # N WHAT: stdout has N "row" lines
    local n
    n=$(grep -c '^row ' "$T/out")
    if [ "$n" -eq "$1" ]; then pass; else fail "$2: $n rows printed, expected $1"; fi
}

# A model with 2 inputs and 3 unnamed classes.
run "$NABLA" train --data spiral --model "dense:8,tanh,dense:3" --epochs 1 --quiet --out "$T/sp.st"
expect_rc 0 "train spiral"

# ------------------------------------------------------------ predict input
printf '\xef\xbb\xbf5.1,3.5\r\n4.9,3.0\r\n7.0,3.2\r\n' >"$T/bom.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/bom.csv"
expect_rc 0 "predict: BOM and CRLF"
expect_rows 3 "predict: a BOM keeps the first row"

printf '"len, cm","wid, cm"\n1,2\n3,4\n' >"$T/quoted.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/quoted.csv" --verbose
expect_rc 0 "predict: quoted header cells with commas"
expect_rows 2 "predict: quoted header is one header of 2 columns"
expect_err "header yes" "predict --verbose says the header was detected"

printf 'a\tb\n1\t2\n3\t4\n' >"$T/tab.tsv"
run "$NABLA" predict "$T/sp.st" --input "$T/tab.tsv" --verbose
expect_rc 0 "predict: tab-separated"
expect_rows 2 "predict: tab-separated rows"
expect_err "delimiter tab (detected" "predict --verbose says the delimiter was detected"
printf '1;2\n3;4\n' >"$T/semi.txt"
run "$NABLA" predict "$T/sp.st" --input "$T/semi.txt" --delimiter ';' --verbose
expect_rc 0 "predict --delimiter ;"
expect_err "delimiter ';' (given)" "predict --verbose says the delimiter was given"
run "$NABLA" predict "$T/sp.st" --input "$T/semi.txt" --delimiter ab
expect_rc 2 "predict --delimiter of two bytes is a usage error"

for first in 'nan,1' '1e400,2'; do
    printf '%s\n0.2,0.3\n' "$first" >"$T/first.csv"
    run "$NABLA" predict "$T/sp.st" --input "$T/first.csv"
    expect_rc 3 "predict: first row $first is data, and a bad one"
    expect_err "line 1, column 1" "predict: first row $first is named in the error"
done
printf '"0.5",1\n0.2,0.3\n' >"$T/first.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/first.csv" --verbose
expect_rc 0 "predict: a quoted number on line 1"
expect_rows 2 "predict: a quoted number on line 1 is data"
expect_err "header no (detected" "predict --verbose says line 1 is data"
run "$NABLA" predict "$T/sp.st" --input "$T/first.csv" --header yes
expect_rows 1 "predict --header yes"
run "$NABLA" predict "$T/sp.st" --input "$T/first.csv" --header maybe
expect_rc 2 "predict --header maybe is a usage error"

printf 'NA,1\n0.2,0.3\n' >"$T/na.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/na.csv"
expect_rc 3 "predict: NA on line 1"
expect_err "line 1, column 1" "predict: NA on line 1 is named"
printf '0.1,1\n0.2,?\n' >"$T/q.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/q.csv"
expect_err "line 2, column 2" "predict: ? on line 2 is named"

printf 'a,a\n1,2\n' >"$T/dup.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/dup.csv"
expect_rc 3 "predict: a column name twice"
expect_err "columns 1 and 2" "predict: a column name twice names both"

# Stdin and pipes: every row, once, beyond the first read window.
"$PY" -c 'import sys
for i in range(20000): sys.stdout.write("%d.5,-%d.25\n" % (i % 7, i % 5))' >"$T/many.csv"
run sh -c "cat '$T/many.csv' | '$NABLA' predict '$T/sp.st' --input -"
expect_rc 0 "predict --input - from a pipe"
expect_rows 20000 "predict --input - reads every row"
gzip -c "$T/many.csv" >"$T/many.gz"
run sh -c "cat '$T/many.gz' | '$NABLA' predict '$T/sp.st' --input /dev/stdin --json"
expect_rc 0 "predict --json from a gzip pipe"
if "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); assert len(o["predictions"]) == 20000 and o["predictions"][-1]["row"] == 20000' "$T/out"; then pass; else fail "predict --json streams every row"; fi

# Content decides: gzip twice, binary junk, IDX claiming too much.
gzip -c "$T/bom.csv" | gzip -c >"$T/twice.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/twice.csv"
expect_rc 3 "predict: gzip inside gzip"
expect_err "gzip inside gzip" "predict: gzip inside gzip is named"
printf 'PK\003\004junk' >"$T/junk.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/junk.csv"
expect_err "a zip archive, expected" "predict: binary junk is named"
printf '\0\0\010\002\004\0\0\0\0\0\0\002' >"$T/claim.idx"
run "$NABLA" predict "$T/sp.st" --input "$T/claim.idx"
expect_rc 3 "predict: IDX claiming 2^26 vectors in 12 bytes"
expect_err "truncated" "predict: IDX claim checked against the file size"
"$PY" -c 'import sys; sys.stdout.write("1," * 600000 + "2\n")' >"$T/long.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/long.csv"
expect_err "longer than the limit" "predict: a line over the limit"

# ---------------------------------------------------------------- labels
# No header and --label 1: the column, never a cell "1".
"$PY" -c 'import random, sys
random.seed(3)
for i in range(60):
    k = i % 2
    sys.stdout.write("%d,%s,%.3f\n" % (i % 2, ["setosa", "versicolor"][k], (5 if k else -5) + random.random()))' >"$T/iris.txt"
run "$NABLA" train --data "$T/iris.txt" --label 1 --model "dense:2" --epochs 30 --lr 0.1 --out "$T/iris.st"
expect_rc 0 "train on a CSV not named .csv with --label 1 and no header"
expect_err "label column 1" "train says which column is the label"
# Eval on the same rows, classes first seen in the other order: by name.
"$PY" -c 'import sys
rows = open(sys.argv[1]).read().splitlines()
rows = [r for r in rows if "versicolor" in r] + [r for r in rows if "setosa" in r]
open(sys.argv[2], "w").write("\n".join(rows) + "\n")' "$T/iris.txt" "$T/iris-swapped.txt"
run "$NABLA" eval "$T/iris.st" --data "$T/iris-swapped.txt" --json
expect_rc 0 "eval on reordered rows"
if "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["accuracy"] == 1, o["accuracy"]; assert o["class_names"] == ["setosa", "versicolor"]' "$T/out"; then pass; else fail "eval matches classes by name: $(head -c 300 "$T/out")"; fi
printf '0,virginica,1\n1,setosa,2\n' >"$T/unknown.txt"
run "$NABLA" eval "$T/iris.st" --data "$T/unknown.txt" --seed 1
expect_rc 3 "eval: a label the model does not know"
expect_err "virginica" "eval: the unknown label is named"
expect_err "line 1" "eval: the line of the unknown label is named"

# Integer labels 1..3: names sorted numerically, printed back by predict.
"$PY" -c 'import sys
for i in range(90): sys.stdout.write("%d,%d\n" % (10 * (i % 3), i % 3 + 1))' >"$T/onebased.csv"
run "$NABLA" train --data "$T/onebased.csv" --model "dense:3" --epochs 1 --quiet --out "$T/ob.st"
expect_rc 0 "train on labels 1..3 with 3 outputs"
printf '0\n' >"$T/x1.csv"
run "$NABLA" predict "$T/ob.st" --input "$T/x1.csv" --top 3
if grep -qE '^row 1: [123] [0-9.]+, [123] [0-9.]+, [123] [0-9.]+$' "$T/out"; then pass; else fail "predict prints class names 1..3: $(cat "$T/out")"; fi

# One class.
printf 'x,k\n1,a\n2,a\n3,a\n' >"$T/one.csv"
run "$NABLA" train --data "$T/one.csv" --model "dense:2" --epochs 1 --quiet
expect_rc 3 "train on one class"
expect_err "the data has one class" "one class: one message"
if [ "$(wc -l <"$T/err")" -eq 1 ]; then pass; else fail "one class: a single line: $(cat "$T/err")"; fi

# --label for data that is not CSV.
run "$NABLA" train --data spiral --label 1 --model "dense:3" --epochs 1 --quiet
expect_rc 2 "train --label on a built-in set"

finish
