"""One train step, before/after the #17 fusion work and against the peers, one command:

    python bench/bench_fusion.py [--models mlp,transformer,lstm,gru] [--reps 3] [--steps 15]
                                 [--before PATH] [--peers tf,jax,torch] [--json PATH]

Models (the same Keras code for every Keras; PyTorch written the PyTorch way):
  mlp          the seed's MNIST MLP: Dense(512, relu) -> Dense(10, softmax), RMSprop,
               categorical cross-entropy, batch 128
  transformer  keras.io's Transformer-block text classifier: token + position Embedding
               (vocab 20000, length 64, dim 32), one TransformerBlock (MultiHeadAttention,
               2 heads, key_dim 32; LayerNormalization eps 1e-6; FFN 32; Dropout 0.1),
               GlobalAveragePooling1D, Dropout, Dense(20, relu), Dropout, Dense(2, softmax),
               Adam, sparse categorical cross-entropy, batch 64
  lstm, gru    Embedding(20000, 128) -> LSTM/GRU(128) -> Dense(1, sigmoid), length 80,
               Adam, binary cross-entropy, batch 64 (as bench/bench_models.py)

Each figure is samples/s over the median of `--steps` `train_on_batch` calls after a warm-up,
in a fresh subprocess per (framework, model, repetition). Frameworks alternate within each
repetition (after, before, peers, then the next repetition), so a load change on the shared
machine hits all of them; the table shows each repetition and the median, and the ratios
are taken within a repetition. `--before PATH` is a tenfold checkout to compare against
(e.g. `git worktree add /tmp/tf-before <commit>`); `tenfold` is this checkout.
`--cpu` runs every framework on one thread and times steps in process CPU time: the work per
step, a comparison that holds when other programs load the machine (wall-clock figures then
mostly measure the scheduler). `--profile MODEL` prints this checkout's compiled train step profile (slowest nodes) instead;
`--ab-chains` times the executor's elementwise-chain pass on and off, alternating step by
step in one process, for each model of `--models`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 20000
BATCH = {"mlp": 128, "transformer": 64, "lstm": 64, "gru": 64}


def _data(kind, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    n = BATCH[kind]
    if kind == "mlp":
        x = rng.random((n, 784), dtype=np.float32)
        y = np.eye(10, dtype="float32")[rng.integers(0, 10, n)]
    elif kind == "transformer":
        x = rng.integers(1, VOCAB, size=(n, 64)).astype("int32")
        y = rng.integers(0, 2, size=(n,)).astype("int32")
    else:
        x = rng.integers(1, VOCAB, size=(n, 80)).astype("int32")
        y = rng.integers(0, 2, size=(n, 1)).astype("float32")
    return x, y


def _keras_model(keras, kind):
    """The compiled model, from the one Keras definition bench_models.py also runs."""
    sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
    import keras_models
    return keras_models.build(kind, keras)


_CLOCK = time.perf_counter


def _time_steps(step, warmup, steps, batch):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = _CLOCK()
        step()
        times.append(_CLOCK() - t0)
    med = statistics.median(times)
    return {"samples_per_s": batch / med, "median_step_ms": med * 1e3,
            "min_step_ms": min(times) * 1e3}


def _torch_model(kind):
    import torch

    class Rnn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(VOCAB, 128)
            self.rnn = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(
                128, 128, batch_first=True)
            self.out = torch.nn.Linear(128, 1)

        def forward(self, t):
            seq, _ = self.rnn(self.emb(t))
            return torch.sigmoid(self.out(seq[:, -1]))

    class Transformer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            d = 32
            self.tok = torch.nn.Embedding(VOCAB, d)
            self.pos = torch.nn.Embedding(64, d)
            # Keras's MultiHeadAttention(2 heads, key_dim 32) projects to 2 x 32 = 64
            self.q = torch.nn.Linear(d, 64)
            self.k = torch.nn.Linear(d, 64)
            self.v = torch.nn.Linear(d, 64)
            self.o = torch.nn.Linear(64, d)
            self.ln1 = torch.nn.LayerNorm(d, eps=1e-6)
            self.ln2 = torch.nn.LayerNorm(d, eps=1e-6)
            self.ff = torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.ReLU(),
                                          torch.nn.Linear(32, d))
            self.drop = torch.nn.Dropout(0.1)
            self.head = torch.nn.Sequential(torch.nn.Linear(d, 20), torch.nn.ReLU(),
                                            torch.nn.Dropout(0.1), torch.nn.Linear(20, 2))

        def forward(self, t):
            b, n = t.shape
            x = self.tok(t) + self.pos(torch.arange(n))
            q = self.q(x).view(b, n, 2, 32).transpose(1, 2)
            k = self.k(x).view(b, n, 2, 32).transpose(1, 2)
            v = self.v(x).view(b, n, 2, 32).transpose(1, 2)
            a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            a = self.o(a.transpose(1, 2).reshape(b, n, 64))
            x = self.ln1(x + self.drop(a))
            x = self.ln2(x + self.drop(self.ff(x)))
            return self.head(self.drop(x.mean(dim=1)))

    if kind == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                  torch.nn.Linear(512, 10))
        return net, torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7), \
            torch.nn.CrossEntropyLoss()
    if kind == "transformer":
        net = Transformer()
        return net, torch.optim.Adam(net.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    net = Rnn()
    return net, torch.optim.Adam(net.parameters(), lr=1e-3), torch.nn.BCELoss()


def _torch_worker(kind, warmup, steps):
    import torch
    torch.manual_seed(0)
    x, y = _data(kind)
    net, opt, loss_fn = _torch_model(kind)
    xt = torch.from_numpy(x.astype("float32" if kind == "mlp" else "int64"))
    if kind == "mlp":
        yt = torch.from_numpy(y.argmax(-1))
    elif kind == "transformer":
        yt = torch.from_numpy(y.astype("int64"))
    else:
        yt = torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
    return _time_steps(step, warmup, steps, BATCH[kind])


def worker(framework, kind, warmup, steps, root, cpu=False):
    global _CLOCK
    if cpu:  # the process's CPU time (all its threads): the work of a step, whatever the load
        _CLOCK = time.process_time
    if framework == "torch":
        return _torch_worker(kind, warmup, steps)
    if framework in ("tenfold", "before"):
        sys.path.insert(0, root)
        from tenfold import keras
    elif framework == "tf":
        from tensorflow import keras
    else:
        import keras
    keras.utils.set_random_seed(0)
    x, y = _data(kind)
    model = _keras_model(keras, kind)
    return _time_steps(lambda: model.train_on_batch(x, y), warmup, steps, BATCH[kind])


def profile(kind, steps=30):
    """The compiled train step's slowest nodes (this checkout)."""
    sys.path.insert(0, ROOT)
    from tenfold import keras
    import importlib
    gf = importlib.import_module("tenfold.graph.function")
    seen = {}
    run = gf._Program.run

    def spy(self, arrays):  # remembers the step's program and its arguments
        seen["last"] = (self, list(arrays))
        return run(self, arrays)
    gf._Program.run = spy
    keras.utils.set_random_seed(0)
    x, y = _data(kind)
    model = _keras_model(keras, kind)
    for _ in range(3):
        model.train_on_batch(x, y)
    gf._Program.run = run
    prog, arrays = seen["last"]
    plan = prog.plan()
    rows = plan.profile(arrays, repeat=steps)
    total = sum(t for t, _ in rows)
    print(f"{kind}: {len(plan.nodes)} nodes, {total * 1e3:.2f} ms per step in nodes")
    for t, what in rows[:30]:
        print(f"  {t * 1e3:7.3f} ms  {what}")


