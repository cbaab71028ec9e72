"""Helpers shared by the conformance programs. Everything here is plain NumPy or uses only the
framework module it is handed, so the same program runs on TensorFlow and on tenfold."""
import numpy as np


def rng(seed):
    return np.random.RandomState(seed)


def init_weights(model, seed, scale=1.0):
    """Give `model` deterministic initial weights drawn with NumPy (the same on both sides).

    Kernels get a Glorot-sized uniform draw, vectors a small one; moving variances and
    normalisation scales stay positive. Relies on `get_weights()` order and shapes being the
    same on both sides (itself part of what is checked)."""
    r = np.random.RandomState(seed)
    new = []
    for v in model.weights:
        shape = tuple(int(d) for d in v.shape)
        name = v.name.split("/")[-1].split(":")[0]
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = shape[-1]
            lim = scale * np.sqrt(6.0 / (fan_in + fan_out))
            w = r.uniform(-lim, lim, size=shape)
        elif "variance" in name or name in ("gamma", "scale"):
            w = 1.0 + r.uniform(0.0, 0.2, size=shape)
        else:
            w = r.uniform(-0.1, 0.1, size=shape)
        new.append(w.astype(np.dtype(str(v.dtype).replace("<dtype: '", "").replace("'>", "")))
                   if "int" not in str(v.dtype) else np.asarray(v))
    model.set_weights(new)


def weights_dict(model, prefix="w"):
    """{prefix/i: array} for `model.get_weights()`."""
    return {f"{prefix}/{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}


def history_dict(history, prefix="history"):
    out = {f"{prefix}/keys": np.array(sorted(history.history.keys()))}
    for k, v in history.history.items():
        out[f"{prefix}/{k}"] = np.asarray(v, dtype="float64")
    out[f"{prefix}/epochs"] = np.asarray(history.epoch)
    return out


def error_of(fn):
    """Run `fn()`; return 'none' or 'raised:<ExceptionClass>:<message>'."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we record whatever is raised
        return f"raised:{type(e).__name__}:{str(e)[:400]}"
    return "none"


def dtype_name(x):
    d = getattr(x, "dtype", None)
    if d is None:
        return type(x).__name__
    name = getattr(d, "name", None)
    return str(name if name is not None else d)


def attempt(fn):
    """`fn()`'s value, or 'raised:<ExceptionClass>:<message>' (so one failing part of a
    program is reported without hiding the others)."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return f"raised:{type(e).__name__}:{str(e)[:300]}"
