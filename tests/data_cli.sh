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
run "$NABLA" eval "$T/iris.st" --data "$T/unknown.txt"
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

# ------------------------------------------- labels saved by train (3, 7)
"$PY" -c 'import random, sys
random.seed(5)
names = ["setosa", "versicolor", "virginica"]
sys.stdout.write("a,b,c,d,species\n")
for i in range(90):
    k = i % 3
    sys.stdout.write("%.2f,%.2f,%.2f,%.2f,%s\n" % (k + random.random(), random.random(), 2 * k + random.random(), random.random(), names[k]))' >"$T/iris.csv"
tail -n +2 "$T/iris.csv" >"$T/iris-nohead.csv"
run "$NABLA" train --data "$T/iris.csv" --model "dense:4,tanh,dense:3" --epochs 2 --quiet --out "$T/ir.st"
expect_rc 0 "train iris with the default (last) label column"
expect_py "train saves the resolved label column" 'import json,struct,sys
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]
t=json.loads(json.loads(b[8:8+n])["__metadata__"]["training"]); assert t["label"] == "species", t' "$T/ir.st"
run "$NABLA" predict "$T/ir.st" --input "$T/iris.csv"
expect_rc 0 "predict skips the training label column of the training file"
expect_rows 90 "predict: every row of the training file"
"$PY" -c 'import random, sys
random.seed(6)
sys.stdout.write("sqft,rooms,age,price\n")
for i in range(40):
    a, r, g = random.random(), random.random(), random.random()
    sys.stdout.write("%.3f,%.3f,%.3f,%.3f\n" % (a, r, g, 3 * a + r - g))' >"$T/house.csv"
run "$NABLA" train --data "$T/house.csv" --regression --model "dense:4,tanh,dense:1" --epochs 2 --quiet --out "$T/house.st"
run "$NABLA" predict "$T/house.st" --input "$T/house.csv"
expect_rc 0 "predict on a regression model's training file (default label)"
expect_rows 40 "predict: regression rows"
run "$NABLA" predict "$T/house.st" --input "$T/house.csv" --top 2
expect_rc 2 "predict --top on a regression model"
expect_err "--top: model $T/house.st is a regression model" "predict --top: the reason"
# An older model without a saved label: the last column, as train's default.
"$PY" -c 'import json,struct,sys
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]
h=json.loads(b[8:8+n]); t=json.loads(h["__metadata__"]["training"]); del t["label"]
h["__metadata__"]["training"]=json.dumps(t); j=json.dumps(h).encode(); j+=b" "*((8-len(j)%8)%8)
open(sys.argv[2],"wb").write(struct.pack("<Q",len(j))+j+b[8+n:])' "$T/house.st" "$T/house-old.st"
run "$NABLA" predict "$T/house-old.st" --input "$T/house.csv"
expect_rc 0 "predict with a model saved without a label (older files)"
run "$NABLA" eval "$T/house-old.st" --data "$T/house.csv"
expect_rc 0 "eval with a model saved without a label"
# The model's label, not one the user typed, is named as the model's.
run "$NABLA" eval "$T/ir.st" --data "$T/house.csv"
expect_rc 3 "eval: the model's label is not in the file"
expect_err "the model's training label column \"species\" not found in the header" "eval: names the label as the model's"
expect_err "give --label COL" "eval: says which option helps"
run "$NABLA" eval "$T/ir.st" --data "$T/iris-nohead.csv"
expect_rc 3 "eval: a headerless copy"
expect_err "the file has no header (line 1 holds numbers" "eval: a data row is never called the header"
expect_no_err "in the header" "eval: headerless: no header named"
run "$NABLA" eval "$T/ir.st" --data "$T/iris-nohead.csv" --label 4
expect_rc 0 "eval: a headerless copy with --label 4"
run "$NABLA" predict "$T/ir.st" --input "$T/iris-nohead.csv"
expect_rc 3 "predict: a headerless copy"
expect_err "the file has no header" "predict: a data row is never called the header"
run "$NABLA" eval "$T/ir.st" --data spiral
expect_rc 3 "eval a CSV model on a built-in set"
expect_err "2 features, but 4 are expected" "eval: the feature counts differ"
expect_no_err "label column" "eval: no label blamed"