def ab_chains(kind, rounds=40):
    """The executor's `chains` pass on and off, alternating step by step in one process
    (both plans compiled; the same model, data and weights): median step times and ratio."""
    sys.path.insert(0, ROOT)
    import tenfold
    from tenfold import keras
    keras.utils.set_random_seed(0)
    x, y = _data(kind)
    model = _keras_model(keras, kind)
    times = {True: [], False: []}
    for r in range(rounds + 3):
        for on in ((True, False) if r % 2 else (False, True)):
            with tenfold.graph.optimizations(chains=on):
                t0 = time.perf_counter()
                model.train_on_batch(x, y)
                if r >= 3:
                    times[on].append(time.perf_counter() - t0)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"{kind:11s} chains on {on * 1e3:.2f} ms, off {off * 1e3:.2f} ms per step: "
          f"off / on = {off / on:.3f} (load {os.getloadavg()[0]:.1f})")


def _run_child(python, framework, kind, args, root, env_extra=None, timeout=900):
    cmd = [python, os.path.abspath(__file__), "--worker", framework, "--models", kind,
           "--warmup", str(args.warmup), "--steps", str(args.steps), "--root", root]
    env = dict(os.environ, **(env_extra or {}))
    if args.cpu:
        cmd.append("--cpu")
        env.update(_ONE_THREAD)
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


