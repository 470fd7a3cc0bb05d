"""PyTorch's conv2d at the benchmark CNN's shapes (batch 64): forward and
autograd backward (dx, dW, db) in ms, the median of REPS calls after a
warm-up, for 1 and 2 threads. Run with OPENBLAS_NUM_THREADS=1:
    OPENBLAS_NUM_THREADS=1 python3 bench/conv_torch.py
"""
import statistics
import time

import torch
import torch.nn.functional as F

REPS = 30
SHAPES = [
    ("conv1 64x1x28x28 -> 32, 3x3 pad 1", (64, 1, 28, 28), 32),
    ("conv2 64x32x14x14 -> 64, 3x3 pad 1", (64, 32, 14, 14), 64),
]


def timed(fn):
    for _ in range(5):
        fn()
    ts = []
    for _ in range(REPS):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts), min(ts)


def main():
    torch.manual_seed(0)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, xs, f in SHAPES:
            x = torch.randn(*xs, requires_grad=True)
            w = torch.randn(f, xs[1], 3, 3, requires_grad=True)
            b = torch.randn(f, requires_grad=True)
            with torch.no_grad():
                fwd = timed(lambda: F.conv2d(x, w, b, padding=1))
            y = F.conv2d(x, w, b, padding=1)
            dy = torch.randn_like(y)

            def back():
                yy = F.conv2d(x, w, b, padding=1)
                torch.autograd.grad(yy, (x, w, b), dy)

            both = timed(back)
            print(f"torch {name:36s} threads {threads} | fwd {fwd[0]:6.2f} (best {fwd[1]:6.2f})"
                  f" | fwd+bwd {both[0]:6.2f} (best {both[1]:6.2f}) | bwd {both[0] - fwd[0]:6.2f} ms")


if __name__ == "__main__":
    main()