# ------------------------------------------------------- --regression (6)
run "$NABLA" eval "$T/ir.st" --data "$T/iris.csv" --regression
expect_rc 2 "eval --regression on a classifier"
expect_err "--regression: model $T/ir.st is a classifier (3 classes)" "eval --regression: the reason"
expect_no_err "nb_" "eval --regression: no internal names"

# ----------------------------------------------------------- --part (1, 5, 15)
run "$NABLA" eval "$T/ir.st" --data "$T/iris.csv" --json
expect_py "eval on the training file: its test part" 'import json,sys; o=json.load(open(sys.argv[1])); assert o["part"] == "test" and o["samples"] == 27, o' "$T/out"
# The same file however its path is written, from another folder (1): a
# model trained with the relative path iris.csv.
(cd "$T" && "$NABLA" train --data iris.csv --model "dense:4,tanh,dense:3" --epochs 2 --quiet --out rel.st >/dev/null 2>&1)
mkdir -p "$T/sub"
(cd "$T/sub" && "$NABLA" eval ../rel.st --data ../iris.csv >"$T/out" 2>"$T/err")
if grep -q "(the model's own test part: 27 samples)" "$T/out" && grep -q "^test: 27 samples" "$T/out"; then pass; else fail "eval ../iris.csv from a subfolder: $(head -1 "$T/out")"; fi
# A byte-for-byte copy is the same data: its test part too.
cp "$T/iris.csv" "$T/sub/copy.csv"
run "$NABLA" eval "$T/ir.st" --data "$T/sub/copy.csv" --json
expect_py "eval on a copy of the training file: its test part" 'import json,sys; o=json.load(open(sys.argv[1])); assert o["part"] == "test" and o["samples"] == 27, o' "$T/out"
# Another file of the same name (the rows reversed) in another folder.
mkdir -p "$T/other"
"$PY" -c 'import sys
rows = open(sys.argv[1]).read().splitlines()
open(sys.argv[2], "w").write("\n".join(rows[:1] + rows[:0:-1]) + "\n")' "$T/iris.csv" "$T/other/iris.csv"
(cd "$T/other" && "$NABLA" eval ../rel.st --data iris.csv --json >"$T/out" 2>"$T/err")
expect_py "eval on another iris.csv: every row" 'import json,sys; o=json.load(open(sys.argv[1])); assert o["part"] == "all" and o["samples"] == 90, o' "$T/out"
cp "$T/other/iris.csv" "$T/holdout.csv"
run "$NABLA" eval "$T/ir.st" --data "$T/holdout.csv"
if grep -q "(every row: 90 samples; not the data the model was tested on)" "$T/out"; then pass; else fail "eval says which part and why: $(head -1 "$T/out")"; fi
if grep -q "^all: 90 samples, loss" "$T/out" && ! grep -q "^test:" "$T/out"; then pass; else fail "eval of every row says all:, not test: $(sed -n 2p "$T/out")"; fi
run "$NABLA" eval "$T/ir.st" --data "$T/iris.csv" --part all
if grep -q "(every row: 90 samples)" "$T/out" && grep -q "^all: 90 samples" "$T/out"; then pass; else fail "eval --part all: $(head -2 "$T/out")"; fi
run "$NABLA" eval "$T/ir.st" --data "$T/holdout.csv" --part test
if grep -q "(the test part: 27 samples)" "$T/out"; then pass; else fail "eval --part test: $(head -1 "$T/out")"; fi
# A model saved without a fingerprint (older files): every row of a file.
"$PY" -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
t = json.loads(h["__metadata__"]["training"])
del t["test_fingerprint"]
h["__metadata__"]["training"] = json.dumps(t)
j = json.dumps(h).encode()
j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b[8 + n:])' "$T/ir.st" "$T/old.st"
run "$NABLA" eval "$T/old.st" --data "$T/iris.csv"
if grep -q "(every row: 90 samples; the model records no test part to compare)" "$T/out"; then pass; else fail "eval, model without a fingerprint: $(head -1 "$T/out") $(cat "$T/err")"; fi
# Batches as in training: the loss is the saved one to the last bit (6).
run "$NABLA" train --data "$T/iris.csv" --model "dense:4,tanh,dense:3" --epochs 2 --batch 10 --quiet --out "$T/b10.st"
expect_rc 0 "train --batch 10"
"$NABLA" info "$T/b10.st" --json >"$T/info.json"
run "$NABLA" eval "$T/b10.st" --data "$T/iris.csv" --json
expect_py "eval --json is the saved metrics object plus model, data, part" 'import json,sys
o = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))["metrics"]
assert o["loss"] == m["loss"], (o["loss"], m["loss"])
assert set(o) - set(m) == {"model", "data", "part"} and all(o[k] == m[k] for k in m), (o, m)' "$T/out" "$T/info.json"
run "$NABLA" eval "$T/ir.st" --data "$T/iris.csv" --part half
expect_rc 2 "eval --part half"