# --cpu: every framework on one thread (BLAS, tenfold's kernels, TF's and XLA's pools)
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "TENFOLD_KERNEL_THREADS": "1", "TENFOLD_ADAPTIVE_THREADS": "0",
               "TF_NUM_INTRAOP_THREADS": "1",
               "TF_NUM_INTEROP_THREADS": "1",
               "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def _importable(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mlp,transformer,lstm,gru")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--before", default=None, help="a tenfold checkout to compare against")
    ap.add_argument("--peers", default="tf,jax,torch")
    ap.add_argument("--tf-python", default=os.environ.get("TENFOLD_TF_PYTHON",
                                                          "/work/tfenv/bin/python"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--cpu", action="store_true",
                    help="one thread per framework, steps timed in process CPU time (a "
                         "comparison of work that holds on a loaded machine)")
    ap.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--profile", default=None, metavar="MODEL")
    ap.add_argument("--ab-chains", action="store_true",
                    help="time the executor's chains pass on/off, alternating, per model")
    args = ap.parse_args()
    if args.profile:
        profile(args.profile)
        return
    if args.ab_chains:
        for kind in args.models.split(","):
            ab_chains(kind)
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.models, args.warmup, args.steps,
                                args.root, args.cpu)))
        return
    runs = [("tenfold", sys.executable, None, ROOT)]
    if args.before:
        runs.append(("before", sys.executable, None, os.path.abspath(args.before)))
    peers = [p for p in args.peers.split(",") if p]
    if "tf" in peers:
        if os.path.exists(args.tf_python):
            runs.append(("tf", args.tf_python, {"TF_CPP_MIN_LOG_LEVEL": "2"}, ROOT))
        else:
            print(f"tf.keras: no interpreter at {args.tf_python} (--tf-python): skipped")
    if "jax" in peers and _importable("jax") and _importable("keras"):
        runs.append(("jax", sys.executable, {"KERAS_BACKEND": "jax"}, ROOT))
    if "torch" in peers and _importable("torch"):
        runs.append(("torch", sys.executable, None, ROOT))
    print(f"load average before: {os.getloadavg()}; cpus: {os.cpu_count()}", flush=True)
    results = {}
    for kind in args.models.split(","):
        results[kind] = {name: [] for name, *_ in runs}
        for rep in range(args.reps):
            order = runs if rep % 2 == 0 else runs[::-1]
            for name, python, env, root in order:
                r = _run_child(python, name, kind, args, root, env)
                results[kind][name].append(r)
                fig = f"{r['samples_per_s']:8.1f} samples/s ({r['median_step_ms']:.1f} ms)" \
                    if "samples_per_s" in r else r["error"]
                print(f"{kind:11s} rep {rep} {name:8s} {fig}", flush=True)
        _summary(kind, results[kind])
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def _summary(kind, res):
    def sps(name, i):
        r = res[name][i]
        return r.get("samples_per_s")
    names = list(res)
    reps = len(res["tenfold"])
    med = {n: statistics.median([s for s in (sps(n, i) for i in range(reps)) if s] or [0])
           for n in names}
    line = ", ".join(f"{n} {med[n]:.0f}" for n in names)
    print(f"{kind:11s} median samples/s: {line}")
    peers = [n for n in names if n not in ("tenfold", "before")]
    for other in (["before"] if "before" in names else []) + (["best peer"] if peers else []):
        ratios = []
        for i in range(reps):
            mine = sps("tenfold", i)
            if other == "before":
                theirs = sps("before", i)
            else:
                theirs = max((s for s in (sps(n, i) for n in peers) if s), default=None)
            if mine and theirs:
                ratios.append(mine / theirs)
        if ratios:
            print(f"{kind:11s} tenfold / {other}: " + ", ".join(f"{r:.2f}" for r in ratios) +
                  f" (median {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
