"""Gradient checks: tape gradients against central finite differences, in float64.

Both compare d/dx sum(w * f(x)) for fixed random weights w (so every output element counts
with a different weight), which checks the whole vector-Jacobian product at once.
"""
import numpy as np


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _f64(a):
    """Float inputs become float64 (the check's precision); integer inputs keep their dtype."""
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" or a.dtype.name == "bfloat16" else a


def _weights(out_shape, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, size=out_shape) * rng.choice([-1.0, 1.0], size=out_shape)


def _scalar(fn, arrays, w):
    import tenfold as tf
    out = np.asarray(fn(*[tf.constant(a) for a in arrays]).numpy(), dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf * 0 where an output is infinite (weight 0)
        return float(np.sum(np.where(w != 0, out * w, 0.0)))


def numeric_gradient(fn, arrays, w, eps=1e-6, argnums=None):
    """Central differences of sum(w * fn(*arrays)) for each array in argnums."""
    arrays = [np.array(_f64(a)) for a in arrays]
    argnums = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if argnums is None \
        else argnums
    grads = []
    for i in argnums:
        g = np.zeros_like(arrays[i])
        flat = arrays[i].reshape(-1)
        gf = g.reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            hi = _scalar(fn, arrays, w)
            flat[k] = orig - eps
            lo = _scalar(fn, arrays, w)
            flat[k] = orig
            gf[k] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def tape_gradient(fn, arrays, w, argnums=None):
    """GradientTape's gradient of sum(w * fn(*arrays)) (None where unconnected)."""
    import tenfold as tf
    xs = [tf.constant(_f64(a)) for a in arrays]
    argnums = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"] \
        if argnums is None else list(argnums)
    with tf.GradientTape() as tape:
        for i in argnums:
            tape.watch(xs[i])
        out = fn(*xs)
        loss = tf.reduce_sum(out * tf.constant(w))
    gs = tape.gradient(loss, [xs[i] for i in argnums])
    return [None if g is None else np.asarray(g.numpy(), dtype=np.float64) for g in gs]


def gradient_check(fn, arrays, argnums=None, eps=1e-6, rtol=1e-5, atol=1e-6, seed=0,
                   name=None):
    """Asserts that tape gradients match finite differences; returns (analytic, numeric)."""
    import tenfold as tf
    arrays = [_f64(a) for a in _as_list(arrays)]
    out = np.asarray(fn(*[tf.constant(a) for a in arrays]).numpy())
    w = _weights(out.shape, seed) * np.isfinite(out)  # infinite outputs don't count
    analytic = tape_gradient(fn, arrays, w, argnums)
    numeric = numeric_gradient(fn, arrays, w, eps, argnums)
    label = name or getattr(fn, "__name__", "fn")
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if a is None:
            if np.any(np.abs(n) > atol):
                raise AssertionError(f"{label}: the tape gives no gradient for input {i} but "
                                     f"finite differences give {n}")
            continue
        if a.shape != n.shape:
            raise AssertionError(f"{label}: gradient of input {i} has shape {a.shape}, the "
                                 f"input has {n.shape}")
        np.testing.assert_allclose(a, n, rtol=rtol, atol=atol,
                                   err_msg=f"{label}: gradient of input {i}")
    return analytic, numeric


def second_derivative_check(fn, arrays, argnums=None, eps=1e-5, rtol=1e-4, atol=1e-5, seed=0,
                            name=None):
    """Checks second derivatives: differentiates x -> sum(v * grad(sum(w * fn(x)))) with an
    outer tape (the gradient rules differentiated again) against finite differences of the
    tape's first derivative."""
    import tenfold as tf
    arrays = [_f64(a) for a in _as_list(arrays)]
    argnums = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if argnums is None \
        else list(argnums)
    out = np.asarray(fn(*[tf.constant(a) for a in arrays]).numpy())
    w = tf.constant(_weights(out.shape, seed) * np.isfinite(out))
    rng = np.random.default_rng(seed + 1)
    vs = [tf.constant(rng.uniform(0.5, 1.5, size=arrays[i].shape)) for i in argnums]

    def first_grad_dot(*xs):
        with tf.GradientTape() as inner:
            for i in argnums:
                inner.watch(xs[i])
            loss = tf.reduce_sum(fn(*xs) * w)
        gs = inner.gradient(loss, [xs[i] for i in argnums],
                            unconnected_gradients="zero")
        return tf.add_n([tf.reduce_sum(g * v) for g, v in zip(gs, vs)])

    return gradient_check(first_grad_dot, arrays, argnums=argnums, eps=eps, rtol=rtol,
                          atol=atol, seed=seed, name=(name or "fn") + " (2nd derivative)")
