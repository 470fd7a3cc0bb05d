"""PyTorch on a nabla layer spec, one JSON line out (bench/cnn.py runs it).

The network is built from the same spec string nabla trains
("conv:32:3,relu,maxpool:2,..."), with nabla's defaults: conv padding
(K-1)/2 for odd K, pool stride = kernel, He normal weights (fan_in) before a
ReLU and Xavier uniform otherwise, zero biases, batch norm momentum 0.1 and
eps 1e-5. Same data (IDX .gz files, /255, [N, 1, 28, 28]), same batch, a fresh
permutation every epoch, softmax cross-entropy averaged over the batch, Adam
with nabla's defaults. Only the training loop is timed."""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

import common
from bench_torch import accuracy  # the same evaluation as the MLP benchmark


def build(spec, shape):
    items = spec.split(",")
    layers, c, h, w, flat = [], shape[0], shape[1], shape[2], None
    for i, item in enumerate(items):
        name, *a = item.split(":")
        a = [float(v) if "." in v else int(v) for v in a]
        rect = i + 1 < len(items) and items[i + 1].split(":")[0] in ("relu", "leaky_relu")
        if name == "conv":
            f, k = a[0], a[1]
            s = a[2] if len(a) > 2 else 1
            p = a[3] if len(a) > 3 else ((k - 1) // 2 if k % 2 else 0)
            m = torch.nn.Conv2d(c, f, k, stride=s, padding=p)
            init(m, rect)
            layers.append(m)
            c, h, w = f, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        elif name in ("maxpool", "avgpool"):
            k = a[0]
            s = a[1] if len(a) > 1 else k
            layers.append((torch.nn.MaxPool2d if name == "maxpool" else torch.nn.AvgPool2d)(k, s))
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif name == "gap":
            layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
            flat = c
        elif name == "dense":
            if flat is None:
                layers.append(torch.nn.Flatten())
                flat = c * h * w
            m = torch.nn.Linear(flat, a[0])
            init(m, rect)
            layers.append(m)
            flat = a[0]
        elif name == "batchnorm":
            layers.append(torch.nn.BatchNorm2d(c) if flat is None else torch.nn.BatchNorm1d(flat))
        elif name == "dropout":
            layers.append(torch.nn.Dropout(a[0]))
        elif name == "relu":
            layers.append(torch.nn.ReLU())
        elif name == "flatten":
            layers.append(torch.nn.Flatten())
            flat = c * h * w
        else:
            raise SystemExit(f"bench_cnn_torch: layer {item!r} is not supported here")
    return torch.nn.Sequential(*layers)


def init(m, rect):
    if rect:
        torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    else:
        torch.nn.init.xavier_uniform_(m.weight)
    torch.nn.init.zeros_(m.bias)


def main():
    p = argparse.ArgumentParser(description="PyTorch CNN benchmark on Fashion-MNIST")
    p.add_argument("--spec", required=True)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = common.load_fashion()
    xtr, xte = (torch.from_numpy(x).reshape(-1, 1, 28, 28) for x in (xtr, xte))
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    model = build(args.spec, (1, 28, 28))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    n, b, times = len(xtr), args.batch, []
    for _ in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, b):
            idx = perm[s:s + b]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps(dict(tool="torch", threads=torch.get_num_threads(), version=torch.__version__,
                          epoch_s=[round(t, 4) for t in times],
                          epoch_median_s=statistics.median(times),
                          test_accuracy=accuracy(model, xte, yte))))


if __name__ == "__main__":
    main()
