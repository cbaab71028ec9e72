"""Reports, in `fit`, the first batch whose loss is NaN or infinite, and says why.

The hot path costs one float conversion per batch: the loss `train_step` already computed
(the epoch's running mean, which turns non-finite at the first bad batch and stays so) is
checked with `math.isfinite`. Only after a detection does the guard look for the culprit:

1. the batch's inputs and targets (which input, how many values, which rows) -> clean the data;
2. a layer whose weights are no longer finite -> training diverged: lower the learning rate;
3. the first layer that turns finite inputs into NaN/inf (found by running the batch through
   the model with each layer's output watched) -> that layer's math (log(0), x/0, ...);
4. otherwise the loss function itself (e.g. log of a non-positive prediction).

It then warns once (`NonFiniteLossWarning`, with that diagnosis) and training goes on as in
Keras and TensorFlow, so tf.keras code gives the same numbers (Keras's `TerminateOnNaN`
callback, if given, stops it). `TENFOLD_CHECK_NUMERICS=raise` raises `NonFiniteLossError`
instead, stopping at that batch; `TENFOLD_CHECK_NUMERICS=0` turns the check off.

NumPy's floating-point RuntimeWarnings ("invalid value encountered in ...") raised inside
fit, evaluate and predict are silenced (`quiet_numpy`, `quiet`), as TensorFlow's kernels never
warn: non-finite values in training are reported by this guard, in one message that names the
cause, instead.
"""
import functools
import math
import os
import warnings

import numpy as np

from tenfold.keras.engine.beginner_hints import LossExplosionWarning


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the cause and the fix."""


class NonFiniteLossWarning(LossExplosionWarning, RuntimeWarning):
    """The training loss became NaN or infinite (training goes on, as in Keras)."""


def mode():
    """'warn' (default), 'raise' or 'off', from $TENFOLD_CHECK_NUMERICS."""
    value = os.environ.get("TENFOLD_CHECK_NUMERICS", "1").strip().lower()
    if value in ("0", "false", "no", "off"):
        return "off"
    return "raise" if value in ("raise", "error", "strict") else "warn"


def quiet_numpy():
    """Context: NumPy floating-point warnings off (they are reported by the guard instead)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore")


