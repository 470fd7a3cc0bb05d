#!/bin/bash
# Saved models read by an independent reader: Python's standard library
# (struct + json) parses the safetensors file, checks the layout, the
# metadata and every value, and runs the forward pass itself from the graph
# the file holds (format version 2): once for a model made from a spec,
# once for a model built by hand (two inputs, reshapes, a constant,
# leaky_relu's slope). Also checks that nabla info shows the hand-built
# model's graph.
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
# The hand-built sample (make_graph_model in tests/test_model_file.c): its
# outputs for two rows, one line each.
"$build/tests/test_model_file" --write-graph-sample "$tmp/graph.safetensors" >"$tmp/graph.out"

"$python" - "$tmp/sample.safetensors" "$tmp/graph.safetensors" "$tmp/graph.out" $probs <<'PY'
import json, math, struct, sys

def read(path):
    """The header's metadata and every tensor's values, the layout checked."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0 and 8 + n <= len(data), n
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__")
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["format"] == "nabla" and meta["format_version"] == "2", meta
    body = data[8 + n:]
    t, end = {}, 0
    for name, e in header.items():
        fmt = {"F32": "f", "F64": "d"}[e["dtype"]]
        begin, stop = e["data_offsets"]
        count = math.prod(e["shape"])
        assert stop - begin == count * struct.calcsize(fmt), name
        t[name] = (e["shape"], list(struct.unpack("<%d%s" % (count, fmt), body[begin:stop])))
        end = max(end, stop)
    assert end == len(body), (end, len(body))
    return meta, json.loads(meta["graph"]), t

def at_batch(shape, n):
    """A shape of the graph ("N", "6N" or a number per dimension) at batch n."""
    out = []
    for d in shape:
        if isinstance(d, str):
            assert d == "N" or (d[:-1].isdigit() and d[0] != "0" and int(d[:-1]) >= 2), d
            out.append(n * (int(d[:-1]) if d != "N" else 1))
        else:
            assert isinstance(d, int) and d >= 1, d
            out.append(d)
    return out

def forward(graph, t, feeds, n):
    """Every node up to the output, in order, from the nodes' ops alone;
    each op node's result must have the shape the file gives it."""
    v = {}
    for node in graph["nodes"]:
        op, name, shape = node["op"], node["name"], node["shape"]
        args = [v[i] for i in node.get("inputs", [])]
        attrs = {k: next(iter(a.values())) for k, a in node.get("attrs", {}).items()}
        if op == "input":
            if name not in feeds:
                continue  # the target
            val = (at_batch(shape, n), feeds[name])
        elif op in ("param", "const"):
            assert t[name][0] == shape, (name, t[name][0], shape)
            val = t[name]
        elif op == "affine":
            (xs, x), (ws, w), (_, b) = args
            rows, d, h = xs[0], ws[0], ws[1]
            val = ([rows, h], [b[c] + sum(x[r * d + k] * w[k * h + c] for k in range(d))
                               for r in range(rows) for c in range(h)])
        elif op == "bias_add":
            (xs, x), (_, b) = args
            val = (xs, [x[i] + b[i % xs[-1]] for i in range(len(x))])
        elif op in ("add", "mul"):
            (s1, a), (s2, b) = args
            f = (lambda p, q: p + q) if op == "add" else (lambda p, q: p * q)
            val = (s1 if len(a) >= len(b) else s2,
                   [f(a[i % len(a)], b[i % len(b)]) for i in range(max(len(a), len(b)))])
        elif op == "tanh":
            val = (args[0][0], [math.tanh(x) for x in args[0][1]])
        elif op == "leaky_relu":
            s = attrs["slope"][0]
            val = (args[0][0], [x if x > 0 else s * x for x in args[0][1]])
        elif op == "reshape":
            xs, x = args[0]
            want = [xs[i] if d == 0 else d for i, d in enumerate(attrs["shape"])]
            if -1 in want:
                want[want.index(-1)] = len(x) // -math.prod(want)
            val = (want, x)
        else:
            raise AssertionError("no reader here for op " + op)
        if op not in ("param", "const"):
            assert val[0] == at_batch(shape, n), (name, val[0], shape)
        v[name] = val
        if name == graph["output"]:
            return val[1]
    raise AssertionError("no output")

# ------------------------------------------------ the model from a spec
meta, graph, t = read(sys.argv[1])
assert meta["spec"] == "dense:3,tanh,dense:2" and meta["loss"] == "softmax_ce", meta
assert meta["inputs"] == "4" and meta["outputs"] == "2" and meta["scale"] == "zscore", meta
assert json.loads(meta["class_names"]) == ["no", "yes"], meta
assert json.loads(meta["training"]) == {"epochs": 2}, meta
shapes = {"dense0.weight": [4, 3], "dense0.bias": [3], "dense1.weight": [3, 2],
          "dense1.bias": [2], "scaler.offset": [4], "scaler.scale": [4]}
