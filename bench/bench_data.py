"""Input-pipeline benchmark: one epoch of the seed's MNIST pipeline,

    tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(128)

(x: 60000 x 784 float32, y: one-hot float32, as in seed snippet 08), iterated to the end,
on tenfold and, when TensorFlow is installed, on tf.data, side by side. Also: the same
with `.prefetch(AUTOTUNE)` and with a `map` after `batch`, and (if tenfold.keras is there)
one epoch of snippet 08's training loop, to show the pipeline's share of an epoch.

    python bench/bench_data.py [--epochs 5] [--no-peer] [--no-training]

TensorFlow runs in its own interpreter: $TENFOLD_BENCH_TF_PYTHON, else
.venvs/tf/bin/python beside this checkout, else the current interpreter if it imports it.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The measuring code is the same text for both libraries: only the import differs.
WORKER = r'''
import json, os, statistics, sys, time
import numpy as np
lib, epochs, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if lib == "tensorflow":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
else:
    import tenfold as tf
with np.load(path) as f:
    x_train, y_train = f["x_train"], f["y_train"]
x = tf.cast(tf.reshape(x_train, (-1, 28 * 28)), tf.float32) / 255.
y = tf.one_hot(y_train, depth=10)

def epoch_times(make):
    ds = make()
    for _ in ds:            # warm-up epoch (first-touch costs, thread start)
        pass
    out, batches = [], 0
    for _ in range(epochs):
        t = time.perf_counter()
        n = 0
        for xb, yb in ds:
            n += 1
        out.append(time.perf_counter() - t)
        batches = n
    return statistics.median(out), batches

base = lambda: tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(128)
res = {}
for name, make in (
        ("shuffle(1000).batch(128)", base),
        ("... .prefetch(AUTOTUNE)", lambda: base().prefetch(tf.data.AUTOTUNE)),
        ("... .map(x * 2) after batch", lambda: base().map(lambda a, b: (a * 2.0, b)))):
    sec, n = epoch_times(make)
    res[name] = {"seconds": sec, "batches": n}
print(json.dumps(res))
'''

TRAIN_WORKER = r'''
import json, sys, time
import numpy as np
import tenfold as tf
with np.load(sys.argv[1]) as f:
    x_train, y_train = f["x_train"], f["y_train"]
ds = tf.data.Dataset.from_tensor_slices(
    (tf.reshape(x_train, (-1, 28 * 28)) / 255., tf.one_hot(y_train, depth=10))
).shuffle(1000).batch(128)
model = tf.keras.Sequential([tf.keras.layers.Dense(512, activation='relu'),
                             tf.keras.layers.Dense(10, activation='softmax')])
model.compile(optimizer=tf.keras.optimizers.RMSprop(),
              loss=tf.keras.losses.CategoricalCrossentropy())
times = []
for epoch in range(2):
    t = time.perf_counter()
    for x_batch, y_batch in ds:
        with tf.GradientTape() as tape:
            loss = model.loss(y_batch, model(x_batch))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    times.append(time.perf_counter() - t)
print(json.dumps({"epoch_seconds": min(times)}))
'''


def mnist_path():
    for folder in (os.environ.get("TENFOLD_DATASETS"), ROOT.parent / "shared" / "datasets"):
        if folder and (pathlib.Path(folder) / "mnist.npz").exists():
            return str(pathlib.Path(folder) / "mnist.npz")
    # no real MNIST here: write the generated digits in MNIST's layout
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from tenfold.keras.datasets import synthetic_digits
    (x, y), (xt, yt) = synthetic_digits.load_data()
    out = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / "tenfold_bench_digits.npz"
    np.savez(out, x_train=x, y_train=y, x_test=xt, y_test=yt)
    print("(real MNIST not found: using tenfold's generated digits, same shapes)")
    return str(out)


def tf_python():
    cands = [os.environ.get("TENFOLD_BENCH_TF_PYTHON"), str(ROOT / ".venvs" / "tf" / "bin" /
                                                           "python"), sys.executable]
    for c in cands:
        if c and os.path.exists(c):
            ok = subprocess.run([c, "-c", "import tensorflow"], capture_output=True)
            if ok.returncode == 0:
                return c
    return None


def run(python, code, *args, extra_path=None):
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = extra_path + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peer_version(python):
    out = subprocess.run([python, "-c", "import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3';"
                          "import tensorflow as tf; print(tf.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs (median reported)")
    ap.add_argument("--no-peer", action="store_true", help="skip TensorFlow")
    ap.add_argument("--no-training", action="store_true", help="skip the training epoch")
    args = ap.parse_args()
    path = mnist_path()
    print(f"MNIST pipeline, one epoch = 60000 examples in batches of 128; median of "
          f"{args.epochs} epochs after one warm-up; {os.cpu_count()} CPU cores\n")
    ours = run(sys.executable, WORKER, "tenfold", str(args.epochs), path, extra_path=str(ROOT))
    peer, peer_name = None, "TensorFlow: not installed"
    if not args.no_peer:
        py = tf_python()
        if py:
            peer = run(py, WORKER, "tensorflow", str(args.epochs), path)
            peer_name = f"tf.data (TensorFlow {peer_version(py)})"
    print(f"{'pipeline':34s} {'tenfold':>22s}   {peer_name}")
    for name, r in ours.items():
        line = (f"{name:34s} {r['seconds'] * 1000:8.1f} ms {r['batches'] / r['seconds']:7.0f} "
                f"b/s")
        if peer:
            p = peer[name]
            line += (f"   {p['seconds'] * 1000:8.1f} ms {p['batches'] / p['seconds']:7.0f} b/s"
                     f"   ({p['seconds'] / r['seconds']:.1f}x)")
        print(line)
    if not args.no_training:
        try:
            t = run(sys.executable, TRAIN_WORKER, path, extra_path=str(ROOT))["epoch_seconds"]
            share = ours["shuffle(1000).batch(128)"]["seconds"] / t
            print(f"\nsnippet 08's training epoch on tenfold: {t:.2f} s; the pipeline is "
                  f"{100 * share:.1f}% of it")
        except (RuntimeError, KeyError, ValueError) as e:
            print(f"\n(training epoch not measured: {str(e).strip().splitlines()[-1]})")


if __name__ == "__main__":
    main()
