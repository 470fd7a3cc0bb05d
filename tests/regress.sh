#!/usr/bin/env bash
# Regression end to end: a house-price CSV (targets 1e5..1e6) trains well
# with the defaults (targets z-scored, saved, inverted by predict); MAE, RMSE
# and R^2 in the original units in train, eval (text and JSON), the log,
# the report and the saved metrics; a warning when R^2 <= 0. Also: regression
# losses on named classes (one-hot targets), per-class tables aligned by
# display width for non-ASCII names, and non-finite values as errors.
# Usage: bash regress.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
if [ ! -x "$PY" ]; then
    echo "SKIP: $PY is needed"
    exit 77
fi

# ------------------------------------------------------------ house prices
# price = 2500 area + 20000 rooms - 1500 age + 80000 + noise (1e5..1e6).
"$PY" - "$T/house.csv" <<'EOF'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    f.write("area,rooms,age,price\n")
    for _ in range(400):
        area, rooms, age = r.uniform(40, 300), r.randint(1, 6), r.uniform(0, 80)
        price = 2500 * area + 20000 * rooms - 1500 * age + 80000 + r.gauss(0, 15000)
        f.write("%.1f,%d,%.1f,%.0f\n" % (area, rooms, age, price))
EOF
model="dense:16,relu,dense:1"
run "$NABLA" train --data "$T/house.csv" --regression --model "$model" --out "$T/house.st" \
    --report "$T/house.html"
expect_rc 0 "house prices train with the defaults"
expect_err "targets zscore" "the header names the target scaling"
expect_no_err "warning" "no R^2 warning for a good fit"
cp "$T/out" "$T/train.out"
expect_py "train prints MAE, RMSE and R^2 > 0.8 in price units" '
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"MAE ([0-9.e+]+), RMSE ([0-9.e+]+), R\u00b2 (-?[0-9.]+)", t)
assert m, t
mae, rmse, r2 = map(float, m.groups())
assert r2 > 0.8, t
assert 1e4 < mae < 1e5 and mae <= rmse < 2e5, t
' "$T/train.out"

run "$NABLA" eval "$T/house.st" --data "$T/house.csv" --json
expect_rc 0 "eval --json of the house model"
cp "$T/out" "$T/eval.json"
expect_py "eval --json: mae, rmse, r2 in price units, as train saved them" '
import json, sys
e = json.load(open(sys.argv[1]))
assert e["r2"] > 0.8 and 1e4 < e["mae"] < 1e5 and e["mae"] <= e["rmse"], e
assert e["accuracy"] is None, e
' "$T/eval.json"
run "$NABLA" info "$T/house.st" --json
expect_py "the saved metrics and settings name the target scaling" '
import json, sys
i = json.load(open(sys.argv[1]))
e = json.load(open(sys.argv[2]))
m, t = i["metrics"], i["training"]
assert t["scale_targets"] == "zscore", t
for k in ("mae", "rmse", "r2"):
    assert abs(m[k] - e[k]) <= 1e-6 * abs(e[k]), (k, m, e)
' "$T/out" "$T/eval.json"
expect_py "the report shows R^2, MAE and RMSE" '
import sys
h = open(sys.argv[1]).read()
for k in ("test R&sup2;", "test MAE", "test RMSE"):
    assert k in h, k
assert "no better than predicting the mean" not in h
' "$T/house.html"

# predict answers in prices: a 100 m^2, 3-room, 10-year house is
# 2500 * 100 + 60000 - 15000 + 80000 = 375000; 250, 5, 5 is 797500.
printf 'area,rooms,age\n100,3,10\n250,5,5\n' >"$T/new.csv"
run "$NABLA" predict "$T/house.st" --input "$T/new.csv" --json
expect_rc 0 "predict with the house model"
expect_py "predict prints prices within 20% of the formula" '
import json, sys
p = json.load(open(sys.argv[1]))["predictions"]
got = [r["values"][0] for r in p]
for g, w in zip(got, (375000, 797500)):
    assert abs(g - w) < 0.2 * w, (got, w)
' "$T/out"

# Hardly trained: R^2 <= 0, said as a warning (the run itself succeeded).
run "$NABLA" train --data "$T/house.csv" --regression --model "$model" --epochs 1 --lr 1e-4 \
    --quiet
