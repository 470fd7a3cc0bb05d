"""PyTorch on the same configurations as bench_nabla, one JSON line out.

Same data (the IDX .gz files, /255), same layers (Linear + ReLU), same
initialisation as nabla's dense layers (He normal N(0, 2/fan_in) weights
before a ReLU, Xavier uniform for the last layer, zero biases), same batch,
a fresh permutation every epoch, softmax cross-entropy averaged over the
batch, the same optimizer hyperparameters. Only the training loop is timed;
the running loss and accuracy are kept as nabla's trainer keeps them."""

import statistics
import time

import torch
import torch.nn.functional as F

import common


def build(hidden):
    dims = common.widths(hidden)
    layers = []
    for i in range(len(dims) - 1):
        linear = torch.nn.Linear(dims[i], dims[i + 1])
        if i < len(dims) - 2:
            torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")  # fan_in mode
        else:
            torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), 1000):
            correct += (model(x[s:s + 1000]).argmax(1) == y[s:s + 1000]).sum().item()
    model.train()
    return correct / len(x)


def train(args, base, xtr, ytr, xte, yte):
    model = build(args.hidden)
    if args.opt == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed)
    n, b = len(xtr), args.batch
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total, correct = 0.0, 0
        for s in range(0, n, b):
            idx = perm[s:s + b]
            xb, yb = xtr[idx], ytr[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        times.append(time.perf_counter() - t0)
    base.update(opt=args.opt, lr=args.lr, batch=b, epochs=args.epochs,
                epoch_s=[round(t, 6) for t in times],
                epoch_median_s=statistics.median(times), train_loss=total / n,
                test_accuracy=accuracy(model, xte, yte))


def infer(args, base, xte):
    model = build(args.hidden).eval()
    lat = []
    with torch.no_grad():
        for i in range(50 + args.calls):
            x = xte[i % len(xte)].unsqueeze(0)
            t0 = time.perf_counter()
            F.softmax(model(x), dim=1)
            if i >= 50:
                lat.append(time.perf_counter() - t0)
        best = float("inf")
        for p in range(4):  # pass 0 warms up
            t0 = time.perf_counter()
            for s in range(0, len(xte), 1000):
                F.softmax(model(xte[s:s + 1000]), dim=1)
            if p > 0:
                best = min(best, time.perf_counter() - t0)
    lat.sort()
    base.update(calls=args.calls, latency_us=1e6 * statistics.median(lat),
                latency_p90_us=1e6 * lat[int(0.9 * (len(lat) - 1))], min_latency_us=1e6 * lat[0],
                throughput_sps=len(xte) / best)


def main():
    args = common.parser("PyTorch").parse_args()
    if args.threads > 0:  # else PyTorch's default
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = common.load_fashion(args.samples)
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in (xtr, ytr, xte, yte))
    base = dict(tool="torch", mode=args.mode, name=args.name, rep=args.rep, hidden=args.hidden,
                threads=torch.get_num_threads(), blas_threads=common.blas_threads(), samples=len(xtr) if args.mode == "train"
                else len(xte), load_s=round(time.perf_counter() - t0, 3),
                version=torch.__version__)
    if args.mode == "train":
        train(args, base, xtr, ytr, xte, yte)
    else:
        infer(args, base, xte)
    common.emit(base)


if __name__ == "__main__":
    main()
