#!/bin/bash
# A saved model read by an independent reader: Python's standard library
# (struct + json) parses the safetensors file, checks the layout, the
# metadata and every value, and runs the forward pass itself.
# Usage: model_python.sh BUILD_DIR SOURCE_DIR. Exits 77 (skipped, not
# passed) when /usr/bin/python3 is missing.
set -eu
build=$1
python=/usr/bin/python3
if [ ! -x "$python" ]; then
    echo "SKIPPED: $python is not installed; the model file was not checked by Python" >&2
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The sample: dense:3,tanh,dense:2 on 4 inputs, parameter k in creation
# order = ((k mod 7) - 3) / 8, zscore scaler offset j / 2 and scale 2; it
# prints its class probabilities for x = [1, -2, 0.5, 3].
probs=$("$build/tests/test_model_file" --write-sample "$tmp/sample.safetensors")

"$python" - "$tmp/sample.safetensors" $probs <<'PY'
import json, math, struct, sys

path, want = sys.argv[1], [float(v) for v in sys.argv[2:4]]
data = open(path, "rb").read()
(n,) = struct.unpack("<Q", data[:8])
assert n % 8 == 0 and 8 + n <= len(data), n
header = json.loads(data[8:8 + n].decode("utf-8"))
meta = header.pop("__metadata__")
assert meta["format"] == "nabla" and meta["format_version"] == "1", meta
assert meta["spec"] == "dense:3,tanh,dense:2" and meta["loss"] == "softmax_ce", meta
assert meta["inputs"] == "4" and meta["outputs"] == "2" and meta["scale"] == "zscore", meta
assert json.loads(meta["class_names"]) == ["no", "yes"], meta
assert json.loads(meta["training"]) == {"epochs": 2}, meta
assert all(isinstance(v, str) for v in meta.values())

shapes = {"dense0.weight": [4, 3], "dense0.bias": [3], "dense1.weight": [3, 2],
          "dense1.bias": [2], "scaler.offset": [4], "scaler.scale": [4]}
assert set(header) == set(shapes), sorted(header)
body = data[8 + n:]
t = {}
end = 0
for name, e in header.items():
    assert e["shape"] == shapes[name], (name, e["shape"])
    fmt = {"F32": "f", "F64": "d"}[e["dtype"]]
    begin, stop = e["data_offsets"]
    count = math.prod(e["shape"])
    assert stop - begin == count * struct.calcsize(fmt), name
    t[name] = list(struct.unpack("<%d%s" % (count, fmt), body[begin:stop]))
    end = max(end, stop)
assert end == len(body), (end, len(body))

k = 0
for name in ["dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"]:
    for v in t[name]:
        assert v == ((k % 7) - 3) / 8, (name, k, v)
        k += 1
assert t["scaler.offset"] == [0, 0.5, 1, 1.5] and t["scaler.scale"] == [2] * 4

x = [1, -2, 0.5, 3]
x = [(x[j] - t["scaler.offset"][j]) * t["scaler.scale"][j] for j in range(4)]
w0, b0, w1, b1 = t["dense0.weight"], t["dense0.bias"], t["dense1.weight"], t["dense1.bias"]
h = [math.tanh(b0[c] + sum(x[r] * w0[r * 3 + c] for r in range(4))) for c in range(3)]
z = [b1[c] + sum(h[r] * w1[r * 2 + c] for r in range(3)) for c in range(2)]
p = [math.exp(v - max(z)) for v in z]
p = [v / sum(p) for v in p]
for got, ref in zip(want, p):
    assert abs(got - ref) <= 1e-6, (want, p)
print("python reads the model file: shapes, metadata, %d values and the prediction %s agree"
      % (k, ["%.6f" % v for v in p]))
PY
