#!/usr/bin/env bash
# The convolutional networks of docs/cnn.md train as written: every
# `nabla train --data fashion-mnist` command of the page runs (on a tiny
# stand-in for Fashion-MNIST under NABLA_DATA_DIR, one epoch) and gives
# the parameter count the page says; its eval and predict commands run on
# the model; its error examples say what the page says. `train --help`
# lists every layer kind of the table, and a small CNN's gradients check
# (to 1e-6 in a double build); a CNN's report shows its first convolution.
# Usage: bash cnn_examples.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib/cli_test.sh"
SRC=$(cd "${2:?usage: cnn_examples.sh BUILD_DIR SOURCE_DIR}" && pwd) || exit 1
DOC="$SRC/docs/cnn.md"

# in_doc TEXT: the page says TEXT.
in_doc() { if grep -qF -- "$1" "$DOC"; then pass; else fail "docs/cnn.md lacks '$1'"; fi; }

# 20 training and 10 test images of 28x28, labels 0..9 in turn; and an IDX
# folder of 8x8 images in 3 classes for the gradient check.
IDX=("$PY" "$SRC/tests/lib/idx.py")
"${IDX[@]}" "$T/ddir/fashion-mnist" train 20 28 28 10 --gz
"${IDX[@]}" "$T/ddir/fashion-mnist" t10k 10 28 28 10 --gz
"${IDX[@]}" "$T/img8" train 12 8 8 3
"${IDX[@]}" "$T/img8" t10k 6 8 8 3
export NABLA_DATA_DIR="$T/ddir"
mkdir "$T/run"
cd "$T/run" || exit 1

# The page's commands, continuation lines joined, one per line.
awk '/^```sh$/ {on = 1; next} /^```$/ {on = 0} on {
    line = line $0
    if (sub(/\\$/, "", line)) next
    print line; line = ""
}' "$DOC" >"$T/commands"
n_train=$(grep -c '^nabla train --data fashion-mnist' "$T/commands")
if [ "$n_train" -ge 3 ]; then pass; else fail "docs/cnn.md has $n_train train commands, expected 3"; fi

# as_run LINE: the page's command with this build's nabla and one epoch.
as_run() {
    local cmd=${1/#nabla /\"\$NABLA\" }
    cmd=${cmd//\/usr\/share\/datasets\/fashion-mnist/$T/ddir/fashion-mnist}
    sed -E 's/--epochs [0-9]+/--epochs 1/' <<<"$cmd"
}

# The parameters each saved model has, as the page says them.
declare -A want_params=([simpleconvnet.st]=433890 [lenet5.st]=61706 [cnn_bn.st]=422090)
while IFS= read -r line; do
    case $line in
    "nabla train --data fashion-mnist"*) ;;
    *) continue ;;
    esac
    out=$(sed -E 's/.*--out ([^ ]+).*/\1/' <<<"$line")
    eval "run $(as_run "$line") --quiet"
    expect_rc 0 "docs/cnn.md: $line"
    expect_file "$out" "docs/cnn.md: $out"
    run "$NABLA" info "$out" --json
    want=${want_params[$out]:-unknown}
    expect_py "$out has $want parameters" '
import json, sys
got = json.load(open(sys.argv[1]))["parameters"]
sys.exit(0 if str(got) == sys.argv[2] else f"{got} parameters")' "$T/out" "$want"
    commas=$(sed -E ':a;s/([0-9])([0-9]{3})($|,)/\1,\2\3/;ta' <<<"$want") # 433,890
    in_doc "$commas parameters"
done <"$T/commands"

# eval and predict as the page writes them (on the first model it trains).
while IFS= read -r line; do
    case $line in
    "nabla eval "* | "nabla predict "*) ;;
    *) continue ;;
    esac
    eval "run $(as_run "$line")"
    expect_rc 0 "docs/cnn.md: $line"
done <"$T/commands"
if [ "$(grep -c '^nabla \(eval\|predict\) ' "$T/commands")" -eq 2 ]; then pass; else fail "docs/cnn.md: no eval and predict commands"; fi

# The classic LeNet-5 the page spells out trains too.
classic=$(grep -o 'conv:6:5:1:2,tanh,avgpool:2[^`]*' "$DOC")
run "$NABLA" train --data fashion-mnist --model "$classic" --epochs 1 --quiet --out classic.st
expect_rc 0 "the classic LeNet-5 spec '$classic'"

