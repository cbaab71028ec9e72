"""Row kernels (native/rows.c via backend/row_kernels.py) against their NumPy twins, called as
fused_ops / nn_ops / random_ops call them, in one process, alternating (TENFOLD_NATIVE=0
switches the twins on between runs), on the benchmark Transformer's shapes (batch 64,
length 64, embed 32, 2 heads) and the seed models' final softmax.

    python bench/bench_rows_native.py [--f64]

One thread (set below, BLAS too: its spinning threads would count in process time);
process-time medians of 41 alternating runs of ~3 ms each, in ms.
"""
import os
import sys
import time

os.environ["TENFOLD_KERNEL_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tenfold.ops import fused_ops as F  # noqa: E402
from tenfold.ops import nn_ops as N  # noqa: E402
from tenfold.ops import random_ops as RO  # noqa: E402


def cases(dt, rng):
    a = rng.standard_normal((64, 2, 64, 64)).astype(dt)
    y = N._softmax_kernel(a, -1)
    g = rng.standard_normal(a.shape).astype(dt)
    x = rng.standard_normal((64, 64, 32)).astype(dt)
    gx = rng.standard_normal(x.shape).astype(dt)
    gam, bet = rng.standard_normal(32).astype(dt), rng.standard_normal(32).astype(dt)
    s10, s2 = rng.standard_normal((64, 10)).astype(dt), rng.standard_normal((64, 2)).astype(dt)
    return [
        ("softmax (64, 2, 64, 64)", lambda: N._softmax_kernel(a, -1)),
        ("softmax_grad (64, 2, 64, 64)", lambda: F._softmax_grad_kernel(g, y, -1)),
        ("layer_norm (64, 64, 32)", lambda: F._layer_norm_kernel(x, gam, bet, 1e-6)),
        ("layer_norm_grad (64, 64, 32)", lambda: F._layer_norm_grad_kernel(gx, x, gam, 1e-6)),
        ("dropout_mask (64, 64, 32) 0.1",
         lambda: RO._dropout_mask_kernel((64, 64, 32), np.dtype(dt), 0.1, seed=1)),
        ("softmax (64, 10)", lambda: N._softmax_kernel(s10, -1)),
        ("softmax (64, 2)", lambda: N._softmax_kernel(s2, -1)),
    ]


def _timed(fn, reps):
    t = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t) / reps * 1e3


def main():
    rng = np.random.default_rng(0)
    for dt in [np.float32] + ([np.float64] if "--f64" in sys.argv else []):
        for name, fn in cases(dt, rng):
            fn()
            t0 = time.perf_counter()
            fn()
            reps = max(3, int(0.003 / max(time.perf_counter() - t0, 1e-7)))
            res = {"0": [], "": []}
            for _ in range(41):
                for mode in ("0", ""):
                    os.environ["TENFOLD_NATIVE"] = mode
                    res[mode].append(_timed(fn, reps))
            os.environ.pop("TENFOLD_NATIVE")
            a, b = np.median(res["0"]), np.median(res[""])
            print(f"{name:32s} {dt.__name__:8s} twin {a:8.4f} -> native {b:8.4f} ms "
                  f"(x{a / b:.2f})", flush=True)


if __name__ == "__main__":
    main()
