"""Convolutional-model training steps (issue 17): tenfold before/after and against tf.keras and
Keras 3 on JAX, one command:

    python bench/bench_conv_models.py [--models resnet20,mobilenet,dcgan,siamese]
        [--steps 10] [--warmup 3] [--peers tf,jax] [--tf-python /work/tfenv/bin/python]
        [--ab] [--inproc-ab] [--profile MODEL] [--json PATH]

Models (random data; Adam; the same Keras code for every framework, only the import differs):
  - resnet20: keras.io's CIFAR ResNet v1 (depth 20) on 32x32x3: conv3x3+BN+ReLU, three stages
    of three residual blocks (16/32/64 filters, strided 3x3 conv + 1x1 strided projection at
    each new stage), residual adds, global average pooling, Dense(10); batch 64.
  - mobilenet: a MobileNet-v1-style stack on 64x64x3: conv3x3/2 + BN + ReLU, then six
    depthwise 3x3 (+BN+ReLU) / pointwise 1x1 (+BN+ReLU) blocks, 64-128/2-128-256/2-256-512/2,
    global average pooling, Dense(10); batch 32.
  - dcgan: keras.io's "GAN overriding train_step" MNIST GAN (28x28x1): discriminator
    Conv2D(64, 3, /2) LeakyReLU Conv2D(128, 3, /2) LeakyReLU GlobalMaxPooling Dense(1);
    generator Dense(7*7*128) LeakyReLU Reshape Conv2DTranspose(128, 4, /2) LeakyReLU
    Conv2DTranspose(128, 4, /2) LeakyReLU Conv2D(1, 7, sigmoid). One step = generate a batch,
    train the discriminator on fake + real (2 x 64), train the generator through the frozen
    discriminator (64), as the example's train_step does (written with train_on_batch so the
    same code runs on every backend); batch 64.
  - siamese: keras.io's Siamese network with a contrastive loss (28x28x1 pairs): a shared
    tower BN, Conv2D(4, 5, tanh), AveragePooling2D(2), Conv2D(16, 5, tanh), AveragePooling2D(2),
    Flatten, BN, Dense(10, tanh); euclidean distance, BN, Dense(1, sigmoid); batch 64.

Each figure is samples/s over the median of --steps train_on_batch steps after --warmup. Each
framework runs in its own subprocess. `--ab` also runs tenfold with the conv kernels of
before this work (TENFOLD_CONV_LEGACY=1, the dispatch switch in tenfold/backend/kernels.py and
the BN primitive's switch) in the same run, so before/after compare within one run;
`--inproc-ab` alternates before/after steps in one process (the fairest on a busy machine). The
machine may be shared: compare ratios within one run and run it several times.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = {"resnet20": 64, "mobilenet": 32, "dcgan": 64, "siamese": 64}


# ------------------------------------------------------------------------------------------
# models, written once against a `keras` module

def resnet20(keras):
    L = keras.layers

    def conv_bn(x, filters, strides=1, relu=True):
        x = L.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        return L.Activation("relu")(x) if relu else x

    inp = keras.Input((32, 32, 3))
    x = conv_bn(inp, 16)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(x, filters, strides)
            y = conv_bn(y, filters, relu=False)
            if strides != 1:
                x = L.Conv2D(filters, 1, strides=strides, padding="same")(x)
            x = L.Activation("relu")(L.Add()([x, y]))
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10)(x)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def mobilenet(keras):
    L = keras.layers
    inp = keras.Input((64, 64, 3))
    x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    for filters, strides in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)):
        x = L.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        x = L.Conv2D(filters, 1, use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10)(x)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def dcgan(keras):
    L = keras.layers
    latent = 128
    disc = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(64, 3, strides=2, padding="same"), L.LeakyReLU(negative_slope=0.2),
        L.Conv2D(128, 3, strides=2, padding="same"), L.LeakyReLU(negative_slope=0.2),
        L.GlobalMaxPooling2D(), L.Dense(1)], name="discriminator")
    gen = keras.Sequential([
        keras.Input((latent,)),
        L.Dense(7 * 7 * 128), L.LeakyReLU(negative_slope=0.2), L.Reshape((7, 7, 128)),
        L.Conv2DTranspose(128, 4, strides=2, padding="same"), L.LeakyReLU(negative_slope=0.2),
        L.Conv2DTranspose(128, 4, strides=2, padding="same"), L.LeakyReLU(negative_slope=0.2),
        L.Conv2D(1, 7, padding="same", activation="sigmoid")], name="generator")
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    disc.compile(optimizer=keras.optimizers.Adam(3e-4), loss=loss)
    disc.trainable = False
    z = keras.Input((latent,))
    gan = keras.Model(z, disc(gen(z)))
    gan.compile(optimizer=keras.optimizers.Adam(3e-4), loss=loss)
    return gen, disc, gan


def siamese(keras):
    L, ops = keras.layers, keras.ops
    tower_in = keras.Input((28, 28, 1))
    x = L.BatchNormalization()(tower_in)
    x = L.Conv2D(4, (5, 5), activation="tanh")(x)
    x = L.AveragePooling2D(pool_size=(2, 2))(x)
    x = L.Conv2D(16, (5, 5), activation="tanh")(x)
    x = L.AveragePooling2D(pool_size=(2, 2))(x)
    x = L.Flatten()(x)
    x = L.BatchNormalization()(x)
    x = L.Dense(10, activation="tanh")(x)
    tower = keras.Model(tower_in, x)
    a, b = keras.Input((28, 28, 1)), keras.Input((28, 28, 1))

    def euclidean(v):
        s = ops.sum(ops.square(v[0] - v[1]), axis=1, keepdims=True)
        return ops.sqrt(ops.maximum(s, 1e-7))

    d = L.Lambda(euclidean, output_shape=(1,))([tower(a), tower(b)])
    d = L.BatchNormalization()(d)
    out = L.Dense(1, activation="sigmoid")(d)
    model = keras.Model([a, b], out)

    def contrastive(y_true, y_pred):
        margin = 1.0
        sq = ops.square(y_pred)
        msq = ops.square(ops.maximum(margin - y_pred, 0))
        return ops.mean((1 - y_true) * sq + y_true * msq)

    model.compile(optimizer="rmsprop", loss=contrastive)
    return model


def make_step(keras, kind, seed=0):
    """A zero-argument training step of model `kind` on fixed random data."""
    import numpy as np
    rng = np.random.default_rng(seed)
    n = BATCH[kind]
    if kind in ("resnet20", "mobilenet"):
        side = 32 if kind == "resnet20" else 64
        model = resnet20(keras) if kind == "resnet20" else mobilenet(keras)
        x = rng.random((n, side, side, 3), dtype=np.float32)
        y = rng.integers(0, 10, n).astype("int32")
        return lambda: model.train_on_batch(x, y)
    if kind == "siamese":
        model = siamese(keras)
        a = rng.random((n, 28, 28, 1), dtype=np.float32)
        b = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 2, (n, 1)).astype("float32")
        return lambda: model.train_on_batch([a, b], y)
    gen, disc, gan = dcgan(keras)
    real = rng.random((n, 28, 28, 1), dtype=np.float32)
    labels = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype("float32")
    labels += 0.05 * rng.random(labels.shape).astype("float32")
    misleading = np.zeros((n, 1), "float32")

    def step():
        z = rng.standard_normal((n, 128)).astype("float32")
        fake = np.asarray(gen.predict_on_batch(z))
        disc.train_on_batch(np.concatenate([fake, real]), labels)
        z = rng.standard_normal((n, 128)).astype("float32")
        gan.train_on_batch(z, misleading)
    return step


def time_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times


def _keras_for(framework):
    if framework.startswith("tenfold"):
        sys.path.insert(0, ROOT)
        from tenfold import keras
        return keras
    if framework == "tf":
        from tensorflow import keras
        return keras
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
    return keras


def worker(framework, kind, warmup, steps, profile=False):
    keras = _keras_for(framework)
    step = make_step(keras, kind)
    times = time_steps(step, warmup, steps)
    med = times[len(times) // 2]
    n = BATCH[kind]
    result = {"samples_per_s": n / med, "median_step_s": med,
              "spread": [n / times[-1], n / times[0]]}
    if profile:
        import cProfile
        import io
        import pstats
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(3):
            step()
        pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(25)
        result["profile"] = s.getvalue()
    return result


def inproc_ab(kind, warmup, steps, before_first=True):
    """Before/after in one process, alternating steps: model A built and traced with the new
    kernels, model B with TENFOLD_CONV_LEGACY's switch on (its step runs with it on)."""
    sys.path.insert(0, ROOT)
    from tenfold import keras
    from tenfold.backend import kernels
    # the model built first has measured slower under load: main() runs both build orders
    for legacy in ((True, False) if before_first else (False, True)):
        kernels.LEGACY = legacy
        if legacy:
            old = make_step(keras, kind)
        else:
            new = make_step(keras, kind)
    ta, tb = [], []
    for i in range(warmup + steps):
        for legacy, step, acc in ((False, new, ta), (True, old, tb)):
            kernels.LEGACY = legacy
            t0 = time.perf_counter()
            step()
            if i >= warmup:
                acc.append(time.perf_counter() - t0)
    kernels.LEGACY = False
    ta.sort()
    tb.sort()
    return {"after_ms": ta[len(ta) // 2] * 1e3, "before_ms": tb[len(tb) // 2] * 1e3,
            "after_over_before_speed": tb[len(tb) // 2] / ta[len(ta) // 2]}


def _run_child(python, framework, kind, args, env_extra=None, timeout=1800):
    cmd = [python, os.path.abspath(__file__), "--worker", framework, "--models", kind,
           "--warmup", str(args.warmup), "--steps", str(args.steps)]
    if args.profile == kind and framework == "tenfold":
        cmd.append("--profile-worker")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="resnet20,mobilenet,dcgan,siamese")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--peers", default="tf,jax")
    ap.add_argument("--tf-python", default=os.environ.get("TENFOLD_TF_PYTHON",
                                                          "/work/tfenv/bin/python"))
    ap.add_argument("--ab", action="store_true",
                    help="also run tenfold with the conv kernels of before (legacy switch)")
    ap.add_argument("--inproc-ab", action="store_true",
                    help="tenfold only: before/after alternating steps in one process")
    ap.add_argument("--profile", default=None, help="print tenfold's cProfile for this model")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--profile-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inproc_ab:
        for kind in args.models.split(","):
            for before_first in (True, False):
                r = inproc_ab(kind, args.warmup, args.steps, before_first)
                print(f"{kind:10s} after {r['after_ms']:8.1f} ms  before {r['before_ms']:8.1f} "
                      f"ms  speed-up {r['after_over_before_speed']:.2f}  (built first: "
                      f"{'before' if before_first else 'after'}; load "
                      f"{os.getloadavg()[0]:.1f})", flush=True)
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.models, args.warmup, args.steps,
                                args.profile_worker)))
        return
    runs = [("tenfold", sys.executable, None)]
    if args.ab:
        runs.append(("tenfold-before", sys.executable, {"TENFOLD_CONV_LEGACY": "1"}))
    peers = [p for p in args.peers.split(",") if p]
    if "tf" in peers:
        if os.path.exists(args.tf_python):
            runs.append(("tf", args.tf_python, {"TF_CPP_MIN_LOG_LEVEL": "2"}))
        else:
            print(f"tf.keras: no interpreter at {args.tf_python}: skipped")
    if "jax" in peers:
        runs.append(("jax", sys.executable, {"KERAS_BACKEND": "jax"}))
    print(f"load average before: {os.getloadavg()}; cpus: {os.cpu_count()}")
    results = {}
    for kind in args.models.split(","):
        results[kind] = {}
        for name, python, env in runs:
            r = _run_child(python, name, kind, args, env)
            results[kind][name] = r
            fig = (f"{r['samples_per_s']:8.1f} samples/s  step {r['median_step_s'] * 1e3:7.1f} ms"
                   f"  spread {r['spread'][0]:.0f}-{r['spread'][1]:.0f}"
                   if "samples_per_s" in r else r["error"])
            print(f"{kind:10s} {name:15s} {fig}", flush=True)
            if "profile" in r:
                print(r["profile"])
        peer = {n: r["samples_per_s"] for n, r in results[kind].items()
                if not n.startswith("tenfold") and "samples_per_s" in r}
        mine = results[kind].get("tenfold", {}).get("samples_per_s")
        if mine:
            line = "  ".join(f"/{n} {mine / v:.2f}" for n, v in peer.items())
            before = results[kind].get("tenfold-before", {}).get("samples_per_s")
            if before:
                line += f"  after/before {mine / before:.2f}"
            print(f"{kind:10s} tenfold ratios: {line}")
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
