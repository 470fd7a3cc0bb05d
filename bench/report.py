"""Turn build/bench/results.jsonl into the Markdown report and the scaling
plot. Standard library only (the machine line asks PyTorch and NumPy for
their versions when they are there).

  report.py --machine               print one JSON line describing this machine
  report.py RESULTS [--svg FILE]    print the Markdown tables (and write the SVG)

Every result line carries its tool, its thread setting ("setting") and the
CPUs that were busy in the second before it ran ("busy_cpus"). A tool's best
setting is its fastest in this run; nabla's default is compared with each
peer's best.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

PEERS = ("kann", "torch", "numpy")
TITLES = {"nabla": "nabla", "kann": "KANN", "torch": "PyTorch", "numpy": "NumPy",
          "gemm": "OpenBLAS sgemm alone"}
CONFIGS = {"a": "784-100-10, SGD lr 0.1, batch 100", "b": "784-256-128-10, Adam lr 0.001, batch 100",
           "c": "784-256-128-10, inference"}
BUSY = 0.5  # CPUs busy in the second before a run that flag its figure
TIE = 1.02  # "at least as fast": the default within 2% of the best setting's median


def command(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def module_version(name):
    out = command(sys.executable, "-c", f"import {name}; print({name}.__version__)")
    return out.splitlines()[-1] if out else "not installed"


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
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    openblas = command("dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread") or \
        command("dpkg-query", "-W", "-f=${Version}", "libopenblas0") or "unknown"
    core = command(sys.executable, "-c", "import ctypes; b = ctypes.CDLL('libopenblas.so.0'); "
                   "b.openblas_get_corename.restype = ctypes.c_char_p; "
                   "print(b.openblas_get_corename().decode())") or "unknown"
    kann_dir = os.environ.get("BENCH_KANN_DIR", "")
    kann = ""
    if kann_dir:
        kann = "unknown version"
        try:
            with open(os.path.join(kann_dir, "kann.h")) as f:
                for line in f:
                    if line.startswith("#define KANN_VERSION"):
                        kann = line.split()[2].strip('"')
        except OSError:
            pass
    commit = command("git", "-C", root, "rev-parse", "--short", "HEAD")
    if commit and command("git", "-C", root, "status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    return dict(tool="machine", nproc=os.cpu_count(), cpu=model, kernel=platform.release(),
                compiler=(command("cc", "--version").splitlines() or ["unknown"])[0],
                openblas=openblas, openblas_core=core, torch=module_version("torch"), numpy=module_version("numpy"),
                kann=kann, kann_commit=os.environ.get("BENCH_KANN_COMMIT", "") if kann_dir else "",
                nabla_commit=commit or "unknown",
                load_average=float(os.environ.get("BENCH_LOAD_AT_START", round(load, 2))),
                allow_busy=os.environ.get("BENCH_ALLOW_BUSY", "0"),
                date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                quick=os.environ.get("BENCH_QUICK", "0"),
                OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", ""),
                caller_OMP_NUM_THREADS=os.environ.get("BENCH_ENV_OMP_NUM_THREADS", ""),
                caller_OPENBLAS_NUM_THREADS=os.environ.get("BENCH_ENV_OPENBLAS_NUM_THREADS", ""))


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
    """Values over the repetitions, by (tool, setting, mode, name, field)."""

    def __init__(self, rows):
        self.values = defaultdict(list)
        self.busy = defaultdict(bool)  # (tool, setting, mode, name) -> measured while busy
        self.settings = defaultdict(list)  # (tool, mode, name) -> settings in run order
        self.rows = rows
        self.machine = next((r for r in rows if r.get("tool") == "machine"), {})
        for r in rows:
            if r.get("tool") == "machine":
                continue
            key = (r.get("tool"), r.get("setting", "default"), r.get("mode"), r.get("name"))
            if key[1] not in self.settings[key[0], key[2], key[3]]:
                self.settings[key[0], key[2], key[3]].append(key[1])
            self.busy[key] |= r.get("busy_cpus", 0) >= BUSY
            for k, v in r.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.values[key + (k,)].append(v)

    def get(self, tool, setting, mode, name, field):
        return self.values.get((tool, setting, mode, name, field), [])

    def median(self, tool, setting, mode, name, field):
        v = self.get(tool, setting, mode, name, field)
        return statistics.median(v) if v else None

    def cell(self, tool, setting, mode, name, field, digits=3, scale=1.0):
        v = [x * scale for x in self.get(tool, setting, mode, name, field)]
        if not v:
            return "—"
        m = statistics.median(v)
        text = f"{m:.{digits}f}" if len(v) == 1 else \
            f"{m:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"
        return text + (" †" if self.busy[tool, setting, mode, name] else "")

    def threads(self, tool, setting, mode, name):
        """The threads the tool reported it ran on (its own times its BLAS's
        for KANN's kann_mt), "—" if it did not say."""
        v = self.get(tool, setting, mode, name, "threads")
        return f"{statistics.median(v):g}" if v else "—"

    def best(self, tool, mode, name, field, lower=True):
        """(setting, median) of the tool's best setting, or (None, None)."""
        found = [(self.median(tool, s, mode, name, field), s)
                 for s in self.settings[tool, mode, name]]
        found = [(v, s) for v, s in found if v is not None]
        if not found:
            return None, None
        v, s = min(found) if lower else max(found)
        return s, v

    def any_busy(self):
        return any(self.busy.values())


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}" if a is not None and b else "—"