# --------------------------------------- options that cannot apply (9, 12)
run "$NABLA" eval "$T/sp.st" --data spiral --header yes
expect_rc 2 "eval --header with a built-in set"
expect_err "a header setting (--header) applies to CSV data, but spiral is a built-in data set" "eval --header: the reason"
run "$NABLA" train --data spiral --delimiter ';' --model "dense:3" --epochs 1 --quiet
expect_rc 2 "train --delimiter with a built-in set"
run "$NABLA" eval "$T/sp.st" --data xor --seed 5
expect_rc 2 "eval --seed with xor"
expect_err "--seed: the parts of xor are fixed" "eval --seed xor: the reason"
run "$NABLA" eval "$T/ir.st" --data "$T/holdout.csv" --seed 5 --part all
expect_rc 2 "eval --seed with --part all"
run "$NABLA" eval "$T/ir.st" --data "$T/holdout.csv" --seed 5 --json
expect_py "eval --seed on another file: its seeded test part" 'import json,sys; o=json.load(open(sys.argv[1])); assert o["part"] == "test" and o["samples"] == 27, o' "$T/out"
run "$NABLA" predict "$T/sp.st" --input "$T/bom.csv" --delimiter '"'
expect_rc 2 "predict --delimiter '\"'"
expect_err "cannot be the delimiter: it quotes cells" "--delimiter '\"': the reason"
printf '1,2\r3,4\r' >"$T/cr.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/cr.csv"
expect_rc 3 "predict: CR-only line ends"
expect_err "old Mac" "CR-only line ends: a hint"
printf '3.5e38,1\n1,2\n' >"$T/big.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/big.csv"
expect_no_err "header" "a number out of range gets no header hint"
printf 'NA,\n1,2\n' >"$T/emptyname.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/emptyname.csv"
expect_err "give --header yes" "a missing cell on line 1 gets the header hint"

# --------------------------------------------------------- IDX folders (4, 9, 13)
"$PY" -c 'import gzip, struct, sys
d = sys.argv[1]
def write(prefix, n):
    img = struct.pack(">IIII", 0x803, n, 2, 2) + bytes((i * 37 + j * 11) % 256 for i in range(n) for j in range(4))
    lab = struct.pack(">II", 0x801, n) + bytes(i % 3 for i in range(n))
    open("%s/%s-images-idx3-ubyte" % (d, prefix), "wb").write(img)
    open("%s/%s-labels-idx1-ubyte" % (d, prefix), "wb").write(lab)
