"""GPU training benchmark: tenfold on CuPy against PyTorch CUDA (eager) and Keras 3 on JAX (GPU),
each in its own process on the same card, batch 128, MNIST-shaped data.

    python bench/bench_gpu.py [--steps 200] [--models mlp,convnet] [--json PATH]
    python bench/bench_gpu.py --child FRAMEWORK MODEL STEPS     (one measurement, one JSON line)

Models (those of bench/bench_train.py): `mlp`, the seed's MNIST MLP (784-512-10 relu/softmax,
RMSprop); `convnet`, keras.io's simple MNIST convnet (Conv32-pool-Conv64-pool-dropout-dense,
Adam). Data: synthetic MNIST-shaped arrays (the device machine has no datasets; speed does
not depend on the values). Each child trains `steps` batches after two warm-up epochs' worth
of compile/trace (tenfold, Keras: `fit`; PyTorch: a hand loop, the PyTorch way) and reports
samples/s and the GPU memory peak its framework reports:
  tenfold  tf.config.experimental.get_memory_info('GPU:0')['peak'] (CuPy pool reserve)
  torch    torch.cuda.max_memory_allocated()
  jax      device.memory_stats()['peak_bytes_in_use'] (XLA_PYTHON_CLIENT_PREALLOCATE=false)
If Keras 3 is missing from the image, the JAX figure is a jitted pure-JAX step of the same
model and optimizer, labelled so. A framework that cannot start is reported, not hidden.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BATCH = 128


def _data(model, n):
    import numpy as np
    rng = np.random.default_rng(0)
    shape = (n, 784) if model == "mlp" else (n, 28, 28, 1)
    x = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, 10, n)
    return x, y


# ------------------------------------------------------------------------ Keras (tenfold/JAX)
def _keras_model(keras, model):
    if model == "mlp":
        m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
        m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        return m
    L = keras.layers
    m = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                          L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                          L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
                          L.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return m


def _time_fit(m, x, y, steps, sync):
    m.fit(x[:BATCH * 4], y[:BATCH * 4], batch_size=BATCH, epochs=2, verbose=0)  # trace/compile
    sync()
    t0 = time.perf_counter()
    m.fit(x[:BATCH * steps], y[:BATCH * steps], batch_size=BATCH, epochs=1, verbose=0)
    sync()
    return BATCH * steps / (time.perf_counter() - t0)


def child_tenfold(model, steps):
    import tenfold as tf
    from tenfold import keras
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        from tenfold.backend import gpu
        return {"error": f"no usable GPU: {gpu.why_no_gpu()}"}
    import cupy
    x, y = _data(model, BATCH * steps)
    tf.config.experimental.reset_memory_stats("GPU:0")
    m = _keras_model(keras, model)
    sps = _time_fit(m, x, y, steps, lambda: cupy.cuda.Device().synchronize())
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
    return {"samples_per_s": sps, "gpu_peak_bytes": peak,
            "device": tf.config.experimental.get_device_details(gpus[0]).get("device_name")}


def child_jax(model, steps):
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    dev = jax.devices()[0]
    if dev.platform != "gpu":
        return {"error": f"JAX sees no GPU (platform {dev.platform})"}
    x, y = _data(model, BATCH * steps)
    try:
        import keras
        label = f"Keras {keras.__version__} on JAX {jax.__version__}"
        m = _keras_model(keras, model)
        sps = _time_fit(m, x, y, steps, lambda: jax.block_until_ready(
            [v.value for v in m.trainable_variables]))
    except ImportError:
        label = f"pure JAX {jax.__version__} (jit step; Keras 3 not installed in the image)"
        sps = _pure_jax(model, x, y, steps)
    stats = dev.memory_stats() or {}
    return {"samples_per_s": sps, "gpu_peak_bytes": stats.get("peak_bytes_in_use"),
            "label": label}


def _pure_jax(model, x, y, steps):
    """The same model and optimizer as one jitted training step (no Keras in the image)."""
    import jax
    import jax.numpy as jnp
    key = jax.random.PRNGKey(0)

    def glorot(k, shape):
        fan_in = int(jnp.prod(jnp.array(shape[:-1])))
        lim = (6.0 / (fan_in + shape[-1])) ** 0.5
        return jax.random.uniform(k, shape, jnp.float32, -lim, lim)

    ks = jax.random.split(key, 4)
    if model == "mlp":
        params = {"w1": glorot(ks[0], (784, 512)), "b1": jnp.zeros(512),
                  "w2": glorot(ks[1], (512, 10)), "b2": jnp.zeros(10)}

        def forward(p, xb, k):
            return jax.nn.relu(xb @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    else:
        params = {"c1": glorot(ks[0], (3, 3, 1, 32)), "cb1": jnp.zeros(32),
                  "c2": glorot(ks[1], (3, 3, 32, 64)), "cb2": jnp.zeros(64),
                  "w": glorot(ks[2], (1600, 10)), "b": jnp.zeros(10)}

        def conv(h, w, b):
            return jax.nn.relu(jax.lax.conv_general_dilated(
                h, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b)

        def pool(h):
            return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                         "VALID")

        def forward(p, xb, k):
            h = pool(conv(xb, p["c1"], p["cb1"]))
            h = pool(conv(h, p["c2"], p["cb2"])).reshape(xb.shape[0], -1)
            keep = jax.random.bernoulli(k, 0.5, h.shape)
            return (jnp.where(keep, h / 0.5, 0)) @ p["w"] + p["b"]

    def loss_fn(p, xb, yb, k):
        logits = forward(p, xb, k)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], 1))

    state = jax.tree_util.tree_map(jnp.zeros_like, params)
    state2 = jax.tree_util.tree_map(jnp.zeros_like, params)

    @jax.jit
    def step(p, s, s2, t, xb, yb, k):
        g = jax.grad(loss_fn)(p, xb, yb, k)
        if model == "mlp":  # RMSprop (Keras defaults: rho 0.9, eps 1e-7)
            s = jax.tree_util.tree_map(lambda a, gg: 0.9 * a + 0.1 * gg * gg, s, g)
            p = jax.tree_util.tree_map(lambda w, gg, a: w - 1e-3 * gg / (jnp.sqrt(a) + 1e-7),
                                       p, g, s)
        else:  # Adam
            s = jax.tree_util.tree_map(lambda m, gg: 0.9 * m + 0.1 * gg, s, g)
            s2 = jax.tree_util.tree_map(lambda v, gg: 0.999 * v + 0.001 * gg * gg, s2, g)
            a = 1e-3 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            p = jax.tree_util.tree_map(lambda w, m, v: w - a * m / (jnp.sqrt(v) + 1e-7),
                                       p, s, s2)
        return p, s, s2

    xd, yd = jax.device_put(x), jax.device_put(y.astype("int32"))
    for i in range(3):
        params, state, state2 = step(params, state, state2, float(i + 1), xd[:BATCH],
                                     yd[:BATCH], jax.random.PRNGKey(i))
    jax.block_until_ready(params)
    t0 = time.perf_counter()
    for i in range(steps):
        sl = slice(i * BATCH, (i + 1) * BATCH)
        params, state, state2 = step(params, state, state2, float(i + 4), xd[sl], yd[sl],
                                     jax.random.PRNGKey(i + 4))
    jax.block_until_ready(params)
    return BATCH * steps / (time.perf_counter() - t0)


def child_torch(model, steps):
    import torch
    from torch import nn
    if not torch.cuda.is_available():
        return {"error": "PyTorch sees no CUDA device"}
    dev = torch.device("cuda")
    if model == "mlp":
        net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
                            nn.Linear(1600, 10))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    net = net.to(dev)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data(model, BATCH * steps)
    if model == "convnet":
        x = x.transpose(0, 3, 1, 2).copy()  # NCHW, the PyTorch way
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run(n):
        for i in range(n):
            xb = xt[i * BATCH:(i + 1) * BATCH].to(dev, non_blocking=True)
            yb = yt[i * BATCH:(i + 1) * BATCH].to(dev, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
        torch.cuda.synchronize()

    run(8)
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    run(steps)
    sps = BATCH * steps / (time.perf_counter() - t0)
    return {"samples_per_s": sps, "gpu_peak_bytes": torch.cuda.max_memory_allocated(),
            "label": f"PyTorch {torch.__version__} CUDA eager"}


CHILDREN = {"tenfold": child_tenfold, "torch": child_torch, "jax": child_jax}
LABELS = {"tenfold": "tenfold (CuPy)", "torch": "PyTorch CUDA eager", "jax": "Keras 3 on JAX"}


def run_child(fw, model, steps, timeout):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               XLA_PYTHON_CLIENT_PREALLOCATE="false")
    t0 = time.time()
    try:
        p = subprocess.run([sys.executable, __file__, "--child", fw, model, str(steps)],
                           capture_output=True, text=True, env=env, timeout=timeout,
                           cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[-800:]}"}
    res = json.loads(lines[-1])
    res["wall_s"] = round(time.time() - t0, 1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "MODEL", "STEPS"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--models", default="mlp,convnet")
    ap.add_argument("--frameworks", default="tenfold,torch,jax")
    ap.add_argument("--timeout", type=int, default=150)
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.child:
        fw, model, steps = a.child
        try:
            res = CHILDREN[fw](model, int(steps))
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            import traceback
            res = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
        print(json.dumps(res))
        return
    results = {}
    for model in a.models.split(","):
        for fw in a.frameworks.split(","):
            res = run_child(fw, model, a.steps, a.timeout)
            results[f"{model}/{fw}"] = res
            if "error" in res:
                print(f"{model:8s} {LABELS[fw]:22s} ERROR {res['error'][:600]}", flush=True)
            else:
                peak = res.get("gpu_peak_bytes")
                peak = f"{peak / 2**20:8.1f} MiB" if peak else "       ?"
                print(f"{model:8s} {res.get('label', LABELS[fw]):48s} "
                      f"{res['samples_per_s']:10.0f} samples/s  GPU peak {peak}", flush=True)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