def label(name):
    return f"({name}) {CONFIGS.get(name, name)}"


def gemm_bound(res, name):
    """(setting, seconds) of the fastest way to do the step's products alone."""
    return res.best("gemm", "train", name, "epoch_s")


def machine_section(res, w):
    m = res.machine
    reps = max((len(res.get("nabla", "default", "train", n, "epoch_median_s")) for n in "ab"),
               default=0)
    w("## Machine\n\n")
    w(f"- CPU: {m.get('cpu', '?')}, {m.get('nproc', '?')} CPUs, kernel {m.get('kernel', '?')}\n")
    w(f"- libraries: OpenBLAS {m.get('openblas', '?')} (kernels for core "
      f"{m.get('openblas_core', '?')}), PyTorch {m.get('torch', '?')}, "
      f"NumPy {m.get('numpy', '?')}, "
      + (f"KANN {m['kann']} (commit {m.get('kann_commit') or 'unknown'})" if m.get("kann")
         else "KANN not run (no KANN_DIR)")
      + f"; nabla {m.get('nabla_commit', '?')}; compiler: {m.get('compiler', '?')}\n")
    w(f"- thread variables of the caller (cleared for the run; every setting sets its own): "
      f"OMP_NUM_THREADS={m.get('caller_OMP_NUM_THREADS', '')} "
      f"OPENBLAS_NUM_THREADS={m.get('caller_OPENBLAS_NUM_THREADS', '')}; "
      f"OPENBLAS_CORETYPE={m.get('OPENBLAS_CORETYPE', '')}\n")
    w(f"- date: {m.get('date', '?')}; repetitions: {reps}; "
      f"quick mode: {'yes' if m.get('quick') == '1' else 'no'}; "
      f"1-minute load average at the start: {m.get('load_average', '?')}\n")
    if res.any_busy() or m.get("load_average", 0) >= BUSY:
        w("- **warning: the machine was busy (BENCH_ALLOW_BUSY=1): figures marked † were "
          f"measured when at least {BUSY} CPU was busy in the second before their run; "
          "they are not trustworthy.**\n")
    w("\nCells: median (min–max) over the repetitions; ratios use the medians. A tool's "
      "**best** is its fastest setting in this run.\n\n")


