"""Convolution / pooling benchmark: keras.io's simple MNIST convnet at batch 128.

    python bench/bench_conv.py [--batch 128] [--repeats 15] [--no-peers]

Times (median of repeats, in ms and samples/s), with plain tenfold ops and GradientTape:
  - each conv/pool layer forward, and forward+backward (gradients of all its inputs that a
    training step needs: the first conv's input is data, so only its filter gradient);
  - the whole model (conv 32 3x3 relu, maxpool 2, conv 64 3x3 relu, maxpool 2, flatten,
    dropout 0.5, dense 10, softmax cross-entropy), forward and forward+backward (no optimizer).
Then the same model in PyTorch and TensorFlow when their venvs exist (.venvs/torch, .venvs/tf:
run in a subprocess), else "not installed". The machine is shared: compare ratios within a run,
and read the "best" figures next to the medians when the load average is above 2. On a busy
machine OpenBLAS's own threads stall the small matmuls outside these kernels (the Dense layer);
`OPENBLAS_NUM_THREADS=1 TENFOLD_KERNEL_THREADS=2 python bench/bench_conv.py` keeps the conv
kernels on two threads and every other BLAS call on one.
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

import tenfold as tf  # noqa: E402
from tenfold.ops import conv_ops, nn_ops  # noqa: E402

MODEL_FLOP_FWD = None  # filled in main: multiply-adds * 2 per sample


MINS = {}  # label -> best time, printed when the machine is busy


def median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    MINS[fn] = float(np.min(ts)) * 1e3
    return float(np.median(ts)) * 1e3


def make_params(rng):
    def glorot(*shape):
        fan_in = int(np.prod(shape[:-1]))
        return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + shape[-1]))).astype(
            np.float32)
    return [tf.Variable(glorot(3, 3, 1, 32)), tf.Variable(np.zeros(32, np.float32)),
            tf.Variable(glorot(3, 3, 32, 64)), tf.Variable(np.zeros(64, np.float32)),
            tf.Variable(glorot(1600, 10)), tf.Variable(np.zeros(10, np.float32))]


def model_loss(x, y, params, mask, fused=True):
    w1, b1, w2, b2, wd, bd = params
    if fused:  # what a Conv2D(activation="relu") layer can call
        h = conv_ops.fused_conv(x, w1, b1, 1, "VALID", activation="relu")
        h = conv_ops.max_pool2d(h, 2, 2, "VALID")
        h = conv_ops.fused_conv(h, w2, b2, 1, "VALID", activation="relu")
    else:  # plain tf.nn ops
        h = nn_ops.relu(nn_ops.bias_add(conv_ops.conv2d(x, w1, 1, "VALID"), b1))
        h = conv_ops.max_pool2d(h, 2, 2, "VALID")
        h = nn_ops.relu(nn_ops.bias_add(conv_ops.conv2d(h, w2, 1, "VALID"), b2))
    h = conv_ops.max_pool2d(h, 2, 2, "VALID")
    h = tf.reshape(h, (-1, 1600)) * mask  # dropout 0.5 with a fixed mask
    logits = tf.matmul(h, wd) + bd
    return tf.reduce_mean(nn_ops.softmax_cross_entropy_with_logits(y, logits))


def layer_benchmarks(batch, repeats, rng):
    x0 = tf.constant(rng.random((batch, 28, 28, 1), np.float32))
    w1 = tf.Variable(rng.standard_normal((3, 3, 1, 32)).astype(np.float32) * 0.3)
    a1 = tf.constant(np.maximum(rng.standard_normal((batch, 26, 26, 32)), 0).astype(np.float32))
    p1 = tf.constant(rng.standard_normal((batch, 13, 13, 32)).astype(np.float32))
    w2 = tf.Variable(rng.standard_normal((3, 3, 32, 64)).astype(np.float32) * 0.1)
    a2 = tf.constant(np.maximum(rng.standard_normal((batch, 11, 11, 64)), 0).astype(np.float32))
    b1 = tf.Variable(rng.standard_normal(32).astype(np.float32) * 0.1)
    b2 = tf.Variable(rng.standard_normal(64).astype(np.float32) * 0.1)

    def fwd_bwd(f, sources):
        def run():
            with tf.GradientTape() as tape:
                for s in sources:
                    if not isinstance(s, tf.Variable):
                        tape.watch(s)
                y = f()
            tape.gradient(y, sources, output_gradients=tf.ones_like(y))
        return run

    rows = [
        ("conv1 3x3 1->32 (28x28)", lambda: conv_ops.conv2d(x0, w1, 1, "VALID"), [w1]),
        ("maxpool1 2x2 (26x26x32)", lambda: conv_ops.max_pool2d(a1, 2, 2, "VALID"), [a1]),
        ("conv2 3x3 32->64 (13x13)", lambda: conv_ops.conv2d(p1, w2, 1, "VALID"), [p1, w2]),
        ("maxpool2 2x2 (11x11x64)", lambda: conv_ops.max_pool2d(a2, 2, 2, "VALID"), [a2]),
    ]
    fused = [
        ("conv1 + bias + relu, fused", lambda: conv_ops.fused_conv(
            x0, w1, b1, 1, "VALID", activation="relu"), [w1, b1]),
        ("conv2 + bias + relu, fused", lambda: conv_ops.fused_conv(
            p1, w2, b2, 1, "VALID", activation="relu"), [p1, w2, b2]),
    ]
    print(f"\nper layer, batch {batch} (ms, median of {repeats})")
    print(f"  {'layer':28s} {'forward':>9s} {'fwd+bwd':>9s}")
    totals = [0.0, 0.0]
    for name, f, src in rows:
        tf_ = median_ms(f, repeats)
        tb = median_ms(fwd_bwd(f, src), repeats)
        totals[0] += tf_
        totals[1] += tb
        print(f"  {name:28s} {tf_:9.2f} {tb:9.2f}")
    print(f"  {'conv/pool layers total':28s} {totals[0]:9.2f} {totals[1]:9.2f}   "
          f"-> {batch / totals[0] * 1e3:,.0f} / {batch / totals[1] * 1e3:,.0f} samples/s")
    for name, f, src in fused:
        print(f"  {name:28s} {median_ms(f, repeats):9.2f} "
              f"{median_ms(fwd_bwd(f, src), repeats):9.2f}")


def model_benchmark(batch, repeats, rng):
    params = make_params(rng)
    x = tf.constant(rng.random((batch, 28, 28, 1), np.float32))
    y = tf.constant(np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)])
    mask = tf.constant((rng.random((batch, 1600)) < 0.5).astype(np.float32) * 2)

    print(f"\nwhole convnet, tenfold (GradientTape, no optimizer), batch {batch}")
    results = {}
    for fused in (False, True):
        def fwd():
            model_loss(x, y, params, mask, fused)

        def step():
            with tf.GradientTape() as tape:
                loss = model_loss(x, y, params, mask, fused)
            tape.gradient(loss, params)

        t_f = median_ms(fwd, repeats)
        t_b = median_ms(step, repeats)
        label = "fused_conv (conv+bias+relu)" if fused else "conv2d + bias_add + relu"
        print(f"  {label}")
        m_f, m_b = MINS[fwd], MINS[step]
        print(f"    forward          {t_f:7.2f} ms  {batch / t_f * 1e3:9,.0f} samples/s   "
              f"(best {m_f:.2f} ms, {batch / m_f * 1e3:,.0f}/s)")
        print(f"    forward+backward {t_b:7.2f} ms  {batch / t_b * 1e3:9,.0f} samples/s   "
              f"(best {m_b:.2f} ms, {batch / m_b * 1e3:,.0f}/s; "
              f"{MODEL_FLOP_FWD * 3 * batch / t_b:.0f} GFLOP/s effective)")
        results[fused] = (t_f, t_b)
    return results


PEER_TORCH = r"""
import time, json, sys, numpy as np, torch
torch.manual_seed(0)
b, reps = int(sys.argv[1]), int(sys.argv[2])
m = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                        torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10))
x = torch.rand(b, 1, 28, 28); y = torch.randint(0, 10, (b,))
lossf = torch.nn.CrossEntropyLoss()
def med(f):
    for _ in range(3): f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return [float(np.median(ts)) * 1e3, float(np.min(ts)) * 1e3]
