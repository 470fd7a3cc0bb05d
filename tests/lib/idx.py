"""Write one part of a small IDX image data set (sourced by the shell
tests, not run by CTest): FOLDER/PART-images-idx3-ubyte with COUNT images
of ROWS x COLS random bytes (seeded) and FOLDER/PART-labels-idx1-ubyte
with labels 0, 1, ..., CLASSES - 1 in turn; --gz writes both gzipped.

    python3 idx.py FOLDER PART COUNT ROWS COLS CLASSES [--gz] [--seed S]
"""
import argparse
import gzip
import os
import random
import struct


def main():
    p = argparse.ArgumentParser()
    for name in ("folder", "part"):
        p.add_argument(name)
    for name in ("count", "rows", "cols", "classes"):
        p.add_argument(name, type=int)
    p.add_argument("--gz", action="store_true")
    p.add_argument("--seed", default="1")
    a = p.parse_args()
    r = random.Random(f"{a.seed}-{a.part}")
    os.makedirs(a.folder, exist_ok=True)
    opener, ext = (gzip.open, ".gz") if a.gz else (open, "")
    with opener(f"{a.folder}/{a.part}-images-idx3-ubyte{ext}", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, a.count, a.rows, a.cols)
                + bytes(r.randrange(256) for _ in range(a.count * a.rows * a.cols)))
    with opener(f"{a.folder}/{a.part}-labels-idx1-ubyte{ext}", "wb") as f:
        f.write(struct.pack(">II", 0x801, a.count) + bytes(i % a.classes for i in range(a.count)))


if __name__ == "__main__":
    main()