def training_section(res, w):
    for name in "ab":
        w(f"## Training {label(name)}: seconds per epoch\n\n")
        nb = res.median("nabla", "default", "train", name, "epoch_median_s")
        w("| tool | setting | threads | s/epoch | test accuracy | peak RSS, MB "
          "| nabla default ÷ this |\n|---|---|---|---|---|---|---|\n")
        for tool in ("nabla",) + PEERS:
            best, _ = res.best(tool, "train", name, "epoch_median_s")
            for s in res.settings[tool, "train", name]:
                t = res.median(tool, s, "train", name, "epoch_median_s")
                mark = " **best**" if s == best and len(res.settings[tool, "train", name]) > 1 else ""
                w(f"| {TITLES[tool]} | `{s}`{mark} | {res.threads(tool, s, 'train', name)} "
                  f"| {res.cell(tool, s, 'train', name, 'epoch_median_s')} "
                  f"| {res.cell(tool, s, 'train', name, 'test_accuracy', 4)} "
                  f"| {res.cell(tool, s, 'train', name, 'rss_mb', 1)} | {ratio(nb, t)} |\n")
        for s in res.settings["gemm", "train", name]:
            t = res.median("gemm", s, "train", name, "epoch_s")
            w(f"| {TITLES['gemm']} | {s} | {res.threads('gemm', s, 'train', name)} "
              f"| {res.cell('gemm', s, 'train', name, 'epoch_s')} "
              f"| — | — | {ratio(nb, t)} |\n")
        w("\n")

    w("## Each tool at its best\n\n")
    w("| s/epoch (median) | " + " | ".join(label(n) for n in "ab") + " |\n|---|---|---|\n")
    rows = [("nabla, default", lambda n: ("default", res.median(
        "nabla", "default", "train", n, "epoch_median_s")))]
    ran = [t for t in ("nabla",) + PEERS if res.settings[t, "train", "a"] or
           res.settings[t, "train", "b"]]
    for tool in ran:
        rows.append((f"{TITLES[tool]}, best",
                     lambda n, t=tool: res.best(t, "train", n, "epoch_median_s")))
    for s in res.settings["gemm", "train", "a"]:
        rows.append((f"OpenBLAS sgemm alone at the step's shapes, {s}",
                     lambda n, s=s: (None, res.median("gemm", s, "train", n, "epoch_s"))))
    for title, pick in rows:
        cells = []
        for n in "ab":
            s, v = pick(n)
            cells.append("—" if v is None else f"{v:.3f}" + (f" (`{s}`)" if s and
                                                                  "best" in title else ""))
        w(f"| {title} | " + " | ".join(cells) + " |\n")
    w("\n| ratio of medians | " + " | ".join(f"({n})" for n in "ab") + " |\n|---|---|---|\n")
    for tool in ran:
        w(f"| {TITLES[tool]}'s best ÷ nabla's default | " + " | ".join(ratio(
            res.best(tool, "train", n, "epoch_median_s")[1],
            res.median("nabla", "default", "train", n, "epoch_median_s")) for n in "ab") + " |\n")
    w("| nabla's default ÷ GEMM-bound (the fastest sgemm setting) | " + " | ".join(ratio(
        res.median("nabla", "default", "train", n, "epoch_median_s"), gemm_bound(res, n)[1])
        for n in "ab") + " |\n")
    peak = res.median("gemm", "OpenBLAS default threads", "peak", None, "peak_gflops")
    if peak:
        w(f"\nPeak single-precision GEMM (2048³ cblas_sgemm, OpenBLAS's default threads): "
          f"{res.cell('gemm', 'OpenBLAS default threads', 'peak', None, 'peak_gflops', 1)} "
          "GFLOP/s.\n")
    w("\n")


def inference_section(res, w):
    w(f"## Inference {label('c')}\n\n")
    w("| tool | setting | threads | latency of one sample, µs "
      "| throughput, samples/s (batches of 1,000) | peak RSS, MB |\n|---|---|---|---|---|---|\n")
    for tool in ("nabla",) + PEERS:
        fast, _ = res.best(tool, "infer", "c", "latency_us")
        wide, _ = res.best(tool, "infer", "c", "throughput_sps", lower=False)
        many = len(res.settings[tool, "infer", "c"]) > 1
        for s in res.settings[tool, "infer", "c"]:
            w(f"| {TITLES[tool]} | `{s}` | {res.threads(tool, s, 'infer', 'c')} "
              f"| {res.cell(tool, s, 'infer', 'c', 'latency_us', 1)}"
              f"{' **best**' if many and s == fast else ''} "
              f"| {res.cell(tool, s, 'infer', 'c', 'throughput_sps', 0)}"
              f"{' **best**' if many and s == wide else ''} "
              f"| {res.cell(tool, s, 'infer', 'c', 'rss_mb', 1)} |\n")
    lat = res.median("nabla", "default", "infer", "c", "latency_us")
    thr = res.median("nabla", "default", "infer", "c", "throughput_sps")
    w("\n| peer at its best | latency: nabla's default ÷ peer | "
      "throughput: nabla's default ÷ peer |\n|---|---|---|\n")
    for tool in PEERS:
        sl, vl = res.best(tool, "infer", "c", "latency_us")
        st, vt = res.best(tool, "infer", "c", "throughput_sps", lower=False)
        if sl is None:
            continue
        w(f"| {TITLES[tool]} (latency `{sl}`, throughput `{st}`) | {ratio(lat, vl)} "
          f"| {ratio(thr, vt)} |\n")
    w("\n")


