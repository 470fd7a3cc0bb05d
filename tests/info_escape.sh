#!/bin/bash
# nabla info prints what a model file holds: a metadata key or value with a
# control character (ESC, BEL, a C1 CSI, a newline) or a byte that is not
# UTF-8 comes out escaped, never as a terminal escape sequence or a forged
# line. Usage: bash info_escape.sh BUILD_DIR SOURCE_DIR
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
meta["notes"] = json.dumps(["\x1b[31mred"])
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
python3 - "$work/info.out" <<'PY'
import sys
out = open(sys.argv[1], "rb").read()
bad = [b for b in (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae") if b in out]
want = [rb"\x1b[2J", rb"x\x1b]0;title\x07", rb"\u009b31m", rb"\u202e", rb"xor\x1b[A",
        rb"b\x1bc", rb"a\nfake: 1"]
missing = [w for w in want if w not in out]
lines = [l for l in out.split(b"\n") if l.startswith(b"fake")]
if bad or missing or lines:
    print("FAIL: info printed raw %r, lacks %r, forged lines %r:" % (bad, missing, lines))
    print(out.decode("utf-8", "replace"))
    sys.exit(1)
print("info escapes keys and values from the file")
PY
