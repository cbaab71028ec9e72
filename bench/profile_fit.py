"""Per-node times of a benchmark model's compiled train step inside a real `fit`.

    python bench/profile_fit.py mlp [--steps 400] [--data random|mnist] [--blas-threads N]
                                    [--top 40] [--by-op]
                                    [--overlap]

Why inside `fit`: a node's cost there is not its cost alone. The big products and the
optimizer's sweep over the weights and slots pass megabytes through the caches between the
small nodes, so the small ones (and the Python that calls them) run 2-3x slower than the
same calls timed back to back (the seed MLP's: about 200-250 us of small nodes per step in
`fit`, about half that alone). `Plan.profile` times a plan on its own; this times it where
it runs. The clock around each node adds ~0.2 us to it.

Models: those of bench/peers/keras_models.py (random data, their batch sizes), built with
tenfold.keras. --blas-threads fixes OpenBLAS's threads (else the tuner chooses, as in
bench_models.py); --by-op sums the nodes of each op (ResNet-20's 446 nodes: which kernels
the step is made of); --overlap times the optimizer update left running past its node
(backend/native_pool.start): how long the caller's Python ran before joining it, and how
long the join then waited.
"""
import argparse
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))
sys.path.insert(0, os.path.join(_HERE, "peers"))

import keras_models  # noqa: E402

import tenfold  # noqa: E402
from tenfold.graph import executor  # noqa: E402


def _profiled_plans():
    """Makes every plan of 10 nodes or more generated from now on run with a clock around
    each node; returns the list they are added to and a function that ends this."""
    plans = []
    generate = executor.Plan._generate

    def generate_profiled(self, profile=False):
        if profile:
            return generate(self, True)
        got = generate(self, False)
        if len(self.nodes) >= 10:
            self.run = generate(self, True)
            plans.append(self)
        return got
    executor.Plan._generate = generate_profiled

    def restore():
        executor.Plan._generate = generate
    return plans, restore


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(keras_models.BATCH))
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--data", choices=["random", "mnist"], default="random",
                   help="mlp/convnet inputs: random, or MNIST's training images")
    p.add_argument("--blas-threads", type=int, default=None)
    p.add_argument("--top", type=int, default=40, help="nodes listed, slowest first")
    p.add_argument("--by-op", action="store_true", help="one line per op: its nodes' sum")
    p.add_argument("--overlap", action="store_true",
                   help="time the update left running: its window and the join's wait")
    args = p.parse_args(argv)
    if args.blas_threads:
        from tenfold.graph import threads
        threads.set_blas_threads(args.blas_threads)
    plans, restore = _profiled_plans()
    try:
        batch = keras_models.BATCH[args.model]
        if args.data == "mnist":
            os.environ["TENFOLD_BENCH_DATA"] = "mnist"
        x, y = keras_models.data(args.model, batch * args.steps)
        model = keras_models.build(args.model, tenfold.keras, tenfold)
        kw = dict(batch_size=batch, epochs=1, verbose=0, shuffle=False)
        model.fit(x, y, **kw)                       # compiles, warms up
        for plan in plans:
            plan._times[:] = [0.0] * len(plan._times)
        window = _timed_overlap() if args.overlap else None
        t0 = time.perf_counter()
        model.fit(x, y, **kw)
        step = (time.perf_counter() - t0) / args.steps
    finally:
        restore()
        if window is not None:
            window.pop()()
    print(f"{args.model}: {step * 1e3:.3f} ms per step in fit ({args.steps} steps)")
    if window is not None:
        _print_overlap(window)
    for plan in plans:
        values = plan.graph.values
        rows = []
        for node, total in zip(plan.nodes, plan._times):
            shapes = " ".join(str(tuple(values[v].shape)) for v in node.inputs)
            rows.append((total / args.steps, f"{node.op.name} {shapes}"))
        if args.by_op:
            ops = {}
            for t, what in rows:
                name = what.split()[0]
                got = ops.get(name, (0.0, 0))
                ops[name] = (got[0] + t, got[1] + 1)
            rows = [(t, f"{name} ({n} nodes)") for name, (t, n) in ops.items()]
        print(f"plan {plan.graph.name}: {len(plan.nodes)} nodes, "
              f"{sum(t for t, _ in rows) * 1e3:.3f} ms per step in them")
        for t, what in sorted(rows, reverse=True)[:args.top]:
            print(f"  {t * 1e6:9.1f} us  {what[:110]}")


def _timed_overlap():
    """Clocks native_pool.start's return and the C join's call and return; returns
    [starts, joins, undo]."""
    from tenfold.backend import native_pool
    starts, joins = [], []
    real_start, real_join = native_pool.start, native_pool._started[1]

    def start(*a, **k):
        got = real_start(*a, **k)
        if native_pool._pending[0] is not None:
            starts.append(time.perf_counter())
        return got

    def join():
        t = time.perf_counter()
        real_join()
        joins.append((t, time.perf_counter()))
    native_pool.start = start   # (native_updates calls it through the module)
    native_pool._started[1] = join

    def undo():
        native_pool.start = real_start
        native_pool._started[1] = real_join
    return [starts, joins, undo]


def _print_overlap(window):
    starts, joins = window
    if not starts:
        print("no update was left running (one thread, a busy machine, or not allowed)")
        return
    pairs = [(s, j) for s, j in zip(starts, joins) if j[0] >= s]
    ran = sorted((j[0] - s) * 1e6 for s, j in pairs)
    wait = sorted((j[1] - j[0]) * 1e6 for s, j in pairs)
    print(f"update left running in {len(starts)} steps: the caller's Python before the join "
          f"{ran[len(ran) // 2]:.1f} us, the join's wait {wait[len(wait) // 2]:.1f} us "
          f"(medians; the wait's 90th percentile {wait[len(wait) * 9 // 10]:.1f} us, its "
          f"longest {wait[-1]:.1f} us)")


if __name__ == "__main__":
    main()