def quiet(method):
    """Decorator: runs `method` (Model.evaluate / predict) with NumPy's floating-point
    warnings off, as TensorFlow's kernels never warn."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with quiet_numpy():
            return method(*args, **kwargs)
    return wrapper


class FitGuard:
    """One per `fit` call: `check(logs, data, epoch, step)` after each train step."""

    def __init__(self, model, callbacks):
        self.model = model
        self.mode = mode()
        self.active = self.mode != "off"
        cbs = getattr(callbacks, "callbacks", callbacks) or []
        if any(type(cb).__name__ == "TerminateOnNaN" for cb in cbs) and self.mode == "raise":
            self.mode = "warn"         # the user asked Keras's callback to do the stopping
        self.reported = False
        self.previous = None      # (data, epoch, step) of the last batch: a reference, no copy

    def check(self, logs, data, epoch, step):
        if not self.active or self.reported or not isinstance(logs, dict):
            return
        loss = logs.get("loss")
        if loss is None:
            return
        try:
            value = float(loss.numpy() if hasattr(loss, "numpy") else loss)
        except (TypeError, ValueError):
            return
        if math.isfinite(value):
            self.previous = (data, epoch, step)
            return
        self.reported = True
        from tenfold.graph.executor import join_started
        join_started()   # the diagnosis reads the weights the step's update may still write
        message = diagnose(self.model, data, value, epoch, step, self.previous)
        self.previous = None
        if self.mode == "raise":
            raise NonFiniteLossError(message)
        warnings.warn(message, NonFiniteLossWarning, stacklevel=3)


# ------------------------------------------------------------------------------ diagnosis
def _arrays(structure, prefix):
    """(name, array) pairs of a batch element (array, list/tuple or dict of arrays)."""
    if structure is None:
        return []
    if isinstance(structure, dict):
        out = []
        for k, v in structure.items():
            out += _arrays(v, f"{prefix}['{k}']")
        return out
    if isinstance(structure, (list, tuple)):
        out = []
        for i, v in enumerate(structure):
            out += _arrays(v, f"{prefix}[{i}]")
        return out
    try:
        arr = np.asarray(structure.numpy() if hasattr(structure, "numpy") else structure)
    except Exception:
        return []
    return [(prefix, arr)]


def _bad_values(arr):
    if arr.dtype.kind not in "fc" and arr.dtype.name != "bfloat16":
        return None
    finite = np.isfinite(arr.astype(np.float32) if arr.dtype.name == "bfloat16" else arr)
    if finite.all():
        return None
    bad = ~finite
    rows = np.unique(np.nonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0]) \
        if arr.ndim else np.array([], int)
    kinds = []
    flat = arr[bad].astype(np.float64)
    if np.isnan(flat).any():
        kinds.append("NaN")
    if np.isinf(flat).any():
        kinds.append("inf")
    return int(bad.sum()), rows, " and ".join(kinds)


def _input_names(model, count):
    names = [getattr(t, "name", None) for t in (getattr(model, "inputs", None) or [])]
    if len(names) == count and all(isinstance(n, str) for n in names):
        return names
    return None


def _rows(rows):
    shown = ", ".join(str(int(r)) for r in rows[:5])
    return shown + (f", ... ({len(rows)} rows)" if len(rows) > 5 else "")


def _data_problem(model, data):
    from tenfold.keras.engine import data_adapter as da
    x, y, sw = da.unpack_x_y_sample_weight(data)
    xs = _arrays(x, "x")
    names = _input_names(model, len(xs))
    found = []
    for i, (where, arr) in enumerate(xs):
        bad = _bad_values(arr)
        if bad is not None:
            label = f"input '{names[i]}' ({where})" if names else f"input {where}"
            found.append((label, bad))
    for where, arr in _arrays(y, "y"):
        bad = _bad_values(arr)
        if bad is not None:
            found.append((f"target {where}", bad))
    for where, arr in _arrays(sw, "sample_weight"):
        bad = _bad_values(arr)
        if bad is not None:
            found.append((where, bad))
    if not found:
        return None
    lines = [f"{label} holds {n} {kinds} value(s) in this batch (rows {_rows(rows)})"
             for label, (n, rows, kinds) in found]
    return ("; ".join(lines) + ". Clean the data before training: find the bad values with "
            "`~np.isfinite(x)`, then drop those rows or replace them (e.g. "
            "`np.nan_to_num(x)`, or fill with the column mean).")


def _layers(model):
    seen, out, stack = set(), [], [model]
    while stack:
        layer = stack.pop()
        for sub in reversed(list(getattr(layer, "layers", []) or [])):
            if id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
                stack.append(sub)
    return out


def _nonfinite_weights(model):
    for layer in _layers(model):
        for v in getattr(layer, "_own_vars", lambda: [])() if hasattr(layer, "_own_vars") \
                else getattr(layer, "weights", []):
            arr = np.asarray(v.numpy())
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                return layer, getattr(v, "path", getattr(v, "name", "?"))
    return None


def _first_bad_layer(model, x):
    """The first layer (in execution order) whose output is not finite while its inputs are,
    found by running the batch through the model with each layer's `call` watched."""
    layers = [l for l in _layers(model) if "call" in type(l).__dict__ or hasattr(l, "call")]
    found = []

    def watch(layer, call):
        def watched(*args, **kwargs):
            out = call(*args, **kwargs)
            if not found:
                ins = [a for _, a in _arrays(list(args), "in")]
                outs = [a for _, a in _arrays(out, "out")]
                if all(_bad_values(a) is None for a in ins) and \
                        any(_bad_values(a) is not None for a in outs):
                    found.append(layer)
            return out
        return watched
    patched = []
    try:
        for layer in layers:
            if "call" in layer.__dict__:
                continue
            layer.__dict__["call"] = watch(layer, layer.call)
            patched.append(layer)
        with quiet_numpy():
            model(x, training=False)
    except Exception:
        pass
    finally:
        for layer in patched:
            layer.__dict__.pop("call", None)
    return found[0] if found else None


def _loss_not_finite(model, probe, data):
    from tenfold.keras.engine import data_adapter as da
    x, y, sw = da.unpack_x_y_sample_weight(data)
    try:
        with quiet_numpy():
            pred = probe(x, training=False)
            loss = model.compute_loss(x=x, y=y, y_pred=pred, sample_weight=sw, training=False)
            value = float(np.asarray(loss.numpy() if hasattr(loss, "numpy") else loss))
    except Exception:
        return False
    return not math.isfinite(value)


def _huge_outputs(model, x):
    try:
        with quiet_numpy():
            outs = _arrays(model(x, training=False), "out")
    except Exception:
        return False
    return any(a.dtype.kind == "f" and a.size and np.nanmax(np.abs(a)) > 1e10 for _, a in outs)