# The page's error examples, word for word.
run "$NABLA" train --data fashion-mnist --model dense:128,conv:8:3,dense:10 --epochs 1
expect_rc 2 "a convolution after a dense layer"
expect_err 'layer spec item 2 "conv:8:3": needs an image [C, H, W], got [128]' "conv after dense"
in_doc '`dense:128,conv:8:3,dense:10`'
deep=conv:16:3,maxpool:2,maxpool:2,maxpool:2,maxpool:2,maxpool:2,dense:10
run "$NABLA" train --data fashion-mnist --model "$deep" --epochs 1
expect_rc 2 "one pooling too many"
expect_err 'layer spec item 6 "maxpool:2": the kernel 2x2 is larger than the input [16, 1, 1]' "pooling"
in_doc "\`$deep\`"
run "$NABLA" train --data fashion-mnist --model conv:10:3,gap --epochs 1
expect_rc 2 "a spec ending with gap"
expect_err "must end with a dense layer (dense:N), the output" "a spec ending with gap"

# train --help lists every kind of the layer table: the syntax of each
# usage the "accepted:" list of a bad spec gives.
run "$NABLA" train --data xor --model nosuchlayer
accepted=$(grep -o 'accepted: .*' "$T/err" | sed 's/^accepted: //')
"$NABLA" train --help >"$T/help"
kinds=0
while IFS= read -r syntax; do
    kinds=$((kinds + 1))
    if grep -qF -- "$syntax" "$T/help"; then pass; else fail "train --help lacks the layer '$syntax'"; fi
