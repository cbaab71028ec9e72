"""Optimizer update kernels (issue 17): the fast paths against the plain ones, in one process.

    OPENBLAS_NUM_THREADS=1 TENFOLD_KERNEL_THREADS=1 python bench/bench_optimizers.py [--repeats 25]
    python bench/bench_optimizers.py --before /work/main     # also the kernels of a checkout

Each case runs `optimizer._backend_update_step` (the update a compiled train step runs) on the
variable shapes of a benchmark model, alternating the variants, and prints the median time
(process time by default, robust to a busy machine; --wall for wall-clock time with threads):
  - "plain": whole arrays, one variable at a time (blocks and groups switched off);
  - "fast": big variables block by block (kernels.blockwise), small ones as one flat group;
  - "before": the optimizers module of another checkout (--before), on this one's base class.
Every variant's numbers are checked to be equal after the run.
"""
import argparse
import importlib.util
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tenfold import keras  # noqa: E402
from tenfold.backend import kernels  # noqa: E402
import tenfold.keras.optimizers.optimizer as base  # noqa: E402
import tenfold.keras.optimizers.optimizers as fast  # noqa: E402
from tenfold.keras.optimizers.optimizer import SparseRows  # noqa: E402

TRANSFORMER_SMALL = [(32, 2, 32), (2, 32)] * 3 + [(2, 32, 32), (32,), (32, 32), (32,), (32, 32),
                                                  (32,)] + [(32,)] * 4 + [(32, 20), (20,),
                                                                           (20, 2), (2,)]


def cases(rng):
    mlp = [(784, 512), (512,), (512, 10), (10,)]
    dense = lambda shapes: [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]

    def sparse(rows, dim, n):
        return SparseRows(rng.standard_normal((n, dim)).astype(np.float32),
                          rng.integers(1, rows, n), (rows, dim))
    return [
        ("mlp RMSprop", lambda m: m.RMSprop(1e-3), mlp, dense(mlp)),
        ("mlp Adam", lambda m: m.Adam(1e-3), mlp, dense(mlp)),
        ("mlp SGD momentum", lambda m: m.SGD(1e-3, momentum=0.9), mlp, dense(mlp)),
        ("transformer 20 small vars Adam", lambda m: m.Adam(1e-3), TRANSFORMER_SMALL,
         dense(TRANSFORMER_SMALL)),
        ("transformer Embedding(20000,32) Adam", lambda m: m.Adam(1e-3), [(20000, 32)],
         [sparse(20000, 32, 4096)]),
        ("lstm Embedding(20000,128) Adam", lambda m: m.Adam(1e-3), [(20000, 128)],
         [sparse(20000, 128, 5120)]),
    ]


def load_before(path):
    spec = importlib.util.spec_from_file_location(
        "before_optimizers", pathlib.Path(path) / "tenfold/keras/optimizers/optimizers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--before", help="another checkout: time its optimizers module too")
    ap.add_argument("--wall", action="store_true", help="wall-clock time (threads count)")
    args = ap.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    modules = {"plain": fast, "fast": fast}
    if args.before:
        modules["before"] = load_before(args.before)
    block, group = kernels._BLOCK_BYTES, base._GROUP_MAX
    settings = {"plain": (1 << 50, 0), "fast": (block, group), "before": (1 << 50, 0)}
    rng = np.random.default_rng(0)
    print(f"{'case':40s}" + "".join(f"{k:>12s}" for k in modules) + "   (ms per update, median)")
    for name, make, shapes, grads in cases(rng):
        init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        runs = {}
        for k, mod in modules.items():
            variables = [keras.Variable(a.copy()) for a in init]
            opt = make(mod)
            opt.build(variables)
            runs[k] = (opt, variables)
        times = {k: [] for k in runs}
        for _ in range(args.repeats):
            for k, (opt, variables) in runs.items():
                kernels._BLOCK_BYTES, base._GROUP_MAX = settings[k]
                t = clock()
                for _ in range(4):
                    opt._backend_update_step(grads, variables, 1e-3)
                times[k].append((clock() - t) / 4)
        kernels._BLOCK_BYTES, base._GROUP_MAX = block, group
        values = {k: [np.asarray(v.numpy()) for v in runs[k][1]] for k in runs}
        same = all(all(np.array_equal(a, b) for a, b in zip(values["plain"], values[k]))
                   for k in values)
        print(f"{name:40s}" + "".join(f"{np.median(times[k]) * 1e3:12.3f}" for k in runs)
              + ("" if same else "   NUMBERS DIFFER"))


if __name__ == "__main__":
    main()