expect_rc 0 "house prices, one slow epoch"
expect_err "warning: R² is" "R^2 <= 0 is warned about"
expect_err "no better than predicting the mean" "the warning says what it means"
run "$NABLA" train --data "$T/house.csv" --regression --model "$model" --scale-targets minmax \
    --epochs 40 --quiet --out "$T/minmax.st"
expect_rc 0 "house prices, targets minmax"
run "$NABLA" predict "$T/minmax.st" --input "$T/new.csv" --json
expect_py "minmax targets are inverted by predict too" '
import json, sys
p = json.load(open(sys.argv[1]))["predictions"]
assert all(1e5 < r["values"][0] < 2e6 for r in p), p
' "$T/out"

# The per-epoch log has validation MAE, RMSE and R^2.
run "$NABLA" train --data "$T/house.csv" --regression --model "$model" --val 0.2 --epochs 3 \
    --log "$T/log.jsonl" --quiet
expect_rc 0 "train with a validation part and a log"
expect_py "the log has val_mae, val_rmse and val_r2 per epoch" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
for r in rows:
    assert r["val_mae"] > 1000 and r["val_rmse"] >= r["val_mae"] and r["val_r2"] <= 1, r
assert rows[-1]["val_r2"] > rows[0]["val_r2"], rows
' "$T/log.jsonl"

# --scale-targets is for numeric targets only.
run "$NABLA" train --data xor --model dense:2 --scale-targets zscore
expect_rc 2 "--scale-targets on classes"
expect_err "has 2 classes, not numeric targets" "--scale-targets on classes says why"

# ------------------------------------------ regression losses on classes
"$PY" - "$T/named.csv" <<'EOF'
import random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    f.write("a,b,kind\n")
    for i in range(150):
        k = i % 3
        f.write("%.2f,%.2f,%s\n" % (k + r.gauss(0, .3), -k + r.gauss(0, .3), ["cat", "dog", "eel"][k]))
EOF
# The summed losses take a smaller rate (their gradients grow with the batch).
for cfg in "mse 0.1" "sse 0.005" "half_sse 0.01" "sae 0.005"; do
    set -- $cfg
    loss=$1
    run "$NABLA" train --data "$T/named.csv" --model dense:8,relu,dense:3 --loss "$loss" \
        --lr "$2" --epochs 50 --quiet --out "$T/$loss.st"
    expect_rc 0 "train --loss $loss on named classes"
    if grep -qE "accuracy (9[0-9]|100)\.[0-9]+%" "$T/out"; then pass; else
        fail "--loss $loss on classes: accuracy: $(head -c 300 "$T/out")"
    fi
done
run "$NABLA" eval "$T/mse.st" --data "$T/named.csv" --json
expect_rc 0 "eval of the mse classifier"
expect_py "eval: an mse model on classes reports accuracy and class names" '
import json, sys
e = json.load(open(sys.argv[1]))
assert e["accuracy"] > 0.9 and sorted(e["class_names"]) == ["cat", "dog", "eel"], e
assert "r2" not in e, e
' "$T/out"
printf 'a,b\n0,0\n2,-2\n' >"$T/named_in.csv"
run "$NABLA" predict "$T/mse.st" --input "$T/named_in.csv" --top 1
expect_rc 0 "predict with the mse classifier"
if grep -q "^row 1: cat" "$T/out" && grep -q "^row 2: eel" "$T/out"; then pass; else
    fail "predict names the argmax class: $(cat "$T/out")"
fi
run "$NABLA" predict "$T/mse.st" --input "$T/named_in.csv" --top 1 --json
expect_py "predict --json: an mse classifier's outputs are scores, not probabilities" '
import json, sys
p = json.load(open(sys.argv[1]))["predictions"]
assert [r["top"][0]["class"] for r in p] == ["cat", "eel"], p
assert all("score" in r["top"][0] and "probability" not in r["top"][0] for r in p), p
' "$T/out"