write("train", 30); write("t10k", 9)' "$(mkdir -p "$T/idx" && echo "$T/idx")"
run "$NABLA" train --data "$T/idx" --model "dense:3" --epochs 1 --quiet --out "$T/idx.st"
expect_rc 0 "train on an IDX folder"
run "$NABLA" eval "$T/idx.st" --data "$T/idx" --json
expect_py "eval on an IDX folder: its t10k part" 'import json,sys; o=json.load(open(sys.argv[1])); assert o["part"] == "test" and o["samples"] == 9, o' "$T/out"
run "$NABLA" eval "$T/idx.st" --data "$T/idx" --part all --json
expect_py "eval --part all on an IDX folder: both parts" 'import json,sys; o=json.load(open(sys.argv[1])); assert o["part"] == "all" and o["samples"] == 39, o' "$T/out"
run "$NABLA" eval "$T/idx.st" --data "$T/idx" --seed 3
expect_rc 2 "eval --seed with an IDX folder"
run "$NABLA" eval "$T/idx.st" --data "$T/idx" --header no
expect_rc 2 "eval --header with an IDX folder"
run "$NABLA" predict "$T/idx.st" --input "$T/idx/t10k-images-idx3-ubyte" --delimiter ';'
expect_rc 2 "predict --delimiter with an IDX input"
expect_err "applies to CSV input, but $T/idx/t10k-images-idx3-ubyte is an IDX file" "predict --delimiter IDX: the reason"
# Integer labels 0..K-1 with a named model: by index.
printf 'a,b,c,d,k\n1,2,3,4,0\n1,2,3,4,2\n' >"$T/indexed.csv"
run "$NABLA" eval "$T/ir.st" --data "$T/indexed.csv" --label k
expect_rc 0 "eval: integer labels 0..K-1 match a named model by index"
printf 'a,b,c,d,k\n1,2,3,4,7\n' >"$T/indexed7.csv"
run "$NABLA" eval "$T/ir.st" --data "$T/indexed7.csv" --label k
expect_rc 3 "eval: an integer label out of range"
expect_err "or an index 0..2" "eval: the index rule is said"
# Both X and X.gz: ambiguous.
gzip -k "$T/idx/t10k-labels-idx1-ubyte"
run "$NABLA" eval "$T/idx.st" --data "$T/idx"
expect_rc 3 "eval: an IDX folder with both a file and its .gz"
expect_err "both t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte.gz" "the two files are named"
rm "$T/idx/t10k-labels-idx1-ubyte.gz"

# Labels mixing 1 and 1.0 with a word: the same number twice is refused.
printf 'x,k\n1,1\n2,1.0\n3,cat\n4,cat\n' >"$T/mixed.csv"
run "$NABLA" train --data "$T/mixed.csv" --model "dense:3" --epochs 1 --quiet
expect_rc 3 "train: labels 1 and 1.0 among text"
expect_err "are the same number" "labels 1 and 1.0: refused naming both"

# Names the model file would refuse are data problems, found before training.
printf 'a,b,kind\n1,2,caf\xe9\n2,3,tea\n3,4,tea\n4,1,caf\xe9\n5,5,tea\n1,1,caf\xe9\n' >"$T/latin1.csv"
run "$NABLA" train --data "$T/latin1.csv" --model "dense:2" --epochs 1 --out "$T/latin1.st"
expect_rc 3 "train: a class name that is not UTF-8"
expect_err "class name 0 (\"caf\\xe9\") has byte 0xe9 at byte 3, which is not UTF-8" "the name is quoted escaped"
if grep -q "^epoch" "$T/err" || [ -e "$T/latin1.st" ]; then fail "trained on a class name the model refuses"; else pass; fi
printf 'a,"b\xe2\x80\x8bx",kind\n1,2,1\n2,3,2\n3,4,3\n4,1,4\n5,5,5\n' >"$T/zw.csv"
run "$NABLA" train --data "$T/zw.csv" --label "$(printf 'b\xe2\x80\x8bx')" --regression --model dense:1 \
    --epochs 1 --out "$T/zw.st"
expect_rc 3 "train: a label column name with a zero-width space"
expect_err '"label" ("b\u200bx") has the invisible or format character U+200B' "the label is refused before training"
if grep -q "^epoch" "$T/err" || [ -e "$T/zw.st" ]; then fail "trained with a label the model refuses"; else pass; fi

