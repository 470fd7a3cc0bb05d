"""Compare an exported model's outputs (tests/lib/export_driver.c: per row
the class, then every output) with `nabla predict --json` on the same rows
(sourced by tests/export.sh, not run by CTest). Prints one line: rows, max
|difference|, argmax disagreements, the exported argmax's agreement with the
labels; exits 1 when a bound given is broken.

    python3 export_compare.py PRED_JSON EXPORTED
        [--tol T] [--unit U] [--max-disagree N] [--labels FILE]
--unit U: differences are measured in units of U (regression values in
their units: U the targets' deviation, the unit the network computes in);
--max-disagree: argmax disagreements allowed
(default 0); --labels: one class index per line, to report accuracy.
"""
import argparse
import json
import sys


def nabla_rows(path):
    rows = []
    for p in json.load(open(path))["predictions"]:
        if "values" in p:
            rows.append(p["values"])
            continue
        top = p["top"]
        out = [0.0] * len(top)
        for t in top:
            out[t["index"]] = t.get("probability", t.get("score"))
        rows.append(out)
    return rows


def main():
    a = argparse.ArgumentParser()
    a.add_argument("pred")
    a.add_argument("exported")
    a.add_argument("--tol", type=float)
    a.add_argument("--unit", type=float, default=1.0)
    a.add_argument("--max-disagree", type=int, default=0)
    a.add_argument("--labels")
    a.add_argument("--binary", action="store_true", help="one output: class 1 when > 0.5")
    o = a.parse_args()
    want = nabla_rows(o.pred)
    got = [[float(v) for v in line.split()] for line in open(o.exported)]
    if len(want) != len(got):
        sys.exit(f"{len(want)} rows from nabla predict, {len(got)} from the export")
    worst, disagree, classes = 0.0, 0, []
    for w, g in zip(want, got):
        k, g = int(g[0]), g[1:]
        if o.binary:  # predict lists [1 - p, p]
            w = [w[1]]
        if len(w) != len(g):
            sys.exit(f"{len(w)} outputs from nabla predict, {len(g)} from the export")
        for x, y in zip(w, g):
            d = abs(x - y) / o.unit
            worst = max(worst, d)
        if len(w) > 1:
            disagree += k != max(range(len(w)), key=lambda i: (w[i], -i))
        classes.append(k)
    line = f"{len(got)} rows, max |diff| {worst:.3g}, argmax disagreements {disagree}"
    if o.labels:
        labels = [int(x) for x in open(o.labels)]
        right = sum(1 for k, t in zip(classes, labels) if k == t)
        line += f", accuracy {100.0 * right / len(labels):.2f}%"
    print(line)
    bad = (o.tol is not None and not worst <= o.tol) or disagree > o.max_disagree
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
