"""Recurrent-model training throughput: tenfold side by side with tf.keras, Keras 3 on JAX and
PyTorch, each framework in its own subprocess, one command:

    python bench/bench_models.py [--models lstm,gru] [--steps 20] [--warmup 5]
                                 [--tf-python /work/tfenv/bin/python] [--json PATH]
                                 [--profile] [--baseline]

Models (issue 17): Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid), sequences of
length 80, batch 64, random tokens and labels, Adam, binary cross-entropy; and its GRU twin.
The same Keras code runs on tenfold (`tenfold.keras`), tf.keras (the TensorFlow interpreter
given by --tf-python or $TENFOLD_TF_PYTHON, default /work/tfenv/bin/python) and Keras 3 on
JAX (this interpreter, KERAS_BACKEND=jax); PyTorch (when importable here) runs the same
network written the PyTorch way. Each figure is steady training samples/s: the batch size
over the median time of `--steps` train_on_batch calls after `--warmup` untimed ones.
`--baseline` also times tenfold's per-step recurrent path (before the fused primitives).
`--profile` also prints where tenfold's LSTM step spends its time (cProfile, top entries).
The machine may be shared: compare ratios within one run, and report the load.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, LENGTH, BATCH, UNITS, EMBED = 20000, 80, 64, 128, 128


def _data(seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(BATCH, LENGTH)).astype("int32")
    y = rng.integers(0, 2, size=(BATCH, 1)).astype("float32")
    return x, y


def _keras_model(keras, kind):
    layer = keras.layers.LSTM(UNITS) if kind == "lstm" else keras.layers.GRU(UNITS)
    model = keras.Sequential([keras.Input(shape=(LENGTH,), dtype="int32"),
                              keras.layers.Embedding(VOCAB, EMBED), layer,
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _time_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    return {"samples_per_s": BATCH / med, "median_step_s": med,
            "spread": [BATCH / times[-1], BATCH / times[0]]}


def worker(framework, kind, warmup, steps, profile):
    x, y = _data()
    if framework == "torch":
        return _torch_worker(kind, x, y, warmup, steps)
    if framework.startswith("tenfold"):
        sys.path.insert(0, ROOT)
        from tenfold import keras
        if framework == "tenfold-per-step":  # the unfused path, for before/after figures
            import importlib
            rnn = importlib.import_module("tenfold.keras.layers.rnn")
            rnn._fused_ok = lambda *a: False
    elif framework == "tf":
        from tensorflow import keras
    else:  # Keras 3 on JAX
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
    model = _keras_model(keras, kind)
    result = _time_steps(lambda: model.train_on_batch(x, y), warmup, steps)
    if profile:
        import cProfile
        import io
        import pstats
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(5):
            model.train_on_batch(x, y)
        pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(15)
        result["profile"] = s.getvalue()
    return result


def _torch_worker(kind, x, y, warmup, steps):
    import torch
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(VOCAB, EMBED)
            rnn = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
            self.rnn = rnn(EMBED, UNITS, batch_first=True)
            self.out = torch.nn.Linear(UNITS, 1)

        def forward(self, t):
            seq, _ = self.rnn(self.emb(t))
            return torch.sigmoid(self.out(seq[:, -1]))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x.astype("int64")), torch.from_numpy(y)
    loss_fn = torch.nn.BCELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
    return _time_steps(step, warmup, steps)


def _run_child(python, framework, kind, args, env_extra=None, timeout=1200):
    cmd = [python, os.path.abspath(__file__), "--worker", framework, "--models", kind,
           "--warmup", str(args.warmup), "--steps", str(args.steps)]
    if args.profile and framework == "tenfold":
        cmd.append("--profile")
    env = dict(os.environ, **(env_extra or {}))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {p.returncode}"}


def _importable(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="lstm,gru")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--tf-python", default=os.environ.get("TENFOLD_TF_PYTHON",
                                                          "/work/tfenv/bin/python"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--baseline", action="store_true",
                    help="also time tenfold's per-step (unfused) recurrent path")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.models, args.warmup, args.steps,
                                args.profile)))
        return
    peers = [("tenfold", sys.executable, None)]
    if args.baseline:
        peers.append(("tenfold-per-step", sys.executable, None))
    if os.path.exists(args.tf_python):
        peers.append(("tf", args.tf_python, {"TF_CPP_MIN_LOG_LEVEL": "2"}))
    else:
        print(f"tf.keras: no interpreter at {args.tf_python} (--tf-python): skipped")
    if _importable("jax") and _importable("keras"):
        peers.append(("jax", sys.executable, {"KERAS_BACKEND": "jax"}))
    if _importable("torch"):
        peers.append(("torch", sys.executable, None))
    print(f"load average before: {os.getloadavg()}; cpus: {os.cpu_count()}")
    results = {}
    for kind in args.models.split(","):
        results[kind] = {}
        for name, python, env in peers:
            r = _run_child(python, name, kind, args, env)
            results[kind][name] = r
            fig = f"{r['samples_per_s']:8.1f} samples/s" if "samples_per_s" in r \
                else r["error"]
            print(f"{kind:5s} {name:16s} {fig}", flush=True)
            if "profile" in r:
                print(r["profile"])
        best = max((r["samples_per_s"] for n, r in results[kind].items()
                    if not n.startswith("tenfold") and "samples_per_s" in r), default=None)
        mine = results[kind]["tenfold"].get("samples_per_s")
        if best and mine:
            print(f"{kind:5s} tenfold / best peer = {mine / best:.2f}")
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
