"""The sparse-operand product (backend/gemm_sparse.py) against the dense one, back to back.

    python bench/bench_sparse_gemm.py [--calls 300] [--repeats 7]

The seed MLP's two first-layer products on MNIST batches of 128 (x @ W + b, and x^T dy with
x^T read in place), then the forward's shape on random inputs of several densities (where
the sparse kernel stops paying). Alternating dense / sparse in one process, best of
--repeats rounds of --calls calls, microseconds. MNIST from $TENFOLD_DATASETS, else
../shared/datasets beside the repository.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tenfold.backend import gemm_sparse  # noqa: E402


def _mnist_batch(n=128, seed=0):
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.environ.get("TENFOLD_DATASETS") or os.path.join(here, "..", "..", "shared",
                                                                 "datasets")
    with np.load(os.path.join(folder, "mnist.npz")) as f:
        x = f["x_train"]
    pick = np.random.default_rng(seed).choice(len(x), n, replace=False)
    return x[pick].reshape(n, 784).astype(np.float32) / 255


def _best(fn, calls, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def _row(label, a, b, bias, calls, repeats):
    out = np.empty((a.shape[0], b.shape[1]), np.float32)

    def dense():
        np.matmul(a, b, out=out)
        if bias is not None:
            np.add(out, bias, out=out)

    def sparse():
        gemm_sparse._dense_seen.clear()
        if gemm_sparse.matmul(a, b, out=out, bias=bias) is None:
            raise SystemExit(f"{label}: the sparse kernel did not take it")

    d, s = [], []
    for _ in range(3):   # alternate: the host's noise moves both alike
        d.append(_best(dense, calls, repeats))
        s.append(_best(sparse, calls, repeats))
    print(f"{label:58s} dense {min(d):7.1f}   sparse {min(s):7.1f}   x{min(d) / min(s):.2f}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    if gemm_sparse._fn() is None:
        print("the sparse kernel is not built here (no compiler, no AVX-512, TENFOLD_NATIVE=0)")
        return 1
    rng = np.random.default_rng(1)
    x = _mnist_batch()
    w = (rng.standard_normal((784, 512)) * 0.05).astype(np.float32)
    bias = rng.standard_normal(512).astype(np.float32)
    dy = rng.standard_normal((128, 512)).astype(np.float32)
    print(f"MNIST batch of 128: {np.count_nonzero(x)} nonzeros of {x.size}")
    _row("x @ W + b   (128, 784) x (784, 512)", x, w, bias, args.calls, args.repeats)
    _row("x^T dy      (784, 128) x (128, 512), x^T in place", x.T, dy, None, args.calls,
         args.repeats)
    for density in (0.1, 0.2, 0.3):
        a = (rng.random((128, 784)) * (rng.random((128, 784)) < density)).astype(np.float32)
        _row(f"random a, density {density}: (128, 784) x (784, 512)", a, w, None, args.calls,
             args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
