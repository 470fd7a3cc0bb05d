#!/usr/bin/env bash
# nabla export --c: small models of every layer kind the exporter knows,
# trained on small synthetic data, exported, compiled with gcc and clang
# under -std=c99 -Wall -Wextra -pedantic -Werror, run over the test rows
# and compared with `nabla predict`: the same class for every sample and
# outputs within the tolerance below. int8 exports agree on the class for
# most samples; two exports link into one program; the worked example in
# examples/export_fashion builds from an exported model; errors name what
# is wrong and leave existing files as they were.
# Usage: bash export.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
SRC=$(cd "${2:?usage: export.sh BUILD_DIR SOURCE_DIR}" && pwd) || exit 1
cd "$T" || exit 1

# The float export against nabla predict, per output: |difference| <= 1e-5.
# In the float build both sides compute in float and only the order of
# the sums differs (measured: at most 3.3e-7 here). In the double build
# nabla computes in double and the export in float: each weight is rounded
# to float once (relative 6e-8) and each sum of products carries float
# rounding, which on these models moves a probability by at most 3e-7
# (measured); 1e-5 holds there too with a margin of 30.
TOL=1e-5

for cc in gcc clang; do
    if ! command -v "$cc" >/dev/null; then fail "$cc is not installed (scripts/deps.sh installs it)"; fi
done
CFLAGS=(-std=c99 -Wall -Wextra -pedantic -Werror -O2)

# Data: 28x28 images in 10 classes (as Fashion-MNIST), 8x8 images in 3
# classes and in 2 (bce), and a CSV regression set.
IDX=("$PY" "$SRC/tests/lib/idx.py")
"${IDX[@]}" img28 train 200 28 28 10
"${IDX[@]}" img28 t10k 60 28 28 10
"${IDX[@]}" img8 train 120 8 8 3
"${IDX[@]}" img8 t10k 60 8 8 3
"${IDX[@]}" img8b train 120 8 8 2
"${IDX[@]}" img8b t10k 60 8 8 2
# IDX test images as CSV rows of raw pixel values, and the labels.
"$PY" - <<'EOF'
import struct
for d in ("img28", "img8", "img8b"):
    b = open(f"{d}/t10k-images-idx3-ubyte", "rb").read()
    n, r, c = struct.unpack(">III", b[4:16])
    with open(f"{d}/test.csv", "w") as f:
        for i in range(n):
            f.write(",".join(map(str, b[16 + i * r * c:16 + (i + 1) * r * c])) + "\n")
    lab = open(f"{d}/t10k-labels-idx1-ubyte", "rb").read()[8:]
    open(f"{d}/labels.txt", "w").write("".join(f"{x}\n" for x in lab))
import random
r = random.Random(5)
with open("reg.csv", "w") as f, open("reg_x.csv", "w") as g:
    f.write("a,b,c,d,y\n")
    for i in range(120):
        x = [r.uniform(-3, 3), r.uniform(0, 50), r.uniform(-1, 1), r.uniform(100, 200)]
        y = 40 * x[0] - 2 * x[1] + 7 * x[2] * x[0] + 0.5 * x[3] + r.gauss(0, 1)
        f.write(",".join(f"{v:.4f}" for v in x + [y]) + "\n")
        g.write(",".join(f"{v:.4f}" for v in x) + "\n")
ys = [float(l.split(",")[-1]) for l in open("reg.csv").readlines()[1:]]
m = sum(ys) / len(ys)
open("reg_sd.txt", "w").write(f"{(sum((y - m) ** 2 for y in ys) / len(ys)) ** 0.5:.6g}\n")
EOF

# build NAME SRC...: compile with both compilers; $T/NAME_gcc and _clang.
build() {
    local name=$1 cc
    shift
    for cc in gcc clang; do
        if "$cc" "${CFLAGS[@]}" -I. "$@" -lm -o "${name}_$cc" 2>"$T/ccerr"; then pass; else
            fail "$cc: $name does not compile: $(head -c 1500 "$T/ccerr")"
        fi
    done
}

# check MODEL NAME DATA_DIR [COMPARE OPTIONS...]: export MODEL as NAME,
# compile it with the driver, run it over DATA_DIR's test rows with both
# compilers and compare with nabla predict.
check() {
    local model=$1 name=$2 data=$3 cc
    shift 3
    local up=${name^^} input=$data/t10k-images-idx3-ubyte rows=$data/test.csv
    if [ "$data" = reg ]; then input=reg_x.csv rows=reg_x.csv; fi
    run "$NABLA" export "$model" --c "$name" "${EXPORT_OPTS[@]}"
    expect_rc 0 "export $model"
    build "$name" "-DMODEL_H=\"$name.h\"" -DNAME="$name" -DUNAME="$up" "$SRC/tests/lib/export_driver.c" "$name.c"
    local top=(--top 64)
    if [ "$data" = reg ]; then top=(); fi
    run "$NABLA" predict "$model" --input "$input" --json "${top[@]}"
    cp "$T/out" "$name.json"
    for cc in gcc clang; do
        if ! "./${name}_$cc" <"$rows" >"$name.$cc.txt" 2>"$T/err"; then
            fail "$name ($cc) does not run: $(head -c 300 "$T/err")"
            continue
        fi
        if "$PY" "$SRC/tests/lib/export_compare.py" "$name.json" "$name.$cc.txt" "$@" >"$T/cmp" 2>&1; then
            pass
            echo "$name ($cc): $(cat "$T/cmp")"
        else
            fail "$name ($cc) differs from nabla predict: $(cat "$T/cmp")"
        fi
    done
}

