"""Shared by the Python benchmarks: Fashion-MNIST from the IDX .gz files,
options, timing helpers and the peak RSS. Standard library and NumPy only."""

import argparse
import gzip
import json
import os
import resource
import struct
import sys

import numpy as np

DATA_DIR = os.environ.get("NABLA_DATA_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(path):
    """An IDX file of unsigned bytes (plain or .gz) as a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(name):
    for candidate in (name + ".gz", name):
        path = os.path.join(DATA_DIR, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name}[.gz] not found in {DATA_DIR}")


def load_fashion(samples=0):
    """Train and test images as float32 rows scaled by 1/255, int64 labels.
    samples > 0 keeps the first samples training images only."""
    out = []
    for part in ("train", "t10k"):
        images = read_idx(find(f"{part}-images-idx3-ubyte"))
        labels = read_idx(find(f"{part}-labels-idx1-ubyte"))
        x = images.reshape(len(images), -1).astype(np.float32)
        x *= np.float32(1.0 / 255.0)  # in place: no second copy of the set
        out += [x, labels.astype(np.int64)]
    xtr, ytr, xte, yte = out
    if 0 < samples < len(xtr):
        xtr, ytr = xtr[:samples].copy(), ytr[:samples].copy()
    return xtr, ytr, xte, yte


def blas_threads():
    """OpenBLAS's threads as the environment sets them; 0: its default (one per core)."""
    env = os.environ.get("OPENBLAS_NUM_THREADS", "")
    return int(env) if env.isdigit() else 0


def parser(tool):
    p = argparse.ArgumentParser(description=f"{tool} benchmark on Fashion-MNIST")
    p.add_argument("--mode", default="train", choices=["train", "infer"])
    p.add_argument("--name", default="a")
    p.add_argument("--hidden", default="100", help="hidden widths, e.g. 256,128")
    p.add_argument("--opt", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=0)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rep", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="the tool's own threads; 0: its default")
    return p


def widths(hidden):
    return [784] + [int(w) for w in hidden.split(",") if w] + [10]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def emit(record):
    record["rss_mb"] = round(peak_rss_mb(), 1)
    json.dump(record, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    sys.stdout.flush()