# ------------------------------------------------- file text in messages
# Cells, header names and file names are quoted escaped: no control,
# invisible or invalid byte of a file or a typed name reaches stderr raw.
expect_clean_err() { # WHAT: stderr is UTF-8 text with no control or invisible character
    expect_py "$1: a raw byte reaches stderr" '
import sys, unicodedata
b = open(sys.argv[1], "rb").read()
t = b.decode("utf-8")  # invalid UTF-8 raises
bad = [c for c in t if (c != "\n" and unicodedata.category(c) in ("Cc", "Cf"))]
assert not bad, "raw characters %r in %r" % (bad, t)' "$T/err"
}
printf 'a,b,y\n1,2\xc2\x9b31m,x\n3,4,z\n' >"$T/c1.csv"
run "$NABLA" train --data "$T/c1.csv" --model dense:2,dense:2
expect_rc 3 "train: a cell with a C1 CSI"
expect_err 'bad cell "2\u009b31m": not a number' "a C1 control in a cell is escaped"
expect_clean_err "a C1 control in a cell"
printf 'a,b,y\n1,2\xe2\x80\xae31,x\n3,4,z\n' >"$T/rlo.csv"
run "$NABLA" train --data "$T/rlo.csv" --model dense:2,dense:2
expect_rc 3 "train: a cell with U+202E"
expect_err 'bad cell "2\u202e31": not a number' "a bidi override in a cell is escaped"
expect_clean_err "a bidi override in a cell"
printf 'a,b,y\n1,2\x80,x\n3,4,z\n' >"$T/byte.csv"
run "$NABLA" train --data "$T/byte.csv" --model dense:2,dense:2
expect_rc 3 "train: a cell with a raw 0x80 byte"
expect_err 'bad cell "2\x80": not a number' "a byte that is not UTF-8 is escaped"
expect_clean_err "a raw 0x80 byte in a cell"
printf '\xe2\x80\xaea,b,y\n1,2,x\n3,4,z\n5,6,x\n7,8,z\n1,3,x\n3,5,z\n5,7,x\n7,9,z\n' >"$T/hdr.csv"
run "$NABLA" train --data "$T/hdr.csv" --model dense:2,dense:2 --epochs 1 --out "$T/hdr.st"
expect_rc 0 "train: a header cell with U+202E"
expect_err 'header yes (detected: cell "\u202ea" of column 1 on line 1 is text)' \
    "train's data line quotes the header cell escaped"
expect_clean_err "train's data line with a bidi override in the header"
printf '\xe2\x80\xaea,b\n1,2\n3,4\n' >"$T/hdr_in.csv"
run "$NABLA" predict "$T/sp.st" --input "$T/hdr_in.csv" --verbose
expect_rc 0 "predict --verbose: a header cell with U+202E"
expect_err 'header yes (detected: cell "\u202ea" of column 1 on line 1 is text)' \
    "predict's data line quotes the header cell escaped"
expect_clean_err "predict's data line with a bidi override in the header"
run "$NABLA" train --data "$T/nofile$(printf '\033')[31m.csv" --model dense:2,dense:2
expect_rc 3 "train: a --data name with ESC that does not exist"
expect_err 'nofile\x1b[31m.csv' "the --data name is escaped"
expect_clean_err "a --data name with ESC"
cp "$T/hdr.csv" "$T/e$(printf '\033')[31m.csv"
run "$NABLA" train --data "$T/e$(printf '\033')[31m.csv" --model dense:2,dense:2 --epochs 1 --quiet \
    --out "$T/e.st"
expect_rc 0 "train: a --data file whose name has ESC"
run "$NABLA" train --data "$T/e$(printf '\033')[31m.csv" --model dense:2,dense:2 --epochs 1 \
    --out "$T/e.st"
expect_err 'e\x1b[31m.csv: CSV' "the data lines escape the file name"
expect_clean_err "the data lines of a file whose name has ESC"
printf 'a,b,y\n1,2,x\n3,4,\xe2\x80\xaez\n' >"$T/cls.csv"
run "$NABLA" eval "$T/hdr.st" --data "$T/cls.csv"
expect_err '"\u202ez"' "a class label the model does not know is quoted escaped"
expect_clean_err "an unknown class label with a bidi override"

# Prices read as class labels: the message suggests --regression.
"$PY" -c '
import random
r = random.Random(1)
print("area,rooms,price")
for i in range(300):
    a = r.randint(50, 200); b = r.randint(1, 5)
    print(a, b, 2500 * a + 20000 * b + r.randint(0, 50000), sep=",")
' >"$T/prices.csv"
run "$NABLA" train --data "$T/prices.csv" --model dense:4,dense:3 --epochs 1
expect_rc 3 "train: numeric labels missing from the training part"
expect_err "the labels are numbers: to fit them as values, give --regression" "the hint names --regression"

finish