train() { # OUT DATA SPEC [OPTIONS...]: a second or so of training
    local out=$1 data=$2 spec=$3
    shift 3
    run "$NABLA" train --data "$data" --model "$spec" --epochs 2 --batch 20 --seed 3 --quiet --out "$out" "$@"
    expect_rc 0 "train $spec"
}

EXPORT_OPTS=()
# An MLP on 28x28 images, and one with batch norm (folded) and dropout.
train mlp.st img28 "dense:16,relu,dense:10"
check mlp.st mlp img28 --tol "$TOL"
train mlp_bn.st img28 "dense:24,batchnorm,relu,dropout:0.3,dense:10" --lr 0.05
check mlp_bn.st mlp_bn img28 --tol "$TOL"
# flatten, leaky_relu, identity, and a batch norm on features after an
# activation (on its own, not folded).
train mlp2.st img8 "flatten,dense:12,leaky_relu:0.2,identity,batchnorm,dense:3"
check mlp2.st mlp2 img8 --tol "$TOL"
# A CNN: conv, batchnorm (folded into it), relu, maxpool, dropout, dense.
train cnn.st img8 "conv:4:3,batchnorm,relu,maxpool:2,dropout:0.25,dense:3" --lr 0.05
check cnn.st cnn img8 --tol "$TOL"
# Stride and padding, tanh, avgpool, a batch norm after a pool (a
# per-channel affine), sigmoid, global average pooling.
train cnn2.st img8 "conv:3:3:2:1,tanh,avgpool:2:1,batchnorm,conv:5:2,sigmoid,gap,dense:3" --lr 0.1
check cnn2.st cnn2 img8 --tol "$TOL"
# One logit and bce: the output is sigmoid's probability of class 1.
train bce.st img8b "conv:2:3,relu,maxpool:2,dense:4,tanh,dense:1" --loss bce
check bce.st bce img8b --tol "$TOL" --binary
# Regression on CSV: a scaler per feature (zscore) and the targets'
# scaler inverted, values in the targets' units. The network computes in
# units of the targets' deviation (zscore): the tolerance is in those.
train reg.st reg.csv "dense:8,tanh,dense:1" --regression
check reg.st reg reg --tol "$TOL" --unit "$(cat reg_sd.txt)"
grep -q 'in_offset\[4\]' reg.c && grep -q 'target_scale\[1\]' reg.c && pass ||
    fail "reg.c lacks its per-feature scaler or target scaler"

# The generated code needs nothing but <math.h> (and <stdint.h> for int8):
# no allocation, no stdio, no mutable state.
for f in mlp.c mlp.h cnn.c cnn2.c reg.c; do
    extra=$(grep -h '#include <' "$f" | grep -v -e '<math.h>' -e '<stdint.h>')
    if [ -z "$extra" ]; then pass; else fail "$f includes $extra"; fi
    if grep -qE '\b(malloc|calloc|free|printf|FILE)\b' "$f"; then fail "$f allocates or prints"; else pass; fi
    # every file-scope object is const
    if grep -E '^(static )?[a-z_0-9]+ [a-z_0-9]+\[' "$f" | grep -qv 'const'; then
        fail "$f has a mutable array: $(grep -E '^(static )?[a-z_0-9]+ [a-z_0-9]+\[' "$f" | grep -v const | head -2)"
    else pass; fi
done
# Images are described in the header; the MLP needs one activation's
# scratch (16 floats) and writes its last layer into the caller's output.
grep -q '#define MLP_SCRATCH_SIZE 16 ' mlp.h && grep -q '#define CNN_INPUT_HEIGHT 8' cnn.h && pass ||
    fail "mlp.h / cnn.h sizes: $(grep SCRATCH mlp.h)"
# The batch norm after the convolution is folded in; the one after a pool is not.
grep -q 'batch norm folded in' cnn.c && grep -q 'channel_affine(' cnn2.c && pass ||
    fail "batch norm folding: cnn.c $(grep -c 'folded' cnn.c), cnn2.c $(grep -c channel_affine cnn2.c)"

# int8: a quarter of the weight bytes; on random images the classes of
# most samples agree. A class flips only where the two largest
# probabilities lie within the rounding of the weights (at most 1/254 of a
# channel's largest weight per weight): on these tiny random-data models
# (nearly uniform probabilities) up to 10% of the samples.
EXPORT_OPTS=(--int8)
check mlp.st mlp8 img28 --max-disagree 6
check cnn.st cnn8 img8 --max-disagree 6
check cnn2.st cnn28 img8 --max-disagree 6
grep -q '#include <stdint.h>' mlp8.c && grep -q 'static const int8_t l0_w\[12544\]' mlp8.c && pass ||
    fail "mlp8.c: no int8 weights"