def targets_section(res, w):
    w("## Against the targets\n\n")
    if res.any_busy():
        w("**The machine was busy during this run: these verdicts are not trustworthy.**\n\n")
    w("| target | measured | met |\n|---|---|---|\n")
    checks = []
    limits = {"a": (0.30, 1.15), "b": (0.85, 1.25)}
    for name in "ab":
        nb = res.median("nabla", "default", "train", name, "epoch_median_s")
        others = [(res.median("nabla", s, "train", name, "epoch_median_s"), s)
                  for s in res.settings["nabla", "train", name] if s != "default"]
        others = [o for o in others if o[0] is not None]
        if others:
            fastest = min(others)
            checks.append((f"({name}) nabla's default ÷ its fastest other setting "
                           f"(`{fastest[1]}`) ≤ {TIE}", nb, fastest[0], lambda r: r <= TIE))
        seconds, kann_factor = limits[name]
        checks.append((f"({name}) nabla's default, s/epoch ≤ {seconds} (the 2-core build "
                       "machine's goal)", nb, 1.0, lambda r, x=seconds: r <= x))
        checks.append((f"({name}) KANN's best ÷ nabla's default ≥ {kann_factor}",
                       res.best("kann", "train", name, "epoch_median_s")[1], nb,
                       lambda r, x=kann_factor: r >= x))
        checks.append((f"({name}) PyTorch's best ÷ nabla's default ≥ 2",
                       res.best("torch", "train", name, "epoch_median_s")[1], nb,
                       lambda r: r >= 2))
        s, g = gemm_bound(res, name)
        checks.append((f"({name}) nabla's default ÷ GEMM-bound (`{s}`) ≤ 1.2", nb, g,
                       lambda r: r <= 1.2))
    for label_, a, b, ok in checks:
        if a is None or not b:
            w(f"| {label_} | — | not measured |\n")
        else:
            w(f"| {label_} | {a / b:.2f} | {'yes' if ok(a / b) else 'no'} |\n")


def sweep_section(res, w):
    sweeps = sweep_points(res)
    for axis, title in (("batch", "batch size (784-256-128-10, Adam)"),
                        ("width", "hidden width W (784-W-W/2-10, Adam, batch 100)")):
        pts = sweeps.get(axis)
        if not pts:
            continue
        samples = next((r["samples"] for r in res.rows if r.get("name", "").startswith(
            f"sweep/{axis}/") and r.get("tool") == "nabla"), "?")
        torch_setting = next((r.get("setting") for r in res.rows if r.get("name", "").startswith(
            f"sweep/{axis}/") and r.get("tool") == "torch"), "?")
        w(f"\n## Scaling with {title}: seconds per epoch of {samples} samples\n\n")
        w(f"nabla in its default setting, PyTorch with `{torch_setting}`, GEMM-bound the "
          "faster of OpenBLAS on one thread and the batch split over the cores; one run "
          "per point.\n\n")
        w(f"| {axis} | nabla | PyTorch | GEMM-bound | nabla/PyTorch | nabla/GEMM-bound |\n")
        w("|---|---|---|---|---|---|\n")
        busy = {(int(n.split("/")[2]), t) for (t, _, mode, n), b in res.busy.items()
                if b and (n or "").startswith(f"sweep/{axis}/")}
        for x, v in pts:
            def fmt(t):
                return ("—" if v[t] is None else f"{v[t]:.3f}") + (" †" if (x, t) in busy else "")

            w(f"| {x} | {fmt('nabla')} | {fmt('torch')} | {fmt('gemm')} "
              f"| {ratio(v['nabla'], v['torch'])} | {ratio(v['nabla'], v['gemm'])} |\n")


def report(res, out):
    w = out.write
    machine_section(res, w)
    training_section(res, w)
    inference_section(res, w)
    targets_section(res, w)
    sweep_section(res, w)


def sweep_points(res):
    """{axis: [(x, {tool: median seconds})]} sorted by x; a tool with several
    settings at a point (the GEMM-bound) gives its fastest."""
    out = defaultdict(dict)
    for (tool, setting, mode, name, field), _ in res.values.items():
        if not (name or "").startswith("sweep/") or mode != "train":
            continue
        want = "epoch_s" if tool == "gemm" else "epoch_median_s"
        if field != want:
            continue
        _, axis, x = name.split("/")
        v = res.median(tool, setting, mode, name, field)
        have = out[axis].setdefault(int(x), {})
        if have.get(tool) is None or v < have[tool]:
            have[tool] = v
    return {axis: [(x, defaultdict(lambda: None, v)) for x, v in sorted(pts.items())]
            for axis, pts in out.items()}


def svg(res, path, title):
    """Two panels, seconds per epoch against batch size and against width,
    log2 x axis, log10 y axis."""
    sweeps = sweep_points(res)
    colors = {"nabla": "#d62728", "torch": "#1f77b4", "gemm": "#7f7f7f"}
    legend = {"nabla": "nabla", "torch": "PyTorch", "gemm": "GEMM-bound"}
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
        s.append(f'<text x="{lx0 + 25}" y="40">{legend[tool]}</text>')
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
            f"CPUs, {m.get('date', '')[:10]}" + (" (quick run)" if m.get("quick") == "1" else ""))


if __name__ == "__main__":
    main()