assert {k: s for k, (s, _) in t.items()} == shapes, sorted(t)
assert [(x["name"], x["op"], x["shape"]) for x in graph["nodes"]] == [
    ("x", "input", ["N", 4]), ("dense0.weight", "param", [4, 3]), ("dense0.bias", "param", [3]),
    ("dense0.out", "affine", ["N", 3]), ("tanh4", "tanh", ["N", 3]),
    ("dense1.weight", "param", [3, 2]), ("dense1.bias", "param", [2]),
    ("dense1.out", "affine", ["N", 2]), ("target", "input", ["N"]),
    ("loss", "softmax_with_loss", [])], graph["nodes"]
assert graph["inputs"] == ["x"] and graph["target"] == "target" and graph["loss"] == "loss", graph
k = 0
for name in ["dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"]:
    for v in t[name][1]:
        assert v == ((k % 7) - 3) / 8, (name, k, v)
        k += 1
off, sc = t["scaler.offset"][1], t["scaler.scale"][1]
assert off == [0, 0.5, 1, 1.5] and sc == [2] * 4
want = [float(v) for v in sys.argv[4:6]]
x = [1, -2, 0.5, 3]
z = forward(graph, t, {"x": [(x[j] - off[j]) * sc[j] for j in range(4)]}, 1)
p = [math.exp(v - max(z)) for v in z]
p = [v / sum(p) for v in p]
for got, ref in zip(want, p):
    assert abs(got - ref) <= 1e-6, (want, p)

# ------------------------------------------------ a model built by hand
meta, graph, t = read(sys.argv[2])
assert "spec" not in meta and meta["loss"] == "mse", meta
assert meta["inputs"] == "10" and meta["outputs"] == "2" and meta["target_scale"] == "minmax"
assert graph["inputs"] == ["a", "b"] and graph["output"] == "out.out", graph
nodes = {x["name"]: x for x in graph["nodes"]}
assert nodes["flat"]["shape"] == ["6N"] and nodes["a"]["shape"] == ["N", 2, 3], nodes
assert nodes["lr"]["attrs"] == {"slope": {"real": [0.2]}}, nodes["lr"]
assert nodes["gain"]["init"] == {"kind": "constant", "a": 1.5, "b": 0, "fan_in": 0,
                                 "fan_out": 0}, nodes["gain"]
assert t["c"][1] == [0.5, -1, 2, 0.25], t["c"]
rows = [[0.21 * i - 1.7 + 0.05 * (i % 3) for i in range(r * 10, r * 10 + 10)] for r in range(2)]
off, sc = t["scaler.offset"][1], t["scaler.scale"][1]
rows = [[(r[j] - off[j]) * sc[j] for j in range(10)] for r in rows]
y = forward(graph, t, {"a": rows[0][:6] + rows[1][:6], "b": rows[0][6:] + rows[1][6:]}, 2)
toff, tsc = t["target_scaler.offset"][1], t["target_scaler.scale"][1]
y = [y[i] / tsc[i % 2] + toff[i % 2] for i in range(4)]
want = [float(v) for line in open(sys.argv[3]) for v in line.split()]
for got, ref in zip(want, y):
    assert abs(got - ref) <= 1e-5 * max(1, abs(ref)), (want, y)
print("python reads both model files: layout, metadata, graphs, %d values and the predictions "
      "agree" % (k + sum(len(v) for _, v in t.values())))
PY

# nabla info shows the graph of a model without a spec.
"$build/nabla" info "$tmp/graph.safetensors" >"$tmp/info"
grep -q "^graph       23 nodes (no spec): input 3, reshape 3, param 7, affine 3," "$tmp/info" ||
    { echo "nabla info does not show the graph:"; cat "$tmp/info"; exit 1; }
grep -q "^  c  *\[4\]  *4  *const$" "$tmp/info" || { echo "nabla info does not list the constant:"; cat "$tmp/info"; exit 1; }
"$build/nabla" info "$tmp/graph.safetensors" --json >"$tmp/info.json"
"$python" -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["spec"] is None and o["graph"]["nodes"] == 23, o
assert o["graph"]["ops"]["affine"] == 3 and o["graph"]["ops"]["const"] == 1, o["graph"]
' "$tmp/info.json"
echo "nabla info shows the graph of a model built by hand"
