"""Helpers for the layer tests: the Keras 3 oracle (KERAS_BACKEND=numpy), a central finite
difference gradient check in float64, and config normalisation."""
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tenfold as tf  # noqa: E402
from tenfold.keras import layers as L  # noqa: E402


def keras_module():
    return pytest.importorskip("keras")


def to_np(x):
    if isinstance(x, (list, tuple)):
        return [to_np(v) for v in x]
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def assert_close(a, b, atol=1e-5, rtol=1e-5, what=""):
    a, b = to_np(a), to_np(b)
    if isinstance(a, list) or isinstance(b, list):
        assert isinstance(a, list) and isinstance(b, list) and len(a) == len(b), \
            f"{what}: structure differs: {type(a)} vs {type(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, atol, rtol, f"{what}[{i}]")
        return
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def random_weights(weights, rng, names=None):
    """Random values for each weight (positive for variances / moving variances)."""
    out = []
    for i, w in enumerate(weights):
        w = np.asarray(w)
        name = names[i] if names else ""
        if w.dtype.kind in "iu":
            out.append(w)
            continue
        v = rng.standard_normal(w.shape) * 0.5
        if "variance" in name:
            v = np.abs(v) + 0.5
        out.append(v.astype(w.dtype))
    return out


def compare_with_keras(name, kwargs, inputs, call=None, call_kwargs=None, atol=2e-5,
                       rtol=2e-5, randomize=True, seed=0):
    """Builds `name` in Keras and tenfold with the same arguments, copies Keras's (randomised)
    weights into tenfold with set_weights, and compares the outputs on `inputs`.

    `kwargs` may be a dict or a function of the layers module (for layer-valued arguments).
    Returns (keras_layer, tenfold_layer)."""
    keras = keras_module()
    call = call or (lambda layer, x, **kw: layer(x, **kw))
    call_kwargs = call_kwargs or {}
    kk = kwargs(keras.layers) if callable(kwargs) else dict(kwargs)
    tk = kwargs(L) if callable(kwargs) else dict(kwargs)
    kl = getattr(keras.layers, name)(**kk)
    tl = getattr(L, name)(**tk)
    call(kl, inputs, **call_kwargs)
    call(tl, inputs, **call_kwargs)
    kw = kl.get_weights()
    names = [w.name for w in kl.weights]
    assert [w.name for w in tl.weights] == names, \
        f"{name}: weight names {[w.name for w in tl.weights]} != Keras {names}"
    assert [tuple(w.shape) for w in tl.weights] == [tuple(w.shape) for w in kl.weights]
    if randomize and kw:
        kw = random_weights(kw, np.random.default_rng(seed), names)
        kl.set_weights(kw)
    tl.set_weights(kw)
    ky = call(kl, inputs, **call_kwargs)
    ty = call(tl, inputs, **call_kwargs)
    assert_close(ty, ky, atol, rtol, what=name)
    return kl, tl


def numeric_loss(layer, call, inputs, r, call_kwargs):
    y = call(layer, inputs, **call_kwargs)
    ys = y if isinstance(y, (list, tuple)) else [y]
    return float(sum(np.sum(to_np(a) * b) for a, b in zip(ys, r)))


def grad_check(name, kwargs, inputs, call=None, call_kwargs=None, n_coords=4, eps=1e-6,
               atol=1e-6, rtol=1e-4, check_inputs=True, seed=0):
    """Gradients of sum(output * r) w.r.t. the float inputs and every trainable weight of a
    float64 layer, against central finite differences at a few random coordinates."""
    rng = np.random.default_rng(seed)
    call = call or (lambda layer, x, **kw: layer(x, **kw))
    call_kwargs = call_kwargs or {}
    kw = kwargs(_Float64Layers()) if callable(kwargs) else dict(kwargs)
    kw["dtype"] = "float64"
    layer = getattr(L, name)(**kw)
    inputs = _as64(inputs)
    y = call(layer, inputs, **call_kwargs)
    ws = layer.get_weights()
    if ws:
        layer.set_weights(random_weights(ws, rng, [w.name for w in layer.weights]))
    ys = y if isinstance(y, (list, tuple)) else [y]
    r = [rng.standard_normal(tuple(a.shape)) for a in ys]
    flat_in = inputs if isinstance(inputs, list) else [inputs]
    tin = [tf.constant(x) for x in flat_in]
    float_idx = [i for i, x in enumerate(flat_in) if x.dtype.kind == "f"] if check_inputs \
        else []
    with tf.GradientTape() as tape:
        for i in float_idx:
            tape.watch(tin[i])
        args = tin if isinstance(inputs, list) else tin[0]
        out = call(layer, args, **call_kwargs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        loss = None
        for o, rr in zip(outs, r):
            t = tf.reduce_sum(o * tf.constant(rr))
            loss = t if loss is None else loss + t
    sources = [tin[i] for i in float_idx] + list(layer.trainable_weights)
    grads = tape.gradient(loss, sources)
    # inputs
    for k, i in enumerate(float_idx):
        g = to_np(grads[k])
        base = [x.copy() for x in flat_in]
        for idx in _coords(base[i].shape, n_coords, rng):
            def f(delta):
                xs = [x.copy() for x in base]
                xs[i][idx] += delta
                a = xs if isinstance(inputs, list) else xs[0]
                return numeric_loss(layer, call, a, r, call_kwargs)
            num = (f(eps) - f(-eps)) / (2 * eps)
            np.testing.assert_allclose(g[idx], num, atol=atol, rtol=rtol,
                                       err_msg=f"{name}: d/d input {i} at {idx}")
    # weights
    for k, v in enumerate(layer.trainable_weights):
        g = grads[len(float_idx) + k]
        g = np.zeros(tuple(v.shape)) if g is None else to_np(g)
        orig = np.array(v.numpy(), dtype=np.float64)
        for idx in _coords(orig.shape, n_coords, rng):
            def f(delta):
                w = orig.copy()
                w[idx] += delta
                v.assign(w)
                try:
                    return numeric_loss(layer, call, inputs, r, call_kwargs)
                finally:
                    v.assign(orig)
            num = (f(eps) - f(-eps)) / (2 * eps)
            np.testing.assert_allclose(g[idx], num, atol=atol, rtol=rtol,
                                       err_msg=f"{name}: d/d {v.name} at {idx}")
    return layer


class _Float64Layers:
    """`layers` whose constructors default to dtype='float64' (for layer-valued arguments)."""

    def __getattr__(self, name):
        cls = getattr(L, name)

        def make(*args, **kwargs):
            kwargs.setdefault("dtype", "float64")
            return cls(*args, **kwargs)
        return make


def _as64(x):
    if isinstance(x, list):
        return [_as64(v) for v in x]
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind == "f" else x


def _coords(shape, n, rng):
    if len(shape) == 0:
        return [()]
    size = int(np.prod(shape))
    picks = rng.choice(size, size=min(n, size), replace=False)
    return [np.unravel_index(int(p), shape) for p in picks]


def normalize_config(c):
    """Config with layer names removed and tuples as lists (as JSON would store them)."""
    if isinstance(c, dict):
        keep_name = set(c) == {"name"}  # a dtype policy's config
        return {k: normalize_config(v) for k, v in c.items()
                if k != "build_config" and (k != "name" or keep_name)}
    if isinstance(c, (list, tuple)):
        return [normalize_config(v) for v in c]
    if isinstance(c, float) and c == int(c) and abs(c) < 1e15:
        return c
    return c
