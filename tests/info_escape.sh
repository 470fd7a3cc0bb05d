#!/bin/bash
# nabla info prints what a model file holds, every metadata key included: a
# metadata key or value with a control character (ESC, BEL, a C1 CSI, a
# newline), an invisible or format character (a bidi override, a zero-width
# space) or a byte that is not UTF-8 comes out escaped, never as a terminal
# escape sequence or a forged line. A class name or saved training label
# that would not print as itself is refused when the model is loaded, by
# info, eval and predict alike. Usage: bash info_escape.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?usage: info_escape.sh BUILD_DIR SOURCE_DIR}
nabla=$build/nabla
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$nabla" train --data xor --model dense:4,tanh,dense:2 --epochs 1 \
    --out "$work/m.safetensors" >"$work/train.out" 2>&1; then
    echo "FAIL: training the model:"
    cat "$work/train.out"
    exit 1
fi

# Metadata as a crafted file could hold it: JSON escapes inside the values.
python3 - "$work/m.safetensors" "$work/forged.safetensors" <<'PY' || exit 1
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header["__metadata__"]
meta["metrics"] = json.dumps({"\x1b[2J": "x\x1b]0;title\x07", "n": ["\u009b31m", "\u202e"],
                              "line": "a\nfake: 1"})
meta["notes"] = json.dumps(["\x1b[31mred", "a\u200bb"])
meta["author"] = json.dumps("someone")
meta["tag"] = json.dumps("rlo\u202e tag\U000e0041")
meta["training"] = json.dumps({"data": "xor\x1b[A", "seed": 1, "b\x1bc": "ok"})
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY

if ! "$nabla" info "$work/forged.safetensors" >"$work/info.out" 2>&1; then
    echo "FAIL: info on the forged model:"
    cat "$work/info.out"
    exit 1
fi
python3 - "$work/info.out" <<'PY' || exit 1
import sys
out = open(sys.argv[1], "rb").read()
bad = [b for b in (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae", b"\xe2\x80\x8b") if b in out]
want = [rb"\x1b[2J", rb"x\x1b]0;title\x07", rb"\u009b31m", rb"\u202e", rb"xor\x1b[A",
        rb"b\x1bc", rb"a\nfake: 1", b"\nmetadata:\n", b"\n  author           someone\n",
        b"\n" + rb'  notes            ["\u001b[31mred","a\u200bb"]' + b"\n"]
missing = [w for w in want if w not in out]
lines = [l for l in out.split(b"\n") if l.startswith(b"fake")]
if bad or missing or lines:
    print("FAIL: info printed raw %r, lacks %r, forged lines %r:" % (bad, missing, lines))
    print(out.decode("utf-8", "replace"))
    sys.exit(1)
PY

# --json holds the same keys: "metadata" has every key besides training and
# metrics, sorted. Invisible and format characters are written as \uXXXX
# escapes (a surrogate pair past U+FFFF), never raw: the same JSON value.
if ! "$nabla" info "$work/forged.safetensors" --json >"$work/info.json" 2>&1; then
    echo "FAIL: info --json on the forged model:"
    cat "$work/info.json"
    exit 1
fi
python3 - "$work/info.json" <<'PY' || exit 1
import json, sys
raw = open(sys.argv[1], "rb").read()
j = json.loads(raw)
meta = j.get("metadata")
if meta != {"author": "someone", "notes": ["\x1b[31mred", "a\u200bb"],
            "tag": "rlo\u202e tag\U000e0041"} or \
        list(meta) != ["author", "notes", "tag"] or j["training"]["data"] != "xor\x1b[A" or \
        j["metrics"]["n"] != ["\u009b31m", "\u202e"]:
    print("FAIL: info --json metadata is %r" % (meta,))
    sys.exit(1)
bad = [b for b in (b"\x1b", b"\xc2\x9b", b"\xe2\x80\xae", b"\xe2\x80\x8b", b"\xf3\xa0\x81\x81")
       if b in raw]
want = [rb'"tag":"rlo\u202e tag\udb40\udc41"', rb'"a\u200bb"', rb'["\u009b31m","\u202e"]']
missing = [w for w in want if w not in raw]
if bad or missing:
    print("FAIL: info --json printed raw %r, lacks %r: %r" % (bad, missing, raw))
    sys.exit(1)
PY

# eval --json and predict --json print the same way: here a model path
# with a right-to-left override.
rlo=$(printf 'm\xe2\x80\xae.st')
cp "$work/m.safetensors" "$work/$rlo"
printf '0,0\n1,1\n' >"$work/rows.csv"
for cmd in eval predict; do
    if [ "$cmd" = eval ]; then args=(--data xor); else args=(--input "$work/rows.csv"); fi
    if ! "$nabla" "$cmd" "$work/$rlo" "${args[@]}" --json >"$work/$cmd.json" 2>&1; then
        echo "FAIL: $cmd --json:"
        cat -v "$work/$cmd.json"
        exit 1
    fi
    python3 - "$work/$cmd.json" "$cmd" "$work/$rlo" <<'PY' || exit 1
import json, sys
raw = open(sys.argv[1], "rb").read()
j = json.loads(raw)
if b"\xe2\x80\xae" in raw or (sys.argv[2] == "eval" and
                                (j["model"] != sys.argv[3] or rb'm\u202e.st"' not in raw)):
    print("FAIL: %s --json printed %r" % (sys.argv[2], raw))
    sys.exit(1)
PY
done

# Class names and the saved training label are printed or quoted raw by
# eval and predict: a file whose names would not print as themselves is
# refused on load (exit 4), and the refusal quotes the name escaped.
python3 - "$work/m.safetensors" "$work" <<'PY' || exit 1
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
def forge(name, field, value):
    header = json.loads(raw[8:8 + n])
    header["__metadata__"][field] = json.dumps(value)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(sys.argv[2] + "/" + name, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
forge("label-esc.st", "training", {"label": "sp\x1becies", "seed": 1})
forge("label-rlo.st", "training", {"label": "sp\u202eecies"})
forge("names-zw.st", "class_names", ["a\u200bb", "a\u200b\u200bb"])
forge("names-space.st", "class_names", ["setosa", "setosa "])
PY
printf '0,0\n1,1\n' >"$work/in.csv"
for f in label-esc label-rlo names-zw names-space; do
    for cmd in "info $work/$f.st" "eval $work/$f.st --data xor" \
        "predict $work/$f.st --input $work/in.csv"; do
        # shellcheck disable=SC2086 # the command's words
        "$nabla" $cmd >"$work/out" 2>"$work/err"
        rc=$?
        if [ "$rc" -ne 4 ] || grep -q $'\x1b\|\xe2\x80\xae\|\xe2\x80\x8b' "$work/out" "$work/err" ||
            ! grep -q 'print as itself\|has the\|ends with a space' "$work/err"; then
            echo "FAIL: nabla $cmd: exit $rc, expected 4 and an escaped refusal:"
            cat -v "$work/out" "$work/err"
            exit 1
        fi
    done
done
echo "info shows every metadata key; names and labels that would not print as themselves are refused"