def _fresh_copy(model):
    try:
        from tenfold.keras.models.cloning import clone_model

        def fresh(layer):   # layers without weights (Lambda, activations) are shared as is
            return type(layer).from_config(layer.get_config()) if layer.weights else layer
        with quiet_numpy():
            return clone_model(model, clone_function=fresh)
    except Exception:
        return None


def _learning_rate(model):
    opt = getattr(model, "optimizer", None)
    lr = getattr(opt, "learning_rate", None)
    try:
        return float(lr.numpy() if hasattr(lr, "numpy") else lr)
    except (TypeError, ValueError):
        return None


def diagnose(model, data, value, epoch, step, previous=None):
    """The message for a loss that became `value` (NaN/inf) at (epoch, step). `previous`:
    (data, epoch, step) of the batch before, whose update may have carried an inf from the
    data into the weights while its own loss stayed finite (relu(-inf) = 0)."""
    what = "NaN" if math.isnan(value) else str(value)
    head = (f"The training loss became {what} at epoch {epoch + 1}, batch {step + 1} (the first "
            "batch where it was not finite). ")
    try:
        problem = _data_problem(model, data)
        if problem is not None:
            return head + "The cause is the data: " + problem
        if previous is not None:
            pdata, pepoch, pstep = previous
            problem = _data_problem(model, pdata)
            if problem is not None:
                return (head + f"The cause is the data of the batch before (epoch {pepoch + 1}, "
                        f"batch {pstep + 1}), whose update made the weights non-finite: "
                        + problem)
        lr = _learning_rate(model)
        lr_text = f" (now {lr:g})" if lr is not None else ""
        from tenfold.keras.engine import data_adapter as da
        x, _, _ = da.unpack_x_y_sample_weight(data)
        weights = _nonfinite_weights(model)
        # The step that produced the NaN loss has already updated the weights (with NaN
        # gradients), so the culprit is looked for in the model as it is and, when its weights
        # are gone, in a freshly initialized copy run on the same batch.
        probe = model if weights is None else _fresh_copy(model)
        layer = _first_bad_layer(probe, x) if probe is not None else None
        if layer is not None:
            fresh = " (even with freshly initialized weights)" if probe is not model else ""
            return (head + f"Layer '{layer.name}' ({type(layer).__name__}) turns finite inputs "
                    f"into NaN/inf{fresh}: e.g. a log of 0 or of a negative value, a division "
                    "by zero, an exp of a large value. Fix that layer's math (e.g. "
                    "log(x + 1e-7), or a positive activation before it), or lower the "
                    f"learning rate{lr_text} if its inputs grew too large.")
        if probe is not None and probe is not model and _loss_not_finite(model, probe, data):
            return (head + "The data is finite and the model's outputs are too (checked with "
                    "freshly initialized weights), but the loss computed from them is not: "
                    "the loss function produced it, e.g. a log of a prediction that is 0 or "
                    "negative (use `from_logits=True` with raw outputs, or a softmax/sigmoid "
                    "last layer), or targets outside the loss's range. The weights are now "
                    "non-finite: rebuild the model after fixing the loss.")
        if weights is not None:
            layer, var = weights
            return (head + f"The data is finite, but the weights of layer '{layer.name}' "
                    f"({var}) are no longer finite: training diverged. Lower the learning "
                    f"rate{lr_text}, e.g. by 10x, clip gradients (e.g. "
                    "`optimizer=keras.optimizers.Adam(1e-4, clipnorm=1.0)`), and check that "
                    "inputs are scaled (e.g. images divided by 255).")
        if _huge_outputs(model, x):
            return (head + "The data and the weights are finite, but the model's outputs have "
                    "grown huge (over 1e10) and overflow the loss: training diverged. Lower the "
                    f"learning rate{lr_text}, e.g. by 10x, clip gradients (e.g. "
                    "`optimizer=keras.optimizers.Adam(1e-4, clipnorm=1.0)`), and check that "
                    "inputs are scaled (e.g. images divided by 255).")
        return (head + "The data, the weights and the model's outputs are finite, so the loss "
                "function produced it: e.g. a log of a prediction that is 0 or negative (use "
                "`from_logits=True` with raw outputs, or a softmax/sigmoid last layer), or "
                f"targets outside the loss's range. Lowering the learning rate{lr_text} helps "
                "when the predictions grow without bound.")
    except Exception as e:     # the diagnosis must never hide the detection itself
        return head + (f"(The cause could not be narrowed down: {type(e).__name__}: {e}.) Check "
                       "the data for NaN/inf (`np.isfinite(x).all()`) and lower the learning "
                       "rate.")
