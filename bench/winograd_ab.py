"""Kernel-level before/after for Winograd's F(2x2, 3x3) (tenfold/backend/conv_winograd.py):
each 3x3 stride-1 shape's forward (bias + ReLU), input gradient and filter gradient (with
the bias gradient) timed through backend/kernels.py with the Winograd rule on and off,
alternating in one process, medians (wall time, the kernels' own threads; the machine is
shared: read ratios, not absolute times). --cold streams 64 MB through the caches before
each call, as the step's other nodes do inside `fit`.

    python bench/winograd_ab.py [--cold] [--repeats 5] [N,H,W,C,O ...]
(no shape: ResNet-20's, the MNIST convnet's and a few wider ones).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tenfold.backend import conv_winograd as W  # noqa: E402
from tenfold.backend import kernels as K  # noqa: E402

SHAPES = ["64,32,32,16,16", "64,16,16,32,32", "64,8,8,64,64", "64,16,16,16,32",
          "64,13,13,32,64", "64,32,32,3,16", "64,32,32,8,16", "32,8,8,128,128",
          "32,4,4,256,256", "8,56,56,64,64"]


def median_ms(fn, calls, flush):
    times = []
    for _ in range(calls):
        if flush is not None:
            np.add(flush, 1, out=flush)
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[calls // 2] * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("shapes", nargs="*", default=SHAPES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calls", type=int, default=11)
    ap.add_argument("--cold", action="store_true")
    args = ap.parse_args(argv)
    rule = W.wins
    flush = np.ones(16 << 20, np.float32) if args.cold else None
    rng = np.random.default_rng(0)
    p = ((1, 1), (1, 1))
    print(f"ms, direct or im2col -> F(2x2, 3x3){' (cold caches)' if args.cold else ''}")
    for spec in args.shapes:
        n, h, w, c, o = (int(v) for v in spec.split(","))
        x = rng.standard_normal((n, h, w, c)).astype(np.float32)
        f = rng.standard_normal((3, 3, c, o)).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        dy = rng.standard_normal((n, h, w, o)).astype(np.float32)
        calls = {"forward": lambda: K.conv_bias_act(x, f, b, (1, 1), (1, 1), p, relu=True),
                 "input grad": lambda: K.conv_backprop_input(dy, f, x.shape, (1, 1), (1, 1), p),
                 "filter grad": lambda: K.conv_backprop_filter(x, dy, f.shape, (1, 1), (1, 1),
                                                               p, with_bias=True)}
        got = {}
        for _ in range(args.repeats):
            for on in (False, True):
                W.wins = rule if on else (lambda *a, **k: False)
                for name, fn in calls.items():
                    got.setdefault((name, on), []).append(median_ms(fn, args.calls, flush))
        W.wins = rule
        cells = []
        for name in calls:
            off, on = min(got[(name, False)]), min(got[(name, True)])
            # the input gradient is the forward of dy with the filter's channels swapped
            shape = f.shape[:2] + f.shape[:1:-1] if name == "input grad" else f.shape
            taken = rule(x.shape, shape, name == "filter grad")
            cells.append(f"{name} {off:6.2f} -> {on:6.2f} (x{off / on:4.2f}"
                         f"{'' if taken else ', not taken'})")
        print(f"{spec:>16}: " + "   ".join(cells), flush=True)


if __name__ == "__main__":
    main()
