"""tf.distribute on this machine: 2 MPI processes x 1 thread against 1 process x 2 threads.

    python bench/bench_distribute.py [--quick] [--json PATH]
    python bench/bench_distribute.py --report PATH     # the tables again from a saved run

Measures, for the seed's MNIST MLP (784-512-10, RMSprop) and keras.io's MNIST convnet (Adam),
both at global batch 128 on real MNIST:
  - samples/s of `fit` in one process with 2 BLAS/kernel threads (no strategy), and of
    `fit` under MultiWorkerMirroredStrategy in 2 processes (`mpirun -n 2`, 1 thread each,
    64 samples per worker per step);
  - the all-reduce share of a step (gradient buckets + the metric sums) in the 2-process run;
  - all-reduce latency and bandwidth between the 2 processes (8 B ... 64 MiB), through
    tenfold's communicator and through mpi4py directly;
and prints the ring all-reduce model of a step at 8 and 64 workers built from them (the
arithmetic of docs/distribute.md). Each figure is a median over epochs / repetitions; the
machine is shared, so compare within one run.

    python bench/bench_distribute.py --local-replicas [--rounds 9] [--json PATH]

measures only several replicas in ONE process: the seed MLP's `fit` under
MirroredStrategy(["/cpu:0", "/cpu:1"]) (2 replicas, one thread each, taking turns) against
the same model with no strategy, same global batch, in the same process; epochs of the two
alternate (A B, B A, ...) so that load on a shared machine hits both alike, and the result
is the per-round time ratio 2 replicas / 1 replica: median, quartiles and range.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MNIST = ROOT.parent / "shared" / "datasets" / "mnist.npz"
GLOBAL_BATCH = 128


# ---------------------------------------------------------------------- children
def _mnist(samples, conv):
    path = os.environ.get("TENFOLD_DATASETS")
    path = pathlib.Path(path) / "mnist.npz" if path else MNIST
    with np.load(path) as d:
        x, y = d["x_train"][:samples], d["y_train"][:samples]
    x = x.astype("float32") / 255
    x = x[..., None] if conv else x.reshape(len(x), 784)
    return x, np.eye(10, dtype="float32")[y]


def _model(keras, which):
    keras.utils.set_random_seed(0)
    L = keras.layers
    if which == "mlp":
        m = keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"),
                              L.Dense(10, activation="softmax")])
        m.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    else:
        m = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                              L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                              L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
                              L.Dense(10, activation="softmax")])
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def child_fit(args):
    import tenfold as tf
    from tenfold import keras
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if args.child == "multi" else None
    out = {}
    for which, samples in (("mlp", args.mlp_samples), ("convnet", args.conv_samples)):
        x, y = _mnist(samples, which == "convnet")
        if strategy is not None:
            with strategy.scope():
                model = _model(keras, which)
        else:
            model = _model(keras, which)
        epochs, coll = [], []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()
                self.c = _collective_s(strategy)

            def on_epoch_end(self, epoch, logs=None):
                epochs.append(time.perf_counter() - self.t)
                coll.append(_collective_s(strategy) - self.c)
        model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=args.epochs, verbose=0,
                  callbacks=[Timer()])
        t = float(np.median(epochs[1:]))
        steps = -(-len(x) // GLOBAL_BATCH)
        share = float(np.median([c / e for c, e in zip(coll[1:], epochs[1:])]))
        params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        out[which] = {"samples_per_s": len(x) / t, "epoch_s": t, "epoch_times": epochs,
                      "step_ms": 1e3 * t / steps, "allreduce_share": share,
                      "allreduce_ms_per_step": 1e3 * float(np.median(coll[1:])) / steps,
                      "gradient_bytes": 4 * params, "params": params}
    if strategy is None or strategy.cluster_resolver.task_id == 0:
        print("RESULT " + json.dumps(out), flush=True)


def child_local(args):
    """1 replica vs 2 local replicas of the seed MLP, epochs interleaved (see the docstring)."""
    import tenfold as tf
    from tenfold import keras
    x, y = _mnist(args.mlp_samples, False)
    one = _model(keras, "mlp")
    two_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with two_strategy.scope():
        two = _model(keras, "mlp")

    def epoch(m):
        t0 = time.perf_counter()
        m.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, verbose=0, shuffle=False)
        return time.perf_counter() - t0
    epoch(one), epoch(two)  # warm-up: build, trace
    t_one, t_two = [], []
    for r in range(args.rounds):
        order = (one, two) if r % 2 == 0 else (two, one)
        for m in order:
            (t_one if m is one else t_two).append(epoch(m))
    ratios = [b / a for a, b in zip(t_one, t_two)]
    q = np.percentile(ratios, [0, 25, 50, 75, 100])
    same = max(float(np.abs(a - b).max()) for a, b in zip(one.get_weights(), two.get_weights()))
    out = {"samples": len(x), "rounds": args.rounds, "epoch_s_1_replica": t_one,
           "epoch_s_2_replicas": t_two, "ratio_2_over_1": ratios,
           "ratio_quantiles_0_25_50_75_100": q.tolist(),
           "samples_per_s_1_replica": len(x) / float(np.median(t_one)),
           "samples_per_s_2_replicas": len(x) / float(np.median(t_two)),
           "max_weight_difference": same}
    print("RESULT " + json.dumps(out), flush=True)


def summarize_local(res):
    q = res["ratio_quantiles_0_25_50_75_100"]
    print(f"\n## 2 local replicas vs 1 replica, seed MLP, {res['samples']} MNIST images, global "
          f"batch {GLOBAL_BATCH}, {res['rounds']} interleaved rounds")
    print(f"1 replica:  {res['samples_per_s_1_replica']:.0f} samples/s (median epoch)")
    print(f"2 replicas: {res['samples_per_s_2_replicas']:.0f} samples/s (median epoch)")
    print(f"time ratio 2 replicas / 1 replica per round: median {q[2]:.3f}, quartiles "
          f"{q[1]:.3f}-{q[3]:.3f}, range {q[0]:.3f}-{q[4]:.3f}")
    print(f"weights after training differ by at most {res['max_weight_difference']:.2e} "
          "(RMSprop turns the rounding differences of two half-batch gradient sums into "
          "steps of its learning rate; with SGD the two stay within ~1e-5)")


def _collective_s(strategy):
    if strategy is None:
        return 0.0
    return strategy.stats["gradient_allreduce_s"] + strategy.stats["metric_allreduce_s"]


def child_allreduce(args):
    import tenfold as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    comm = strategy.extended.communicator
    from mpi4py import MPI
    raw = MPI.COMM_WORLD
    rows = []
    for nbytes in [8 * 4 ** k for k in range(12)] + [64 << 20]:
        buf = np.ones(max(1, nbytes // 4), dtype=np.float32)
        recv = np.empty_like(buf)
        reps = max(5, min(200, int(2e8 / max(nbytes, 1))))
        if args.quick:
            reps = max(3, reps // 5)
        t_ours, t_raw = [], []
        for _ in range(3):
            comm.allreduce_start(buf).wait()
        for _ in range(reps):
            raw.Barrier()
            t0 = time.perf_counter()
            comm.allreduce_start(buf).wait()
            t_ours.append(time.perf_counter() - t0)
            raw.Barrier()
            t0 = time.perf_counter()
            raw.Allreduce(buf, recv)
            t_raw.append(time.perf_counter() - t0)
        rows.append({"bytes": buf.nbytes, "tenfold_us": 1e6 * float(np.median(t_ours)),
                     "mpi4py_us": 1e6 * float(np.median(t_raw))})
    if comm.rank == 0:
        print("RESULT " + json.dumps(rows), flush=True)


# ---------------------------------------------------------------------- parent
def _run(cmd, env, timeout=1800):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                       cwd=str(ROOT))
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n"
                       f"{p.stderr[-3000:]}")


def _env(threads):
    from tenfold.distribute import launch
    env = launch.worker_env(threads=0)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TENFOLD_KERNEL_THREADS"):
        env[k] = str(threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TENFOLD_DATASETS", str(MNIST.parent))
    return env


def ring_model(alpha_s, beta_bps, nbytes, n):
    """Ring all-reduce time: 2(N-1) latency steps and 2(N-1)/N of the bytes per link."""
    return 2 * (n - 1) * alpha_s + 2 * (n - 1) / n * nbytes / beta_bps


def fit_alpha_beta(rows):
    """Per-step latency and link bandwidth from the 2-process measurements. At N = 2 a ring
    all-reduce is 2 latency steps and moves n bytes over the link, so alpha is half the
    smallest message's time and beta the median of n / (t - t_smallest) over 128 KiB ... 4 MiB
    (the range of these models' gradients; larger messages switch protocol and, on the shared
    machine, fall off a cliff - see the table)."""
    small = rows[0]["tenfold_us"] * 1e-6
    alpha = small / 2
    rates = [r["bytes"] / max(r["tenfold_us"] * 1e-6 - small, 1e-9) for r in rows
             if 128 << 10 <= r["bytes"] <= 4 << 20]
    beta = float(np.median(rates)) if rates else \
        rows[-1]["bytes"] / max(rows[-1]["tenfold_us"] * 1e-6 - small, 1e-9)
    return alpha, beta


def summarize(res):
    alpha, beta = fit_alpha_beta(res["allreduce"])
    res["alpha_us"], res["beta_GBps"] = alpha * 1e6, beta / 1e9
    model = {}
    for which in ("mlp", "convnet"):
        two = res["two_processes_1_thread"][which]
        compute_ms = two["step_ms"] - two["allreduce_ms_per_step"]
        nbytes = two["gradient_bytes"]
        for n in (2, 8, 64):
            ar_ms = 1e3 * ring_model(alpha, beta, nbytes, n)
            step = compute_ms + ar_ms
            model[f"{which}@{n}"] = {"compute_ms": compute_ms, "allreduce_ms": ar_ms,
                                     "gradient_bytes": nbytes,
                                     "samples_per_s": n * (GLOBAL_BATCH / 2) / step * 1e3,
                                     "efficiency": compute_ms / step}
    res["model"] = model

    print(f"\n## tf.distribute on {res['machine']} (global batch {GLOBAL_BATCH})\n")
    print("| model | 1 process x 2 threads | 2 processes x 1 thread | all-reduce share "
          "| all-reduce ms/step |")
    print("|---|---|---|---|---|")
    for which in ("mlp", "convnet"):
        one = res["one_process_2_threads"][which]
        two = res["two_processes_1_thread"][which]
        print(f"| {which} | {one['samples_per_s']:.0f} samples/s | "
              f"{two['samples_per_s']:.0f} samples/s | {100 * two['allreduce_share']:.1f}% | "
              f"{two['allreduce_ms_per_step']:.2f} |")
    print("\n| bytes | tenfold all-reduce (us) | mpi4py Allreduce (us) | GB/s (tenfold) |")
    print("|---|---|---|---|")
    for r in res["allreduce"]:
        print(f"| {r['bytes']} | {r['tenfold_us']:.1f} | {r['mpi4py_us']:.1f} | "
              f"{r['bytes'] / r['tenfold_us'] / 1e3:.3f} |")
    print(f"\nring model: alpha = {alpha * 1e6:.1f} us per step, beta = {beta / 1e9:.2f} GB/s")
    for k, v in model.items():
        print(f"  {k}: compute {v['compute_ms']:.2f} ms + all-reduce {v['allreduce_ms']:.2f} ms"
              f" -> {v['samples_per_s']:.0f} samples/s, efficiency {100 * v['efficiency']:.0f}%")
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json")
    p.add_argument("--child", choices=["single", "multi", "allreduce", "local"])
    p.add_argument("--local-replicas", action="store_true",
                   help="only 2 local replicas vs 1 replica in one process")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report", metavar="JSON", help="print the tables of a saved --json run")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--mlp-samples", type=int, default=12800)
    p.add_argument("--conv-samples", type=int, default=3840)
    args = p.parse_args()
    if args.child in ("single", "multi"):
        return child_fit(args)
    if args.child == "allreduce":
        return child_allreduce(args)
    if args.child == "local":
        return child_local(args)
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        if "allreduce" in saved:
            summarize(saved)
        if "local_replicas" in saved:
            summarize_local(saved["local_replicas"])
        return None

    from tenfold.distribute import launch
    me = [str(pathlib.Path(__file__).resolve())]
    extra = ["--epochs", str(3 if args.quick else args.epochs),
             "--mlp-samples", str(2560 if args.quick else args.mlp_samples),
             "--conv-samples", str(1280 if args.quick else args.conv_samples)]
    res = {"machine": f"{os.cpu_count()} cores", "global_batch": GLOBAL_BATCH}
    local = _run([sys.executable] + me + ["--child", "local", "--rounds",
                                          str(3 if args.quick else args.rounds)] + extra,
                 _env(args.threads))
    res["local_replicas"] = local
    if args.local_replicas:
        summarize_local(local)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return None
    res["one_process_2_threads"] = _run([sys.executable] + me + ["--child", "single"] + extra,
                                        _env(2))
    res["two_processes_1_thread"] = _run(launch.mpirun_command(2, me + ["--child", "multi"] +
                                                               extra), _env(1))
    res["allreduce"] = _run(launch.mpirun_command(2, me + ["--child", "allreduce"] +
                                                  (["--quick"] if args.quick else [])), _env(1))
    summarize(res)
    summarize_local(local)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
