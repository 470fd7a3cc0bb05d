"""NumPy with the lecture notes' layer classes (Affine, Relu,
SoftmaxWithLoss, each with forward and backward; SGD and Adam), written for
this benchmark, float32 throughout. Same data, initialisation, batch,
per-epoch permutation, loss and optimizer settings as bench_torch.py."""

import os
import statistics
import time

import numpy as np

import common

F32 = np.float32


class Affine:
    """y = x W + b;  dx = dy W^T,  dW = x^T dy,  db = sum over the batch of dy"""

    def __init__(self, w, b):
        self.params = [w, b]
        self.grads = [np.zeros_like(w), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        self.x = x
        w, b = self.params
        return x @ w + b

    def backward(self, dy, need_dx=True):
        w = self.params[0]
        np.matmul(self.x.T, dy, out=self.grads[0])
        np.sum(dy, axis=0, out=self.grads[1])
        return dy @ w.T if need_dx else None


class Relu:
    """y = max(0, x);  dx = dy where x > 0, else 0"""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        y = x.copy()
        y[self.mask] = 0
        return y

    def backward(self, dy):
        dy[self.mask] = 0
        return dy


class SoftmaxWithLoss:
    """L = -mean log softmax(x)[t];  dx = (softmax(x) - onehot(t)) / N"""

    def __init__(self):
        self.p = None
        self.t = None

    def forward(self, x, t):
        z = x - x.max(axis=1, keepdims=True)
        e = np.exp(z)
        self.p = e / e.sum(axis=1, keepdims=True)
        self.t = t
        n = len(t)
        return float(-np.log(self.p[np.arange(n), t] + F32(1e-7)).mean())

    def backward(self):
        n = len(self.t)
        dx = self.p.copy()
        dx[np.arange(n), self.t] -= 1
        dx *= F32(1.0 / n)
        return dx


class SGD:
    """p -= lr g"""

    def __init__(self, lr):
        self.lr = F32(lr)

    def update(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


class Adam:
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr m^ / (sqrt v^ + eps),  m^ = m / (1 - b1^t),  v^ = v / (1 - b2^t)"""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, F32(eps)
        self.m = self.v = None
        self.t = 0

    def update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        b1, b2 = F32(self.b1), F32(self.b2)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= F32(self.lr / c1) * m / (np.sqrt(v * F32(1 / c2)) + self.eps)


class Network:
    """Affine, Relu, ..., Affine, SoftmaxWithLoss"""

    def __init__(self, dims, rng):
        self.layers = []
        for i in range(len(dims) - 1):
            fan_in, fan_out = dims[i], dims[i + 1]
            if i < len(dims) - 2:  # He normal before a ReLU
                w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
            else:  # Xavier uniform for the output layer
                r = np.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-r, r, (fan_in, fan_out))
            self.layers.append(Affine(w.astype(F32), np.zeros(fan_out, F32)))
            if i < len(dims) - 2:
                self.layers.append(Relu())
        self.loss = SoftmaxWithLoss()
        self.params = [p for l in self.layers if isinstance(l, Affine) for p in l.params]
        self.grads = [g for l in self.layers if isinstance(l, Affine) for g in l.grads]

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def step(self, x, t, optimizer):
        logits = self.predict(x)
        loss = self.loss.forward(logits, t)
        dy = self.loss.backward()
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            dy = layer.backward(dy, i > 0) if isinstance(layer, Affine) else layer.backward(dy)
        optimizer.update(self.params, self.grads)
        return loss, logits


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def train(args, base, xtr, ytr, xte, yte, rng):
    net = Network(common.widths(args.hidden), rng)
    opt = SGD(args.lr) if args.opt == "sgd" else Adam(args.lr)
    n, b = len(xtr), args.batch
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(n)
        total, correct = 0.0, 0
        for s in range(0, n, b):
            idx = perm[s:s + b]
            xb, yb = xtr[idx], ytr[idx]
            loss, logits = net.step(xb, yb, opt)
            total += loss * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        times.append(time.perf_counter() - t0)
    acc = sum(int((net.predict(xte[s:s + 1000]).argmax(1) == yte[s:s + 1000]).sum())
              for s in range(0, len(xte), 1000)) / len(xte)
    assert net.params[0].dtype == np.float32, "the benchmark must stay in float32"
    base.update(samples=n, opt=args.opt, lr=args.lr, batch=b, epochs=args.epochs,
                epoch_s=[round(t, 6) for t in times], epoch_median_s=statistics.median(times),
                train_loss=total / n, test_accuracy=acc)


def infer(args, base, xte, rng):
    """As bench_torch.py: one-sample latency, then the test set in batches of 1,000."""
    net = Network(common.widths(args.hidden), rng)
    lat = []
    for i in range(50 + args.calls):
        x = xte[i % len(xte)][None, :]
        t0 = time.perf_counter()
        softmax(net.predict(x))
        if i >= 50:
            lat.append(time.perf_counter() - t0)
    best = float("inf")
    for p in range(4):  # pass 0 warms up
        t0 = time.perf_counter()
        for s in range(0, len(xte), 1000):
            softmax(net.predict(xte[s:s + 1000]))
        if p > 0:
            best = min(best, time.perf_counter() - t0)
    lat.sort()
    base.update(samples=len(xte), calls=args.calls, latency_us=1e6 * statistics.median(lat),
                latency_p90_us=1e6 * lat[int(0.9 * (len(lat) - 1))], min_latency_us=1e6 * lat[0],
                throughput_sps=len(xte) / best)


def main():
    args = common.parser("NumPy").parse_args()
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = common.load_fashion(args.samples)
    rng = np.random.default_rng(args.seed)
    base = dict(tool="numpy", mode=args.mode, name=args.name, rep=args.rep, hidden=args.hidden,
                threads=common.blas_threads() or os.cpu_count(),
                blas_threads=common.blas_threads(), load_s=round(time.perf_counter() - t0, 3),
                version=np.__version__)
    if args.mode == "train":
        train(args, base, xtr, ytr, xte, yte, rng)
    else:
        infer(args, base, xte, rng)
    common.emit(base)


if __name__ == "__main__":
    main()
