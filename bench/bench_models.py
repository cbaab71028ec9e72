"""Issue 17 in one command: training throughput of real models, tenfold side by side with
tf.keras, Keras 3 on JAX and PyTorch, each framework in its own subprocess.

    python bench/bench_models.py [--models all | mlp,convnet,resnet20,...]
                                 [--frameworks tenfold,tf,jax,torch] [--load N]
                                 [--data random|mnist]
                                 [--epochs 3] [--scale 1.0] [--repeat 1]
                                 [--tf-python /work/tfenv/bin/python]
                                 [--tenfold-before PATH [--before-env VAR=VALUE]]
                                 [--json PATH]
    python bench/bench_models.py --table results.json     # a saved run's markdown table

Models (bench/peers/keras_models.py, one Keras definition for every Keras framework; the
MLP and the convnet are bench_train.py's definitions): mlp, convnet, resnet20, mobilenet,
lstm, gru, transformer, dcgan, siamese; random data of the model's input shape (with
--data mnist, the MLP and the convnet train on MNIST's images, every framework alike). tf.keras
runs in the TensorFlow interpreter given by --tf-python (or $TENFOLD_TF_PYTHON), Keras 3 on
JAX in this interpreter with KERAS_BACKEND=jax (the DCGAN's custom train_step uses
GradientTapes, so on JAX it is written the JAX way: stateless_call + jax.value_and_grad),
PyTorch (written the PyTorch way, bench/peers/torch_models.py) when it is importable here.

Each figure: `model.fit` over `--epochs` timed epochs after one warm-up epoch (which
traces/compiles); an epoch is a fixed number of batches per model (times --scale);
samples/s of the median epoch, with the spread (slowest..fastest epoch, over all --repeat
runs). `peak RSS` is the worker process's ru_maxrss. `tenfold / best` divides tenfold's
median by the best peer's (tf.keras, JAX, PyTorch). `--load N` keeps N busy-loop processes
(one core each, pinned) running during the whole run: `--load 1` is the issue's "one core
busy". `--tenfold-before PATH` adds a column for another tenfold checkout (e.g. an
exported older commit) run by the same worker code. The machine may be shared: compare
ratios within one run, and report the load average (printed, and kept in the JSON).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
MODELS = ["mlp", "convnet", "resnet20", "mobilenet", "lstm", "gru", "transformer", "dcgan",
          "siamese"]
# batches per epoch, chosen so that an epoch takes roughly 0.3-3 s on two cores
STEPS = {"mlp": 200, "convnet": 40, "resnet20": 6, "mobilenet": 8, "lstm": 8, "gru": 8,
         "transformer": 24, "dcgan": 4, "siamese": 120}
LABELS = {"tenfold": "tenfold", "tenfold-before": "tenfold (before)", "tf": "tf.keras",
          "jax": "Keras 3 on JAX", "torch": "PyTorch"}
PEER_NAMES = ("tf", "jax", "torch")


# ------------------------------------------------------------------------------------------
# worker side: runs inside the framework's own process

def _peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _epoch_result(batch, steps, times):
    rates = [batch * steps / t for t in times]
    ordered = sorted(rates)
    return {"samples_per_s": ordered[len(ordered) // 2], "epoch_samples_per_s": rates,
            "batch": batch, "steps_per_epoch": steps}


def keras_worker(framework, name, epochs, steps, root):
    if framework.startswith("tenfold"):
        sys.path.insert(0, root)
        import tenfold as tf
        keras = tf.keras
    elif framework == "tf":
        import tensorflow as tf
        keras = tf.keras
    else:
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
        tf = None
    sys.path.insert(0, PEERS)
    import keras_models
    batch = keras_models.BATCH[name]
    x, y = keras_models.data(name, batch * steps)
    keras.utils.set_random_seed(0)
    if name == "dcgan" and framework == "jax":
        return _jax_gan(keras, keras_models, x, batch, steps, epochs)
    model = keras_models.build(name, keras, tf)
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model.fit(x, y, batch_size=batch, epochs=epochs + 1, verbose=0, shuffle=False,
              callbacks=[EpochTimer()])
    out = _epoch_result(batch, steps, times[1:])
    out["version"] = getattr(tf, "__version__", None) or keras.__version__
    if framework.startswith("tenfold"):
        out.update(_tenfold_threads())
    return out


def _tenfold_threads():
    """Which BLAS thread count tenfold ended on, and what its load monitor saw."""
    info = {}
    try:
        from tenfold.graph import threads
        info["blas_threads_at_end"] = threads.blas_threads()
        monitor = getattr(threads, "load_snapshot", None)
        if monitor is not None:
            info["load_seen"] = monitor()
    except Exception as e:  # noqa: BLE001 - an older checkout: report what is missing
        info["threads_info_error"] = repr(e)
    return info


def _jax_gan(keras, keras_models, x, batch, steps, epochs):
    import jax
    state, step = keras_models.dcgan_jax_step(keras)
    key = jax.random.PRNGKey(0)
    times = []
    for _ in range(epochs + 1):
        t0 = time.perf_counter()
        for i in range(steps):
            key, sub = jax.random.split(key)
            state, d_loss, g_loss = step(state, x[i * batch:(i + 1) * batch], sub)
        jax.block_until_ready(g_loss)
        times.append(time.perf_counter() - t0)
    out = _epoch_result(batch, steps, times[1:])
    out["version"] = f"keras {keras.__version__}, jax {jax.__version__}"
    return out


def torch_worker(name, epochs, steps):
    sys.path.insert(0, PEERS)
    import torch
    import torch_models
    run_epoch, batch = torch_models.trainer(name, steps)
    times = []
    for _ in range(epochs + 1):
        t0 = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - t0)
    out = _epoch_result(batch, steps, times[1:])
    out["version"] = torch.__version__
    out["threads"] = torch.get_num_threads()
    return out


def worker(args):
    steps = max(1, round(STEPS[args.models] * args.scale))
    if args.worker == "torch":
        out = torch_worker(args.models, args.epochs, steps)
    else:
        out = keras_worker(args.worker, args.models, args.epochs, steps, args.root or ROOT)
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


# ------------------------------------------------------------------------------------------
# driver side

def _importable(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


def frameworks(args):
    """[(name, python, extra env, tenfold root)] of the frameworks that can run here."""
    wanted = args.frameworks.split(",")
    found, skipped = [], []
    if "tenfold" in wanted:
        found.append(("tenfold", sys.executable, {}, ROOT))
        if args.tenfold_before:
            env = dict(kv.split("=", 1) for kv in args.before_env)
            found.append(("tenfold-before", sys.executable, env,
                          os.path.abspath(args.tenfold_before)))
    if "tf" in wanted:
        if os.path.exists(args.tf_python):
            found.append(("tf", args.tf_python, {"TF_CPP_MIN_LOG_LEVEL": "3"}, None))
        else:
            skipped.append(f"tf.keras: no interpreter at {args.tf_python} (--tf-python)")
    if "jax" in wanted:
        if _importable("jax") and _importable("keras"):
            found.append(("jax", sys.executable, {"KERAS_BACKEND": "jax"}, None))
        else:
            skipped.append("Keras 3 on JAX: jax or keras not importable here")
    if "torch" in wanted:
        if _importable("torch"):
            found.append(("torch", sys.executable, {}, None))
        else:
            skipped.append("PyTorch: torch not importable here")
    return found, skipped


def run_child(name, python, env_extra, root, model, args, timeout=900):
    cmd = [python, os.path.abspath(__file__), "--worker", name, "--models", model,
           "--epochs", str(args.epochs), "--scale", str(args.scale)]
    if root:
        cmd += ["--root", root]
    env = dict(os.environ, **env_extra)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            res = json.loads(line)
            res["wall_s"] = round(time.time() - t0, 1)
            return res
    tail = [ln for ln in (p.stderr or p.stdout).strip().splitlines() if ln.strip()][-2:]
    return {"error": " | ".join(tail)[-300:] or f"exit status {p.returncode}"}


class BackgroundLoad:
    """N busy-loop processes, each pinned to its own core (the last cores of this process's
    affinity set), for the duration of a `with` block."""

    def __init__(self, n):
        self.n, self.procs = n, []

    def __enter__(self):
        try:
            cores = sorted(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cores = list(range(os.cpu_count() or 1))
        for i in range(self.n):
            core = cores[-1 - (i % len(cores))]
            p = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                os.sched_setaffinity(p.pid, {core})
            except (AttributeError, OSError):
                pass
            self.procs.append(p)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
            "python": platform.python_version(), "date_utc": time.strftime(
                "%Y-%m-%d %H:%M", time.gmtime())}


def summarize(runs):
    """One framework's runs of one model -> median samples/s, spread, peak RSS."""
    ok = [r for r in runs if "samples_per_s" in r]
    if not ok:
        return {"error": runs[0].get("error", "failed") if runs else "not run"}
    meds = sorted(r["samples_per_s"] for r in ok)
    epochs = [s for r in ok for s in r["epoch_samples_per_s"]]
    return {"samples_per_s": meds[len(meds) // 2], "min": min(epochs), "max": max(epochs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok), "runs": len(ok)}


def ratios(summary):
    """tenfold / best peer, for throughput and for peak RSS (lower RSS is better)."""
    peers = {k: v for k, v in summary.items() if k in PEER_NAMES and "samples_per_s" in v}
    out = {}
    for mine in ("tenfold", "tenfold-before"):
        s = summary.get(mine)
        if not s or "samples_per_s" not in s or not peers:
            continue
        best = max(peers, key=lambda k: peers[k]["samples_per_s"])
        b = peers[best]
        out[mine] = {"best_peer": best, "ratio": s["samples_per_s"] / b["samples_per_s"],
                     # pessimistic..optimistic: slowest epoch vs the peer's fastest and back
                     "ratio_range": [s["min"] / b["max"], s["max"] / b["min"]],
                     "rss_ratio": s["peak_rss_mb"] / min(v["peak_rss_mb"]
                                                         for v in peers.values())}
    return out


def _fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def markdown(results):
    """The run's table: samples/s (epoch spread), ratios to the best peer, peak RSS."""
    fws = [f for f in LABELS if any(f in results["models"][m]["summary"]
                                    for m in results["models"])]
    head = ["model"] + [LABELS[f] for f in fws] + ["tenfold / best peer (range)",
                                                   "peak RSS MB (" + ", ".join(
                                                       LABELS[f] for f in fws) + ")"]
    if "tenfold-before" in fws:
        head.insert(-1, "before / best peer")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, entry in results["models"].items():
        s, r = entry["summary"], entry["ratios"]
        row = [model]
        for f in fws:
            v = s.get(f, {})
            row.append(f"{_fmt(v['samples_per_s'])} ({_fmt(v['min'])}-{_fmt(v['max'])})"
                       if "samples_per_s" in v else f"error: {v.get('error', '-')[:60]}")
        t = r.get("tenfold")
        row.append(f"**{t['ratio']:.2f}** ({t['ratio_range'][0]:.2f}-"
                   f"{t['ratio_range'][1]:.2f}) vs {LABELS[t['best_peer']]}" if t else "-")
        if "tenfold-before" in fws:
            b = r.get("tenfold-before")
            row.append(f"{b['ratio']:.2f} ({b['ratio_range'][0]:.2f}-"
                       f"{b['ratio_range'][1]:.2f})" if b else "-")
        row.append(" / ".join(f"{s[f]['peak_rss_mb']:.0f}" if "peak_rss_mb" in s.get(f, {})
                              else "-" for f in fws))
        lines.append("| " + " | ".join(row) + " |")
    m = results["machine"]
    lines.append("")
    lines.append(f"{m['cpu']}, {m['usable_cores']} usable cores, background load "
                 f"{results['load']} busy process(es); load average "
                 f"{results['loadavg_min']:.2f}-{results['loadavg_max']:.2f} during the run "
                 f"({m['date_utc']} UTC).")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="all")
    ap.add_argument("--frameworks", default="tenfold,tf,jax,torch")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (after 1 warm-up)")
    ap.add_argument("--scale", type=float, default=1.0, help="scales the batches per epoch")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per framework and model, in alternating order")
    ap.add_argument("--load", type=int, default=0, help="busy-loop processes in the background")
    ap.add_argument("--data", choices=["random", "mnist"], default="random",
                    help="the MLP's and the convnet's inputs: random (the default) or MNIST's "
                         "training images (every framework the same)")
    ap.add_argument("--tf-python", default=os.environ.get("TENFOLD_TF_PYTHON",
                                                          "/work/tfenv/bin/python"))
    ap.add_argument("--tenfold-before", default=None, metavar="PATH",
                    help="another tenfold checkout to time side by side")
    ap.add_argument("--before-env", action="append", default=[], metavar="VAR=VALUE",
                    help="environment of the --tenfold-before column (repeatable): e.g. "
                         "`--tenfold-before . --before-env TENFOLD_NATIVE=0` times this "
                         "checkout's NumPy kernels beside its native ones")
    ap.add_argument("--json", default=None)
    ap.add_argument("--table", default=None, metavar="JSON", help="print a saved run's table")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    if args.table:
        with open(args.table) as f:
            print(markdown(json.load(f)))
        return 0
    models = MODELS if args.models == "all" else args.models.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; expected some of {MODELS}")
    if args.data == "mnist":   # read by keras_models.data in every worker
        os.environ["TENFOLD_BENCH_DATA"] = "mnist"
    fws, skipped = frameworks(args)
    for line in skipped:
        print(f"skipped: {line}")
    results = {"machine": machine(), "load": args.load, "args": vars(args), "models": {},
               "skipped": skipped}
    loads = [os.getloadavg()[0]]
    print(f"{results['machine']['cpu']}, {results['machine']['usable_cores']} usable cores; "
          f"load average {loads[0]:.2f}; background load {args.load}", flush=True)
    with BackgroundLoad(args.load):
        for model in models:
            runs = {name: [] for name, *_ in fws}
            for rep in range(args.repeat):
                order = fws if rep % 2 == 0 else fws[::-1]
                for name, python, env, root in order:
                    r = run_child(name, python, env, root, model, args)
                    runs[name].append(r)
                    loads.append(os.getloadavg()[0])
                    fig = (f"{r['samples_per_s']:9.1f} samples/s, peak RSS "
                           f"{r['peak_rss_mb']:.0f} MB" if "samples_per_s" in r
                           else r["error"])
                    print(f"{model:11s} {LABELS[name]:17s} {fig}", flush=True)
            summary = {name: summarize(rs) for name, rs in runs.items()}
            entry = {"runs": runs, "summary": summary, "ratios": ratios(summary)}
            results["models"][model] = entry
            t = entry["ratios"].get("tenfold")
            if t:
                print(f"{model:11s} tenfold / best peer ({LABELS[t['best_peer']]}) = "
                      f"{t['ratio']:.2f} ({t['ratio_range'][0]:.2f}-"
                      f"{t['ratio_range'][1]:.2f}); peak RSS ratio {t['rss_ratio']:.2f}",
                      flush=True)
    results["loadavg_min"], results["loadavg_max"] = min(loads), max(loads)
    results["loadavg_samples"] = loads
    print()
    print(markdown(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nraw results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
