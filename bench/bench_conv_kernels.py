"""Kernel-level before/after for the conv dispatch rules in tenfold/backend/kernels.py (issue 17):
each shape timed with the new kernels and with TENFOLD_CONV_LEGACY's switch, alternating in
one process, best of --repeats (the machine is shared: read ratios, not absolute times).

    python bench/bench_conv_kernels.py [--bpi] [--scatter] [--depthwise] [--tiled] [--repeats 9]
(no flag: all groups). --tiled compares the output-tiled stride-1 kernels with the paths they
replaced (the tile rule switched off), in CPU time: run it with OPENBLAS_NUM_THREADS=1
TENFOLD_KERNEL_THREADS=1 for figures robust to a shared machine.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tenfold.backend import kernels as K  # noqa: E402


def ab(fn, repeats):
    new, old = [], []
    for _ in range(repeats):
        for legacy, acc in ((False, new), (True, old)):
            K.LEGACY = legacy
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    K.LEGACY = False
    return min(new) * 1e3, min(old) * 1e3


def report(label, fn, repeats):
    n, o = ab(fn, repeats)
    print(f"  {label:48s} new {n:8.1f} ms   before {o:8.1f} ms   x{o / n:5.2f}", flush=True)


def ab_tiled(fn, repeats):
    """Medians of CPU time: tiled kernels vs the tile rule switched off, alternating."""
    rule = K._tile_for
    new, old = [], []
    for _ in range(repeats):
        for on, acc in ((True, new), (False, old)):
            K._tile_for = rule if on else (lambda *a: None)
            try:
                t = time.process_time()
                fn()
                acc.append(time.process_time() - t)
            finally:
                K._tile_for = rule
    return sorted(new)[len(new) // 2] * 1e3, sorted(old)[len(old) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser()
    for g in ("bpi", "scatter", "depthwise", "tiled"):
        ap.add_argument(f"--{g}", action="store_true")
    ap.add_argument("--repeats", type=int, default=9)
    a = ap.parse_args()
    every = not (a.bpi or a.scatter or a.depthwise or a.tiled)
    rng = np.random.default_rng(0)
    f32 = np.float32
    print(f"load average {os.getloadavg()[0]:.1f}")
    if a.bpi or every:
        print("input gradient / transposed conv (by phases vs K GEMMs + strided adds)")
        for xs, k, co, s, pads, what in [
                ((64, 32, 32, 16), 3, 16, 1, ((1, 1), (1, 1)), "ResNet 3x3 16->16 32x32"),
                ((64, 8, 8, 64), 3, 64, 1, ((1, 1), (1, 1)), "ResNet 3x3 64->64 8x8"),
                ((64, 16, 16, 16), 3, 32, 2, ((0, 1), (0, 1)), "ResNet 3x3/2 16->32"),
                ((64, 14, 14, 128), 4, 128, 2, ((1, 1), (1, 1)), "GAN Conv2DTranspose 4x4/2"),
                ((64, 28, 28, 128), 7, 1, 1, ((3, 3), (3, 3)), "GAN Conv2D(1, 7) dx")]:
            out = K.out_sizes(xs[1:3], (k, k), (s, s), (1, 1), pads)
            dy = rng.standard_normal((xs[0],) + out + (co,)).astype(f32)
            w = rng.standard_normal((k, k, xs[-1], co)).astype(f32)
            report(what, lambda: K.conv_backprop_input(dy, w, xs, (s, s), (1, 1), pads),
                   a.repeats)
    if a.scatter or every:
        print("forward, few output channels (wide GEMM + shifted adds vs im2col)")
        for xs, k, co, p in [((64, 28, 28, 128), 7, 1, 3), ((64, 16, 16, 64), 3, 16, 1),
                             ((64, 16, 16, 32), 3, 8, 1)]:
            x = rng.standard_normal(xs).astype(f32)
            w = rng.standard_normal((k, k, xs[-1], co)).astype(f32)
            report(f"{k}x{k} {xs[-1]}->{co} {xs[1]}x{xs[2]}",
                   lambda: K.conv(x, w, (1, 1), (1, 1), ((p, p), (p, p))), a.repeats)
    if a.depthwise or every:
        print("depthwise 3x3 (chunked + threaded vs whole-batch loops)")
        for xs, s in [((32, 32, 32, 64), 1), ((32, 32, 32, 128), 2), ((32, 8, 8, 256), 1)]:
            x = rng.standard_normal(xs).astype(f32)
            w = rng.standard_normal((3, 3, xs[-1], 1)).astype(f32)
            p = ((1, 1), (1, 1)) if s == 1 else ((0, 1), (0, 1))
            dy = np.ones_like(K.depthwise_conv(x, w, (s, s), (1, 1), p))
            tag = f"{xs[1]}x{xs[2]}x{xs[3]} /{s}"
            report(tag + " forward", lambda: K.depthwise_conv(x, w, (s, s), (1, 1), p),
                   a.repeats)
            report(tag + " input gradient", lambda: K.depthwise_backprop_input(
                dy, w, xs, (s, s), (1, 1), p), a.repeats)
            report(tag + " filter gradient", lambda: K.depthwise_backprop_filter(
                x, dy, w.shape, (s, s), (1, 1), p), a.repeats)
    if a.tiled or every:
        print("3x3 convs by output tiles vs plain im2col / phases (CPU ms, medians)")
        for xs, co, s, what in [((64, 32, 32, 3), 16, 1, "ResNet conv1 3->16 32x32"),
                                ((64, 32, 32, 16), 16, 1, "ResNet 3x3 16->16 32x32"),
                                ((64, 16, 16, 32), 32, 1, "ResNet 3x3 32->32 16x16"),
                                ((64, 8, 8, 64), 64, 1, "ResNet 3x3 64->64 8x8"),
                                ((64, 32, 32, 16), 32, 2, "ResNet 3x3/2 16->32 32x32"),
                                ((64, 16, 16, 32), 64, 2, "ResNet 3x3/2 32->64 16x16"),
                                ((32, 64, 64, 3), 32, 2, "MobileNet stem 3x3/2 3->32")]:
            x = rng.standard_normal(xs).astype(f32)
            w = rng.standard_normal((3, 3, xs[-1], co)).astype(f32)
            b = rng.standard_normal(co).astype(f32)
            p = ((1, 1), (1, 1)) if s == 1 else ((0, 1), (0, 1))
            st = (s, s)
            dy = rng.standard_normal((xs[0], xs[1] // s, xs[2] // s, co)).astype(f32)
            for label, fn in [
                    ("forward + bias", lambda: K.conv_bias_act(x, w, b, st, (1, 1), p)),
                    ("input gradient",
                     lambda: K.conv_backprop_input(dy, w, xs, st, (1, 1), p)),
                    ("filter gradient",
                     lambda: K.conv_backprop_filter(x, dy, w.shape, st, (1, 1), p))]:
                if s > 1 and label == "input gradient":
                    continue   # strided input gradients are not tiled
                n, o = ab_tiled(fn, a.repeats)
                print(f"  {what + ' ' + label:48s} new {n:8.2f} ms   before {o:8.2f} ms   "
                      f"x{o / n:5.2f}", flush=True)


if __name__ == "__main__":
    main()