def fwd():
    with torch.no_grad(): lossf(m(x), y)
def step():
    m.zero_grad(); lossf(m(x), y).backward()
print(json.dumps({"fwd": med(fwd), "fwd_bwd": med(step), "threads": torch.get_num_threads(),
                  "version": torch.__version__}))
"""

PEER_TF = r"""
import os, time, json, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, tensorflow as tf
b, reps = int(sys.argv[1]), int(sys.argv[2])
m = tf.keras.Sequential([tf.keras.Input((28, 28, 1)),
    tf.keras.layers.Conv2D(32, 3, activation="relu"), tf.keras.layers.MaxPooling2D(2),
    tf.keras.layers.Conv2D(64, 3, activation="relu"), tf.keras.layers.MaxPooling2D(2),
    tf.keras.layers.Flatten(), tf.keras.layers.Dropout(0.5),
    tf.keras.layers.Dense(10, activation="softmax")])
x = tf.random.uniform((b, 28, 28, 1)); y = tf.one_hot(tf.random.uniform((b,), 0, 10, tf.int32), 10)
lossf = tf.keras.losses.CategoricalCrossentropy()
@tf.function
def fwd():
    return lossf(y, m(x, training=False))
@tf.function
def step():
    with tf.GradientTape() as t:
        l = lossf(y, m(x, training=True))
    return t.gradient(l, m.trainable_variables)
