"""Turn build/bench/results.jsonl into the Markdown report and the scaling
plot. Standard library only.

  report.py --machine               print one JSON line describing this machine
  report.py RESULTS [--svg FILE]    print the Markdown tables (and write the SVG)
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
from collections import defaultdict

TOOLS = ("nabla", "torch", "numpy")
TITLES = {"nabla": "nabla", "torch": "PyTorch", "numpy": "NumPy", "gemm": "GEMM-bound"}


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    env = {k: os.environ.get(k, "") for k in
           ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    return dict(tool="machine", nproc=os.cpu_count(), cpu=model, kernel=platform.release(),
                load_average=round(load, 2),
                date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                quick=os.environ.get("BENCH_QUICK", "0"), **env)


def load(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{number}: not JSON: {e}")
    return rows


class Results:
    def __init__(self, rows):
        self.values = defaultdict(list)  # (tool, mode, name, field) -> values over reps
        self.rows = rows
        self.machine = next((r for r in rows if r.get("tool") == "machine"), {})
        for r in rows:
            for k, v in r.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.values[(r.get("tool"), r.get("mode"), r.get("name"), k)].append(v)

    def get(self, tool, mode, name, field):
        return self.values.get((tool, mode, name, field), [])

    def median(self, tool, mode, name, field):
        v = self.get(tool, mode, name, field)
        return statistics.median(v) if v else None

    def cell(self, tool, mode, name, field, digits=3, scale=1.0):
        v = [x * scale for x in self.get(tool, mode, name, field)]
        if not v:
            return "—"
        m = statistics.median(v)
        if len(v) == 1:
            return f"{m:.{digits}f}"
        return f"{m:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}" if a is not None and b else "—"


def config_label(res, name):
    for r in res.rows:
        if r.get("name") == name and r.get("tool") == "nabla":
            return f"({name}) 784-{r['hidden'].replace(',', '-')}-10"
    for r in res.rows:
        if r.get("name") == name and "hidden" in r:
            return f"({name}) 784-{r['hidden'].replace(',', '-')}-10"
    return f"({name})"


def report(res, out):
    m = res.machine
    reps = max((len(res.get("nabla", "train", n, "epoch_median_s")) for n in "ab"), default=0)
    w = out.write
    w("## Machine\n\n")
    w(f"- CPU: {m.get('cpu', '?')}, nproc {m.get('nproc', '?')}, kernel {m.get('kernel', '?')}\n")
    w(f"- OPENBLAS_CORETYPE={m.get('OPENBLAS_CORETYPE', '')} "
      f"OMP_NUM_THREADS={m.get('OMP_NUM_THREADS', '')} "
      f"OPENBLAS_NUM_THREADS={m.get('OPENBLAS_NUM_THREADS', '')}\n")
    w(f"- date: {m.get('date', '?')}; repetitions: {reps}; "
      f"quick mode: {'yes' if m.get('quick') == '1' else 'no'}; "
      f"1-minute load average at the start: {m.get('load_average', '?')}\n")
    if m.get("load_average", 0) > 0.25 * (m.get("nproc") or 1):
        w("- **warning: the machine was busy when the run started; threaded timings "
          "(PyTorch's above all) are not trustworthy.**\n")
    w("\n")
    w("Cells: median (min–max) over the repetitions; ratios use the medians.\n\n")

    peak = res.median("gemm", "peak", None, "peak_gflops")
    w("## Training: seconds per epoch (training loop only)\n\n")
    w("| config | nabla | PyTorch | NumPy | GEMM-bound | nabla/PyTorch | nabla/NumPy "
      "| nabla/GEMM-bound | nabla % of peak GEMM |\n")
    w("|---|---|---|---|---|---|---|---|---|\n")
    for name in "ab":
        nb = res.median("nabla", "train", name, "epoch_median_s")
        th = res.median("torch", "train", name, "epoch_median_s")
        np_ = res.median("numpy", "train", name, "epoch_median_s")
        gm = res.median("gemm", "train", name, "epoch_s")
        flops = res.median("gemm", "train", name, "flops_per_epoch")
        frac = f"{100 * flops / nb / 1e9 / peak:.1f}%" if nb and flops and peak else "—"
        w(f"| {config_label(res, name)} | {res.cell('nabla', 'train', name, 'epoch_median_s')} "
          f"| {res.cell('torch', 'train', name, 'epoch_median_s')} "
          f"| {res.cell('numpy', 'train', name, 'epoch_median_s')} "
          f"| {res.cell('gemm', 'train', name, 'epoch_s')} | {ratio(nb, th)} | {ratio(nb, np_)} "
          f"| {ratio(nb, gm)} | {frac} |\n")
    w(f"\nPeak single-precision GEMM (2048³ cblas_sgemm): "
      f"{res.cell('gemm', 'peak', None, 'peak_gflops', 1)} GFLOP/s.\n\n")

    w("## Test accuracy after training\n\n")
    w("| config | nabla | PyTorch | NumPy | nabla − PyTorch |\n|---|---|---|---|---|\n")
    for name in "ab":
        nb = res.median("nabla", "train", name, "test_accuracy")
        th = res.median("torch", "train", name, "test_accuracy")
        diff = f"{100 * (nb - th):+.2f} points" if nb is not None and th is not None else "—"
        w(f"| {config_label(res, name)} "
          + "".join(f"| {res.cell(t, 'train', name, 'test_accuracy', 4)} " for t in TOOLS)
          + f"| {diff} |\n")

    w(f"\n## Inference {config_label(res, 'c')}\n\n")
    w("| metric | nabla | PyTorch | nabla/PyTorch |\n|---|---|---|---|\n")
    for field, label in (("latency_us", "latency of one sample, µs (median of calls)"),
                         ("throughput_sps", "throughput, samples/s (batches of 1,000)")):
        w(f"| {label} | {res.cell('nabla', 'infer', 'c', field, 1)} "
          f"| {res.cell('torch', 'infer', 'c', field, 1)} "
          f"| {ratio(res.median('nabla', 'infer', 'c', field), res.median('torch', 'infer', 'c', field))} |\n")

    w("\n## Peak RSS of the whole process, MB\n\n")
    w("| config | nabla | PyTorch | NumPy | nabla/PyTorch |\n|---|---|---|---|---|\n")
    for name, mode in (("a", "train"), ("b", "train"), ("c", "infer")):
        w(f"| {config_label(res, name)} "
          + "".join(f"| {res.cell(t, mode, name, 'rss_mb', 1)} " for t in TOOLS)
          + f"| {ratio(res.median('nabla', mode, name, 'rss_mb'), res.median('torch', mode, name, 'rss_mb'))} |\n")

    w("\n## Against the targets\n\n| target | measured | met |\n|---|---|---|\n")
    checks = []
    for name in "ab":
        nb = res.median("nabla", "train", name, "epoch_median_s")
        checks.append((f"({name}) epoch nabla/PyTorch ≤ 0.5", nb,
                       res.median("torch", "train", name, "epoch_median_s"), lambda r: r <= 0.5))
        checks.append((f"({name}) epoch nabla/GEMM-bound ≤ 1.2", nb,
                       res.median("gemm", "train", name, "epoch_s"), lambda r: r <= 1.2))
    checks.append(("latency nabla/PyTorch ≤ 0.2", res.median("nabla", "infer", "c", "latency_us"),
                   res.median("torch", "infer", "c", "latency_us"), lambda r: r <= 0.2))
    checks.append(("throughput nabla/PyTorch ≥ 1.5",
                   res.median("nabla", "infer", "c", "throughput_sps"),
                   res.median("torch", "infer", "c", "throughput_sps"), lambda r: r >= 1.5))
    for name, mode in (("a", "train"), ("b", "train"), ("c", "infer")):
        checks.append((f"({name}) RSS nabla/PyTorch ≤ 0.6", res.median("nabla", mode, name, "rss_mb"),
                       res.median("torch", mode, name, "rss_mb"), lambda r: r <= 0.6))
    for label, a, b, ok in checks:
        if a is None or not b:
            w(f"| {label} | — | not measured |\n")
        else:
            w(f"| {label} | {a / b:.2f} | {'yes' if ok(a / b) else 'no'} |\n")

    sweeps = sweep_points(res)
    for axis, title in (("batch", "batch size (784-256-128-10, Adam)"),
                        ("width", "hidden width W (784-W-W/2-10, Adam, batch 100)")):
        pts = sweeps.get(axis)
        if not pts:
            continue
        samples = next((r["samples"] for r in res.rows if r.get("name", "").startswith(
            f"sweep/{axis}/") and r.get("tool") == "nabla"), "?")
        w(f"\n## Scaling with {title}: seconds per epoch of {samples} samples\n\n")
        w(f"| {axis} | nabla | PyTorch | GEMM-bound | nabla/PyTorch | nabla/GEMM-bound |\n")
        w("|---|---|---|---|---|---|\n")
        for x, v in pts:
            w(f"| {x} | {fmt(v['nabla'])} | {fmt(v['torch'])} | {fmt(v['gemm'])} "
              f"| {ratio(v['nabla'], v['torch'])} | {ratio(v['nabla'], v['gemm'])} |\n")


def fmt(v):
    return f"{v:.3f}" if v is not None else "—"


def sweep_points(res):
    """{axis: [(x, {tool: median seconds})]} sorted by x."""
    out = defaultdict(dict)
    for (tool, mode, name, field), _ in res.values.items():
        if not (name or "").startswith("sweep/") or mode != "train":
            continue
        _, axis, x = name.split("/")
        field = "epoch_s" if tool == "gemm" else "epoch_median_s"
        out[axis].setdefault(int(x), {})[tool] = res.median(tool, mode, name, field)
    return {axis: [(x, defaultdict(lambda: None, v)) for x, v in sorted(pts.items())]
            for axis, pts in out.items()}


def svg(res, path, title):
    """Two panels, seconds per epoch against batch size and against width,
    log2 x axis, log10 y axis."""
    sweeps = sweep_points(res)
    colors = {"nabla": "#d62728", "torch": "#1f77b4", "gemm": "#7f7f7f"}
    pw, ph, ml, mt, mb = 380, 260, 60, 55, 50
    width = ml + 2 * (pw + ml) - 20
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{mt + ph + mb}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{esc(title)}</text>']
    for i, (axis, label) in enumerate((("batch", "batch size (784-256-128-10)"),
                                       ("width", "hidden width W (784-W-W/2-10, batch 100)"))):
        pts = sweeps.get(axis, [])
        x0 = ml + i * (pw + ml)
        ys = [v[t] for _, v in pts for t in colors if v[t] is not None]
        if not pts or not ys:
            continue
        ylo, yhi = math.log10(nice_below(min(ys))), math.log10(nice(max(ys)))
        lx = [math.log2(x) for x, _ in pts]
        lo, hi = min(lx), max(lx) if max(lx) > min(lx) else min(lx) + 1

        def px(x):
            return x0 + (math.log2(x) - lo) / (hi - lo) * pw

        def py(y):
            return mt + ph - (math.log10(y) - ylo) / (yhi - ylo) * ph

        s.append(f'<rect x="{x0}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#000"/>')
        for y in ticks(10 ** ylo, 10 ** yhi):
            s.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
                     'stroke="#ddd"/>')
            s.append(f'<text x="{x0 - 5}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
        for x, _ in pts:
            s.append(f'<text x="{px(x):.1f}" y="{mt + ph + 16}" text-anchor="middle">{x}</text>')
        s.append(f'<text x="{x0 + pw / 2}" y="{mt + ph + 34}" text-anchor="middle">{esc(label)}'
                 '</text>')
        s.append(f'<text transform="translate({x0 - 45},{mt + ph / 2}) rotate(-90)" '
                 'text-anchor="middle">seconds per epoch</text>')
        for k, (tool, color) in enumerate(colors.items()):
            line = [(px(x), py(v[tool])) for x, v in pts if v[tool] is not None]
            if not line:
                continue
            dash = ' stroke-dasharray="5,4"' if tool == "gemm" else ""
            s.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in line) + '"/>')
            s += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in line]
    for k, (tool, color) in enumerate(colors.items()):  # one legend, under the title
        lx0 = width / 2 - 150 + 110 * k
        dash = ' stroke-dasharray="5,4"' if tool == "gemm" else ""
        s.append(f'<line x1="{lx0}" x2="{lx0 + 20}" y1="36" y2="36" stroke="{color}" '
                 f'stroke-width="2"{dash}/>')
        s.append(f'<text x="{lx0 + 25}" y="40">{TITLES[tool]}</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def nice(v):
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= v."""
    if v <= 0:
        return 1
    p = 10 ** math.floor(math.log10(v))
    return next(m * p for m in (1, 2, 5, 10) if m * p >= v * (1 - 1e-9))


def nice_below(v):
    """The largest of 1, 2, 5 times a power of ten that is <= v."""
    p = 10 ** math.floor(math.log10(v))
    return next(m * p for m in (5, 2, 1) if m * p <= v * (1 + 1e-9))


def ticks(lo, hi):
    """1, 2, 5 times powers of ten from lo to hi."""
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [m * 10.0 ** k for m in (1, 2, 5) if lo * (1 - 1e-9) <= m * 10.0 ** k <= hi * (1 + 1e-9)]
    return out


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?")
    p.add_argument("--machine", action="store_true")
    p.add_argument("--svg")
    args = p.parse_args()
    if args.machine:
        print(json.dumps(machine(), separators=(",", ":")))
        return
    if not args.results:
        p.error("give the results file")
    res = Results(load(args.results))
    report(res, sys.stdout)
    if args.svg:
        m = res.machine
        svg(res, args.svg, f"nabla vs PyTorch, {m.get('cpu', '?')}, {m.get('nproc', '?')} "
            f"threads, {m.get('date', '')[:10]}" + (" (quick run)" if m.get("quick") == "1" else ""))


if __name__ == "__main__":
    main()