done < <("$PY" -c '
import sys
depth, item = 0, ""
for ch in sys.argv[1] + ", ":
    depth += (ch == "(") - (ch == ")")
    item += ch
    if depth == 0 and item.endswith(", "):
        print(item[:-2].split(" (")[0])
        item = ""' "$accepted")
if [ "$kinds" -ge 13 ]; then pass; else fail "only $kinds layer kinds in '$accepted'"; fi

# A small CNN's gradients: to 1e-6 in a double build. In float the step
# (1e-2) crosses ReLU's and max pooling's kinks, so smooth layers are
# checked there instead.
if grep -q 'NABLA_DOUBLE:BOOL=ON' "$BUILD/CMakeCache.txt"; then
    specs=("conv:2:3,relu,maxpool:2,dense:3" "conv:3:3:2:0,batchnorm,tanh,avgpool:2:1,gap,dense:3"
        "conv:2:3,relu,dropout:0.5,maxpool:2,dense:4,batchnorm,relu,dense:3")
else
    specs=("conv:2:3,tanh,avgpool:2,dense:3" "conv:2:4:2:1,sigmoid,gap,dense:3")
fi
for spec in "${specs[@]}"; do
    run "$NABLA" gradcheck --model "$spec" --data "$T/img8"
    if [ "$rc" -eq 0 ] && grep -q "^passed" "$T/out"; then
        pass
    else
        fail "gradcheck $spec: exit $rc; $(cat "$T/out") $(head -c 400 "$T/err")"
    fi
done

# A model file whose batch norm holds a negative running variance is
# refused by predict and eval (a file error, exit 4) naming the channel.
run "$NABLA" train --data "$T/img8" --model "conv:4:3,batchnorm,relu,maxpool:2,dense:3" \
    --epochs 1 --quiet --out "$T/bn.st"
expect_rc 0 "train a CNN with batch norm"
"$PY" - "$T/bn.st" "$T/bad_var.st" <<'EOF'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["batchnorm0.running_var"]
size = 4 if t["dtype"] == "F32" else 8
at = 8 + n + t["data_offsets"][0] + 2 * size
b[at:at + size] = struct.pack("<f" if size == 4 else "<d", -1)
open(sys.argv[2], "wb").write(b)
EOF
run "$NABLA" predict "$T/bad_var.st" --input "$T/img8/t10k-images-idx3-ubyte"
expect_rc 4 "predict: a negative running variance"
expect_err 'running_var "batchnorm0.running_var" of channel 2 (0-based) is -1' \
    "predict: the tensor, channel and value"
run "$NABLA" eval "$T/bad_var.st" --data "$T/img8"
expect_rc 4 "eval: a negative running variance"
expect_err 'running_var "batchnorm0.running_var" of channel 2 (0-based) is -1' \
    "eval: the tensor, channel and value"

# Images of another shape with as many pixels (4x16 for 8x8) are not the
# model's images: predict and eval refuse them (exit 3), CNN or dense
# model; a folder whose test images differ from its training images is
# refused when opened.
"${IDX[@]}" "$T/wide" train 12 4 16 3
"${IDX[@]}" "$T/wide" t10k 6 4 16 3
"${IDX[@]}" "$T/mixed" train 12 8 8 3
"${IDX[@]}" "$T/mixed" t10k 6 4 16 3
run "$NABLA" train --data "$T/img8" --model "dense:3" --epochs 1 --quiet --out "$T/flat8.st"
expect_rc 0 "train a dense model on 8x8 images"
for model in bn flat8; do
    run "$NABLA" predict "$T/$model.st" --input "$T/wide/t10k-images-idx3-ubyte"
    expect_rc 3 "predict $model on 4x16 images"
    expect_err "the data's images are 4x16 (64 values), but the model expects [1, 8, 8] (images of 8x8)" \
        "predict $model on 4x16 images: both shapes"
    run "$NABLA" eval "$T/$model.st" --data "$T/wide"
    expect_rc 3 "eval $model on 4x16 images"
    expect_err "the data's images are 4x16 (64 values), but the model expects [1, 8, 8]" \
        "eval $model on 4x16 images: both shapes"
done
run "$NABLA" train --data "$T/mixed" --model "conv:2:3,relu,dense:3" --epochs 1 --quiet
expect_rc 3 "train on a folder of 8x8 training and 4x16 test images"
expect_err "training images are 8x8, test images 4x16" "the mixed folder: both shapes"

# Batch norm over features (after a dense layer) cannot train on a batch
# of one: a last batch of one sample is left out of each epoch (12 images
# in batches of 11), and --batch 1 is refused before training.
run "$NABLA" train --data "$T/img8" --model "dense:6,batchnorm,relu,dense:3" --batch 11 \
    --epochs 2 --quiet
expect_rc 0 "batch norm over features: 12 samples in batches of 11"
run "$NABLA" train --data "$T/img8" --model "dense:6,batchnorm,relu,dense:3" --batch 1 \
    --epochs 1
expect_rc 1 "batch norm over features: --batch 1"
expect_err "batch norm over features needs batches of at least 2 samples" "--batch 1: the reason"
expect_no_err "epoch 1" "--batch 1: refused before the first epoch"

# The report of a CNN shows its first convolution: each of its 3 filters
# (3x3, one channel) as a 3x3 image, and its 3 feature maps (8x8, "same"
# padding) for the first 4 test images, each after the test image itself.
run "$NABLA" train --data "$T/img8" --model "conv:3:3,relu,maxpool:2,dense:3" --epochs 1 \
    --quiet --report "$T/cnn.html"
expect_rc 0 "train a CNN with --report"
expect_py "report: the first convolution's filters and feature maps" '
import base64, re, struct, sys
h = open(sys.argv[1]).read()
assert "What the first convolution learned" in h, "no convolution section"
def dims(alt):
    out = []
    for uri in re.findall(r"alt=\"" + alt + r"\"[^>]*src=\"data:image/bmp;base64,([^\"]+)\"", h):
        b = base64.b64decode(uri)
        out.append(struct.unpack("<ii", b[18:26]))
    return out
f, m, t = dims("filter"), dims("feature map"), dims("test image")
assert f == [(3, 3)] * 3, f
assert m == [(8, 8)] * 12, m
assert t == [(8, 8)] * 4, t
' "$T/cnn.html"
# Past 64 filters and 16 maps the report draws the first ones and says so.
run "$NABLA" train --data "$T/img8" --model "conv:70:3,gap,dense:3" --epochs 1 --quiet \
    --report "$T/wide.html"
expect_rc 0 "train a 70-filter CNN with --report"
expect_py "report: at most 64 filters and 16 maps per image" '
import sys
h = open(sys.argv[1]).read()
assert h.count("alt=\"filter\"") == 64 and "the first 64 shown" in h, "filters"
assert h.count("alt=\"feature map\"") == 16 * 4 and "The first 16 feature maps" in h, "maps"
' "$T/wide.html"

finish