def med(f):
    for _ in range(3): f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return [float(np.median(ts)) * 1e3, float(np.min(ts)) * 1e3]
print(json.dumps({"fwd": med(fwd), "fwd_bwd": med(step), "version": tf.__version__}))
"""


def peers(batch, repeats):
    print(f"\npeers (same model, batch {batch}; separate processes)")
    for name, script in (("torch", PEER_TORCH), ("tf", PEER_TF)):
        py = ROOT / ".venvs" / name / "bin" / "python"
        label = {"torch": "PyTorch", "tf": "TensorFlow (tf.function)"}[name]
        if not py.exists():
            print(f"  {label:26s} not installed")
            continue
        try:
            r = subprocess.run([str(py), "-c", script, str(batch), str(repeats)],
                               capture_output=True, text=True, timeout=600)
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"  {label:26s} failed: {e}")
            continue
        (f_med, f_min), (b_med, b_min) = res["fwd"], res["fwd_bwd"]
        print(f"  {label + ' ' + res['version']}")
        print(f"    forward          {f_med:7.2f} ms  {batch / f_med * 1e3:9,.0f} samples/s   "
              f"(best {f_min:.2f} ms, {batch / f_min * 1e3:,.0f}/s)")
        print(f"    forward+backward {b_med:7.2f} ms  {batch / b_med * 1e3:9,.0f} samples/s   "
              f"(best {b_min:.2f} ms, {batch / b_min * 1e3:,.0f}/s)")


def main():
    global MODEL_FLOP_FWD
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-layers", action="store_true")
    args = ap.parse_args()
    MODEL_FLOP_FWD = 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 1600 * 10) / 1e3
    MODEL_FLOP_FWD /= 1e3  # MFLOP per sample
    from tenfold.backend import kernels
    print(f"numpy {np.__version__}, BLAS: {_blas()}, {os.cpu_count()} cpus, kernel threads: "
          f"{kernels._threads} (BLAS thread control: {kernels._blas.available()}), "
          f"load average {os.getloadavg()[0]:.1f}"
          f"{' (busy machine: kernels run single-threaded)' if kernels._busy() else ''}")
    rng = np.random.default_rng(0)
    if not args.no_layers:
        layer_benchmarks(args.batch, args.repeats, rng)
    model_benchmark(args.batch, args.repeats, rng)
    if not args.no_peers:
        peers(args.batch, args.repeats)


def _blas():
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name')} {cfg.get('version')}"
    except Exception:  # noqa: BLE001
        return "unknown"


if __name__ == "__main__":
    main()