# ---------------------------------------- per-class tables, display width
{
    echo "x,name"
    for i in $(seq 0 59); do
        case $((i % 4)) in
        0) echo "$i.0,가방" ;;
        1) echo "$i.0,Éclair" ;;
        2) echo "$i.0,😀" ;;
        3) echo "$i.0,e" ;;
        esac
    done
} >"$T/utf8.csv"
run "$NABLA" train --data "$T/utf8.csv" --model dense:4 --epochs 2 --quiet --out "$T/utf8.st"
expect_rc 0 "train on classes with non-ASCII names"
run "$NABLA" eval "$T/utf8.st" --data "$T/utf8.csv"
expect_rc 0 "eval on classes with non-ASCII names"
cp "$T/out" "$T/utf8.out"
expect_py "per-class and confusion rows line up in terminal columns" '
import sys, unicodedata
def width(s):
    w = 0
    for c in s:
        if unicodedata.combining(c): continue
        w += 2 if unicodedata.east_asian_width(c) in "WF" else 1
    return w
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
i = next(k for k, l in enumerate(lines) if l.startswith("class "))
table = lines[i:i + 5]
assert len({width(l) for l in table}) == 1, table
assert any("가방" in l for l in table) and any("😀" in l for l in table), table
j = next(k for k, l in enumerate(lines) if l.startswith("confusion matrix"))
matrix = lines[j + 1:j + 6]
assert len({width(l) for l in matrix}) == 1, matrix
' "$T/utf8.out"

# ------------------------------------------------- non-finite values
run "$NABLA" train --data "$T/named.csv" --model dense:8,relu,dense:3 --epochs 5 --quiet \
    --out "$T/cls.st"
run "$NABLA" predict "$T/cls.st" --input "$T/named_in.csv" --top 1 --json
expect_py "predict --json: a softmax classifier gives probabilities" '
import json, sys
p = json.load(open(sys.argv[1]))["predictions"]
assert all(0 <= r["top"][0]["probability"] <= 1 for r in p), p
' "$T/out"
# Values near the largest finite number of the build, that z-scoring (a
# deviation below 1 here) takes past it.
if "$NABLA" --version | grep -q f64; then huge=1.7e308; else huge=3.3e38; fi
printf 'a,b\n1,2\n%s,1\n' "$huge" >"$T/huge.csv"
run "$NABLA" predict "$T/cls.st" --input "$T/huge.csv"
expect_rc 1 "predict: an input that overflows after scaling"
expect_err "row 2: predicting: input (after scaling) 0 (0-based) is inf" "predict names the row"
if grep -qi "nan" "$T/out"; then fail "predict printed NaN: $(cat "$T/out")"; else pass; fi
# Past the first chunk of rows: the row is counted over the whole input, as
# in the output, and the rows before it are printed.
{
    echo "a,b"
    for i in $(seq 299); do echo "1,2"; done
    echo "$huge,1"
} >"$T/huge_late.csv"
run "$NABLA" predict "$T/cls.st" --input "$T/huge_late.csv"
expect_rc 1 "predict: a bad row in a later chunk"
expect_err "row 300: predicting: input (after scaling) 0 (0-based) is inf" "predict names row 300"
if [ "$(grep -c '^row ' "$T/out")" -eq 299 ]; then pass; else fail "predict printed $(grep -c '^row ' "$T/out") rows before row 300, expected 299"; fi
{
    echo "a,b,kind"
    for i in $(seq 20); do
        echo "1,$huge,cat"
        echo "1,1,dog"
    done
} >"$T/huge_eval.csv"
run "$NABLA" eval "$T/cls.st" --data "$T/huge_eval.csv"
expect_rc 1 "eval: an input that overflows after scaling"
# The shuffled test part's sample is named by its line in the file: one
# of the lines holding the huge value.
bad_line=$(sed -n 's/.*: line \([0-9]*\) of the data: input (after scaling) 1 (0-based) is inf.*/\1/p' "$T/err")
if [ -n "$bad_line" ] && sed -n "${bad_line}p" "$T/huge_eval.csv" | grep -qF "$huge"; then
    pass
else
    fail "eval names line '$bad_line', not a line of the huge value: $(head -c 400 "$T/err")"
fi
if grep -q "accuracy" "$T/out"; then fail "eval printed metrics: $(cat "$T/out")"; else pass; fi
# One bad row among good ones, everywhere in the file: the exact line.
{
    echo "a,b,kind"
    for i in $(seq 20); do
        echo "1,1,cat"
        if [ "$i" -eq 13 ]; then echo "1,$huge,dog"; else echo "1,1,dog"; fi
    done
} >"$T/huge_one.csv"
want=$(grep -nF "$huge" "$T/huge_one.csv" | cut -d: -f1)
run "$NABLA" eval "$T/cls.st" --data "$T/huge_one.csv" --part all
expect_rc 1 "eval --part all: one input that overflows after scaling"
expect_err "evaluating on '$T/huge_one.csv': line $want of the data: input (after scaling) 1 (0-based) is inf" \
    "eval names the line of the bad row"

finish
