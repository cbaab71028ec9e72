"""BatchNormalization kernels: native/batch_norm.c against the code the fused primitives ran
before it (the NumPy wide-view twin in norm_kernels.py above fused_ops._NORM_MIN_ELEMS, the
array-namespace code of fused_ops below), in one process, alternating, from memory.

    OPENBLAS_NUM_THREADS=1 TENFOLD_KERNEL_THREADS=1 python bench/bench_batch_norm_native.py \\
        ["(64, 32, 32, 16)" ...]

Process-time medians in ms, float32; each call gets inputs rotated over ~200 MB of tensors,
so it reads them from memory as in a training step. "old" is the path fused_ops took before
(twin or array-namespace code, whichever the old threshold picked); "twin" the NumPy
wide-view kernels at any size.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tenfold.backend import norm_kernels as N  # noqa: E402
from tenfold.ops import fused_ops as F  # noqa: E402

_FNS = N._native_fns
_MIN = F._NORM_MIN_ELEMS
OLD_MIN = 1 << 15
SHAPES = [(64, 32, 32, 16), (64, 16, 16, 32), (64, 8, 8, 64), (32, 32, 32, 32),
          (32, 32, 32, 64), (32, 16, 16, 128), (32, 8, 8, 256)]


def _mode(mode):
    """old: no native, the old threshold; twin: no native, wide kernels at any size."""
    N._native_fns = _FNS if mode == "native" else (lambda dt: None)
    F._NORM_MIN_ELEMS = {"old": OLD_MIN, "twin": 0, "native": _MIN}[mode]


def _call(name, x, g, s, y, gm, bt):
    if name == "fwd+relu":
        return F._batch_norm_relu_train_kernel(x, gm, bt, 1e-3)
    if name == "fwd+res+relu":
        return F._batch_norm_add_relu_train_kernel(x, gm, bt, s, 1e-3)
    if name == "bwd":
        return F._batch_norm_train_grad_kernel(g, x, y, gm, 1e-3)
    return F._batch_norm_relu_train_grad_kernel(g, x, y, gm, 1e-3)


def main():
    rng = np.random.default_rng(0)
    shapes = [eval(a) for a in sys.argv[1:]] or SHAPES
    modes = ("old", "twin", "native")
    for shp in shapes:
        c = shp[-1]
        nsets = max(5, int(200e6 / (3 * np.prod(shp) * 4)))
        sets = [tuple((rng.standard_normal(shp) * k + k).astype(np.float32) for k in (2, 1, 1))
                for _ in range(nsets)]
        gm, bt = np.ones(c, np.float32), np.full(c, 0.1, np.float32)
        out = []
        for name in ("fwd+relu", "fwd+res+relu", "bwd", "bwd+relu"):
            res = {m: [] for m in modes}
            for rep in range(max(3, 27 // nsets)):
                for i in range(nsets):
                    mode = modes[(i + rep) % 3]
                    _mode(mode)
                    x, g, s = sets[i]
                    y = None
                    if name.startswith("bwd"):  # the forward first (untimed), then others'
                        y = (F._batch_norm_train_kernel if name == "bwd" else
                             F._batch_norm_relu_train_kernel)(x, gm, bt, 1e-3)
                        for j in range(1, 4):   # traffic, so the backward reads from memory
                            sets[(i + j) % nsets][0].sum()
                    t = time.process_time()
                    _call(name, x, g, s, y, gm, bt)
                    res[mode].append(time.process_time() - t)
            out.append(name + ": " + " ".join(f"{m} {np.median(v) * 1e3:.3f}"
                                              for m, v in res.items()))
        _mode("native")
        print(shp, " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
