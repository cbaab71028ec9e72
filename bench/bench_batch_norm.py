"""BatchNormalization kernels (tenfold/backend/norm_kernels.py) against the previous
array-namespace kernels of ops/fused_ops.py, in one process, alternating, from memory.

    OPENBLAS_NUM_THREADS=1 TENFOLD_KERNEL_THREADS=1 TENFOLD_ADAPTIVE_THREADS=0 \\
        python bench/bench_batch_norm.py ["(64, 32, 32, 16)"]

Each call gets inputs not touched for ~300 MB of other traffic (the tensors rotate), as in
a training step; process-time medians in ms, float32 (BN_CLOCK=wall: wall-clock medians,
for the threaded kernels on an otherwise idle machine). "old" runs fused_ops with the NumPy
kernels switched off (their previous code), and relu / relu_grad as separate NumPy passes.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tenfold.backend import norm_kernels as N  # noqa: E402
from tenfold.ops import fused_ops as F  # noqa: E402

_FAST = N.fast_ok
_CLOCK = time.perf_counter if os.environ.get("BN_CLOCK") == "wall" else time.process_time


def _mode(new):
    N.fast_ok = _FAST if new else (lambda *a: False)


def main():
    rng = np.random.default_rng(0)
    shapes = [eval(sys.argv[1])] if len(sys.argv) > 1 else \
        [(64, 32, 32, 16), (64, 16, 16, 32), (64, 8, 8, 64), (32, 32, 32, 64)]
    for shp in shapes:
        c = shp[-1]
        nsets = max(5, int(300e6 / (3 * np.prod(shp) * 4)))
        sets = [((rng.standard_normal(shp) * 2 + 3).astype(np.float32),
                 rng.standard_normal(shp).astype(np.float32)) for _ in range(nsets)]
        gm, bt = np.ones(c, np.float32), np.full(c, 0.1, np.float32)
        res = {}
        for name in ("fwd", "fwd+relu", "bwd", "bwd+relu"):
            res[name] = ([], [])
            for rep in range(3):
                for i in range(nsets):
                    new = (i + rep) % 2
                    _mode(new)
                    x, g = sets[i]
                    if name.startswith("bwd"):  # the forward first (untimed), then others'
                        if name == "bwd":       # traffic, so the backward reads from memory
                            y = F._batch_norm_train_kernel(x, gm, bt, 1e-3)
                        elif new:
                            y = F._batch_norm_relu_train_kernel(x, gm, bt, 1e-3)
                        else:
                            y0 = F._batch_norm_train_kernel(x, gm, bt, 1e-3)
                            y = np.maximum(y0, 0)
                        for j in range(1, 4):
                            sets[(i + j) % nsets][0].sum()
                    t = _CLOCK()
                    if name == "fwd":
                        F._batch_norm_train_kernel(x, gm, bt, 1e-3)
                    elif name == "fwd+relu":
                        if new:
                            F._batch_norm_relu_train_kernel(x, gm, bt, 1e-3)
                        else:
                            np.maximum(F._batch_norm_train_kernel(x, gm, bt, 1e-3), 0)
                    elif name == "bwd":
                        F._batch_norm_train_grad_kernel(g, x, y, gm, 1e-3)
                    elif new:
                        F._batch_norm_relu_train_grad_kernel(g, x, y, gm, 1e-3)
                    else:
                        F._batch_norm_train_grad_kernel(np.multiply(g, np.greater(y, 0)), x, y0,
                                                        gm, 1e-3)
                    res[name][new].append(_CLOCK() - t)
        _mode(True)
        print(shp, " | ".join(f"{n}: old {np.median(o) * 1e3:.2f} new {np.median(w) * 1e3:.2f}"
                              for n, (o, w) in res.items()))


if __name__ == "__main__":
    main()