fb=$(sed -n 's/#define MLP_WEIGHT_BYTES //p' mlp.h)
qb=$(sed -n 's/#define MLP8_WEIGHT_BYTES //p' mlp8.h)
if [ "$((qb * 3))" -lt "$fb" ]; then pass; else fail "int8 weights $qb bytes, float $fb"; fi
EXPORT_OPTS=()

# Two exports with different prefixes link into one program.
cat >two.c <<'EOF'
#include "mlp.h"
#include "cnn.h"
#include <stdio.h>
int main(void)
{
    static float a[MLP_INPUTS], b[CNN_INPUTS], out1[MLP_OUTPUTS], out2[CNN_OUTPUTS];
    static float scratch[MLP_SCRATCH_SIZE > CNN_SCRATCH_SIZE ? MLP_SCRATCH_SIZE : CNN_SCRATCH_SIZE];
    int i;
    for (i = 0; i < MLP_INPUTS; i++) a[i] = (float)(i % 256);
    for (i = 0; i < CNN_INPUTS; i++) b[i] = (float)(i * 7 % 256);
    printf("%s %s\n", mlp_class_names[mlp_predict(a, out1, scratch)],
           cnn_class_names[cnn_predict(b, out2, scratch)]);
    return 0;
}
EOF
build two two.c mlp.c cnn.c
if [ -x two_gcc ] && ./two_gcc >"$T/out" && grep -qE '^[0-9] [0-9]$' "$T/out"; then pass; else
    fail "two models in one program: $(cat "$T/out" 2>/dev/null)"; fi

# The worked example builds from an exported 28x28 model named fashion
# and classifies an image of the test file, as its README says.
mkdir ex && cp "$SRC"/examples/export_fashion/*.c ex/
run "$NABLA" export mlp.st --c ex/fashion
expect_rc 0 "export for the example"
for cc in gcc clang; do
    if "$cc" "${CFLAGS[@]}" -o "ex/classify_$cc" ex/classify.c ex/fashion.c -lm 2>"$T/ccerr"; then pass; else
        fail "$cc: examples/export_fashion does not compile: $(head -c 1500 "$T/ccerr")"; fi
done
run ex/classify_gcc img28/t10k-images-idx3-ubyte 3
want=$(sed -n 4p mlp.gcc.txt | cut -d' ' -f1)
expect_rc 0 "examples/export_fashion/classify"
if grep -q "^image 3: class $want " "$T/out"; then pass; else
    fail "classify image 3: $(cat "$T/out") (expected class $want)"; fi

# ------------------------------------------------------------- errors
echo "keep" >old.h
echo "keep" >old.c
# A prefix that is not a C identifier: from the file name, or given.
run "$NABLA" export mlp.st --c 9lives
expect_rc 2 "a file name that is no identifier"
expect_err '"9lives" is not a C identifier' "bad prefix from the file name"
run "$NABLA" export mlp.st --c old --name 'my-model'
expect_rc 2 "--name my-model"
expect_err 'letters, digits and underscores' "bad --name"
grep -qx keep old.h && grep -qx keep old.c && pass || fail "a refused export changed old.h or old.c"
# The output may not replace the model.
cp mlp.st same.h
run "$NABLA" export same.h --c same
expect_rc 2 "an output that is the model"
expect_err 'the export would replace its input' "output equal to the model"
cmp -s same.h mlp.st && pass || fail "the model file was replaced"
# A model the exporter cannot express names the node and op (two inputs).
if "$BUILD/examples/two_inputs" ti.st >/dev/null 2>&1; then
    run "$NABLA" export ti.st --c old
    expect_rc 1 "a model of two inputs"
    expect_err 'the exporter takes models of one input' "two inputs"
else fail "examples/two_inputs did not run"; fi
grep -qx keep old.h && grep -qx keep old.c && pass || fail "a failed export changed old.h or old.c"
# Neither file is replaced when one cannot be written: old.c a folder.
rm old.c && mkdir old.c
run "$NABLA" export mlp.st --c old
expect_rc 5 "old.c is a folder"
expect_err 'old.c' "the message names the file"
grep -qx keep old.h && pass || fail "old.h was replaced though old.c could not be written"
# A file name that cannot be #included ("??=" is a trigraph) is refused;
# one too long to write is an output error.
run "$NABLA" export mlp.st --c 'tri??=' --name w
expect_rc 2 "a prefix holding ??"
expect_err 'cannot be #included' "prefix with a trigraph"
run "$NABLA" export mlp.st --c "$(printf 'a%.0s' $(seq 253))" --name w
expect_rc 5 "a file name too long"
run "$NABLA" export --help
expect_rc 0 "export --help"
grep -q -- '--int8' "$T/out" && pass || fail "export --help lacks --int8"
run "$NABLA" --help
grep -q '^  export ' "$T/out" && pass || fail "nabla --help does not list export"
finish
