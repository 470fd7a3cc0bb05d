"""nabla against PyTorch on a convolutional network (Fashion-MNIST).

    python3 bench/cnn.py --nabla build/release/nabla            # 3 seeds, 5 epochs
    python3 bench/cnn.py --nabla ... --reps 1 --epochs 1 --torch-epochs 1   # smoke

Each repetition r (seed r) runs every tool once, the order rotating from one
repetition to the next: nabla in its default setting, and PyTorch with
torch.set_num_threads(1) and (2) (OPENBLAS_NUM_THREADS=1 for both: oneDNN
does its convolutions). Every run is its own process; its peak RSS comes from
wait4. Seconds per epoch are each tool's own timing of its training loop
(nabla's --log "seconds"); test accuracy is each tool's own evaluation of
the trained model on the 10000 test images. A run is flagged "busy" when
the CPUs were less than 90% idle in the second before it started.
Results: one JSON line per run in --out, a Markdown table on stdout."""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = "conv:32:3,relu,maxpool:2,conv:64:3,relu,maxpool:2,dense:128,relu,dense:10"


def idle_share(seconds=1.0):
    """The share of all CPUs' time spent idle over the next seconds
    (/proc/stat), unlike the load average free of the last run's tail."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total
    i0, t0 = sample()
    time.sleep(seconds)
    i1, t1 = sample()
    return (i1 - i0) / max(1, t1 - t0)


def run(cmd, env=None):
    """stdout, peak RSS in MiB and the exit status of cmd."""
    busy = idle_share() < 0.9
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(cmd, stdout=out, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if p.returncode != 0:
        sys.exit(f"cnn.py: failed ({p.returncode}): {' '.join(cmd)}\n{text[-2000:]}")
    return text, usage.ru_maxrss / 1024.0, busy


def nabla(args, spec, epochs, seed):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.jsonl")
        cmd = [args.nabla, "train", "--data", "fashion-mnist", "--model", spec, "--optimizer",
               "adam", "--lr", "0.001", "--batch", "64", "--epochs", str(epochs), "--seed",
               str(seed), "--quiet", "--log", log]
        text, rss, busy = run(cmd)
        with open(log) as f:
            times = [json.loads(line)["seconds"] for line in f if line.strip()]
    m = re.search(r"^test: .* accuracy ([0-9.]+)%", text, re.M)
    if not m:
        sys.exit("cnn.py: nabla printed no test accuracy:\n" + text[-2000:])
    return dict(tool="nabla", setting="default", epoch_s=times,
                epoch_median_s=statistics.median(times), test_accuracy=float(m.group(1)) / 100,
                peak_rss_mb=rss, busy=busy)


def torch(args, spec, epochs, seed, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.join(HERE, "bench_cnn_torch.py"), "--spec", spec, "--epochs",
           str(epochs), "--seed", str(seed), "--threads", str(threads)]
    text, rss, busy = run(cmd, env)
    r = json.loads(text.strip().splitlines()[-1])
    r.update(setting=f"set_num_threads({threads})", peak_rss_mb=rss, busy=busy)
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nabla", required=True, help="the nabla program")
    p.add_argument("--spec", default=SPEC)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5, help="nabla's epochs (accuracy runs)")
    p.add_argument("--torch-epochs", type=int, default=2, help="PyTorch's epochs (speed only)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default="build/bench/cnn.jsonl")
    args = p.parse_args()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tools = [("nabla", None)] + ([] if args.no_torch else [("torch", 1), ("torch", 2)])
    rows = []
    with open(args.out, "a") as out:
        for r in range(1, args.reps + 1):
            for k in range(len(tools)):
                name, threads = tools[(k + r - 1) % len(tools)]
                print(f"cnn.py: rep {r}/{args.reps} {name} {threads or ''}", file=sys.stderr)
                if name == "nabla":
                    row = nabla(args, args.spec, args.epochs, r)
                else:
                    row = torch(args, args.spec, args.torch_epochs, r, threads)
                row.update(spec=args.spec, seed=r, rep=r)
                out.write(json.dumps(row) + "\n")
                out.flush()
                rows.append(row)
    version = subprocess.run([args.nabla, "--version"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; nabla: {' / '.join(version.split(chr(10))[:2])}")
    print(f"spec: `{args.spec}`, Adam lr 0.001, batch 64\n")
    print("| tool, setting | s/epoch (median of runs' medians) | peak RSS MiB (median) | "
          "test accuracy (median) | runs | busy runs |")
    print("|---|---|---|---|---|---|")
    for name, threads in tools:
        sel = [x for x in rows if x["tool"] == name and
               (threads is None or x["setting"] == f"set_num_threads({threads})")]
        print(f"| {name}, {sel[0]['setting']} | {statistics.median(x['epoch_median_s'] for x in sel):.2f}"
              f" | {statistics.median(x['peak_rss_mb'] for x in sel):.0f}"
              f" | {100 * statistics.median(x['test_accuracy'] for x in sel):.2f}%"
              f" ({len(sel[0]['epoch_s'])} epochs) | {len(sel)} | {sum(x['busy'] for x in sel)} |")


if __name__ == "__main__":
    main()
