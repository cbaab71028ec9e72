"""What `compile(loss=..., metrics=...)` turns into: `CompileLoss` and `CompileMetrics`.

Both resolve names lazily, on the first batch, when the shapes of `y_true` and `y_pred` are
known (that is when `'accuracy'` becomes binary, categorical or sparse categorical accuracy,
as in Keras 3), and check the targets against the outputs there, so a mismatch is reported
once, before any training, with the usual fix.
"""
import numpy as np

from tenfold.util import nest
from tenfold.util.tensor_meta import npd


def _metrics_module():
    from tenfold.keras import metrics
    return metrics


def _losses_module():
    from tenfold.keras import losses
    return losses


def object_name(obj):
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    fn_name = getattr(obj, "__name__", None)
    if fn_name:
        return fn_name
    from tenfold.keras.layers.layer import to_snake_case
    return to_snake_case(type(obj).__name__)


def _shape(t):
    return tuple(t.shape) if t is not None and hasattr(t, "shape") else ()


def is_binary_or_sparse_categorical(y_true, y_pred):
    ts, ps = _shape(y_true), _shape(y_pred)
    t_last = ts[-1] if ts else None
    p_last = ps[-1] if ps else None
    is_binary = p_last == 1
    is_sparse = len(ts) < len(ps) or (t_last == 1 and p_last is not None and p_last > 1)
    return is_binary, is_sparse


def _is_metric(obj):
    try:
        return isinstance(obj, _metrics_module().Metric)
    except (ImportError, AttributeError):
        return hasattr(obj, "update_state") and hasattr(obj, "result")


def get_metric(identifier, y_true, y_pred):
    metrics = _metrics_module()
    if identifier is None:
        raise ValueError("Expected a metric, received `None`.")
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true, y_pred)
        if is_binary:
            obj = metrics.BinaryAccuracy(name=identifier)
        elif is_sparse:
            obj = metrics.SparseCategoricalAccuracy(name=identifier)
        else:
            obj = metrics.CategoricalAccuracy(name=identifier)
    else:
        obj = _resolve(metrics, identifier, "metric")
    name = identifier if isinstance(identifier, str) else object_name(obj)
    if not _is_metric(obj):
        # Keras creates the metric under its own name ("mean_absolute_error/total"), then
        # renames it to what compile() was given ("mae").
        obj = metrics.MeanMetricWrapper(obj, name=object_name(obj))
    try:
        obj.name = name
    except AttributeError:
        pass
    return obj


def _resolve(module, identifier, kind):
    try:
        return module.get(identifier)
    except ValueError as e:
        msg = str(e)
        if isinstance(identifier, str) and "available" not in msg.lower() and \
                "known" not in msg.lower():
            names = _known_names(module)
            if names:
                msg += f" Known {kind} names: {', '.join(names)}."
        raise ValueError(msg) from None


def _known_names(module):
    names = []
    for n in dir(module):
        if n.startswith("_"):
            continue
        obj = getattr(module, n, None)
        if callable(obj) and not isinstance(obj, type) and n.islower():
            names.append(n)
    return sorted(names)[:60]


def get_loss(identifier, y_true, y_pred):
    losses = _losses_module()
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true, y_pred)
        fn = (losses.binary_crossentropy if is_binary else
              losses.sparse_categorical_crossentropy if is_sparse else
              losses.categorical_crossentropy)
        obj = fn
    else:
        obj = _resolve(losses, identifier, "loss")
    if not isinstance(obj, losses.Loss):
        name = identifier if isinstance(identifier, str) else object_name(obj)
        obj = losses.LossFunctionWrapper(obj, name=name)
    return obj


# -------------------------------------------------------------------------- target checks
def _loss_kind(loss_obj):
    """'sparse', 'categorical', 'binary' or None, from a resolved loss object's identity."""
    names = [type(loss_obj).__name__.lower(), str(getattr(loss_obj, "name", "")).lower()]
    fn = getattr(loss_obj, "fn", None)
    if fn is not None:
        names.append(getattr(fn, "__name__", "").lower())
    joined = " ".join(names)
    if "sparse_categorical" in joined or "sparsecategorical" in joined:
        return "sparse"
    if "categorical_crossentropy" in joined or "categoricalcrossentropy" in joined:
        return "categorical"
    if "binary_crossentropy" in joined or "binarycrossentropy" in joined:
        return "binary"
    return None


def check_targets(loss_obj, y_true, y_pred, output_name=None):
    """Raises a ValueError a beginner can act on when `y` cannot go with the model output."""
    if y_true is None or y_pred is None:
        return
    ts, ps = _shape(y_true), _shape(y_pred)
    kind = _loss_kind(loss_obj)
    where = f" for output '{output_name}'" if output_name else ""
    lname = getattr(loss_obj, "name", type(loss_obj).__name__)
    dtype = getattr(y_true, "dtype", None)
    is_int = dtype is not None and np.dtype(getattr(dtype, "as_numpy_dtype", dtype)).kind in "iub"
    if kind == "categorical" and ps and ps[-1] is not None and ps[-1] > 1 and (
            len(ts) == len(ps) - 1 or (len(ts) == len(ps) and ts[-1] == 1)):
        raise ValueError(
            f"The loss '{lname}'{where} expects one-hot encoded targets of shape "
            f"(batch, {ps[-1]}) matching the model output {ps}, but received targets of shape "
            f"{ts}{' (integer class labels)' if is_int else ''}. Either use "
            "loss='sparse_categorical_crossentropy' (which takes integer labels), or one-hot "
            f"encode the labels with keras.utils.to_categorical(y, num_classes={ps[-1]}).")
    if kind == "sparse" and ps and len(ts) == len(ps) and ts[-1] not in (1, None) and \
            ts[-1] == ps[-1]:
        raise ValueError(
            f"The loss '{lname}'{where} expects integer class labels of shape (batch,), but "
            f"received targets of shape {ts}, which look one-hot encoded (the model output is "
            f"{ps}). Use loss='categorical_crossentropy' for one-hot targets, or pass "
            "y.argmax(axis=-1).")
    if kind == "sparse" and ps and not (len(ts) == len(ps) - 1 or
                                        (len(ts) == len(ps) and ts[-1] == 1)):
        raise ValueError(
            f"The loss '{lname}'{where} expects integer class labels of shape {ps[:-1]} (or "
            f"{ps[:-1] + (1,)}) for a model output of shape {ps}, but received targets of "
            f"shape {ts}.")
    if kind in ("categorical", "binary") or kind is None:
        if len(ts) == len(ps) and all(a is None or b is None or a == b or a == 1 or b == 1
                                      for a, b in zip(ts, ps)):
            return
        if kind is None and (len(ts) == len(ps) - 1 and ps[-1] == 1 or
                             len(ts) == len(ps) + 1 and ts[-1] == 1):
            return  # Keras squeezes/expands a trailing 1
        if kind == "binary" and len(ts) == len(ps) - 1 and ps[-1] == 1:
            return
        if len(ts) == len(ps) and kind is None:
            bad = [(a, b) for a, b in zip(ts[1:], ps[1:]) if a != b and a != 1 and b != 1]
            if not bad:
                return
        hint = ""
        if kind is None and is_int and ps and ps[-1] and ps[-1] > 1 and len(ts) == len(ps) - 1:
            hint = (" The targets look like integer class labels: for classification use "
                    "loss='sparse_categorical_crossentropy', or one-hot encode them with "
                    "keras.utils.to_categorical.")
        elif len(ts) != len(ps) or ts[1:] != ps[1:]:
            hint = (" Check that the last layer has as many units as each target has values, "
                    "and that x and y are not swapped.")
        raise ValueError(f"Targets of shape {ts} are incompatible with the model output of "
                         f"shape {ps}{where} for loss '{lname}'.{hint}")


# -------------------------------------------------------------------------- structures
def _flatten_by_names(y, names):
    if isinstance(y, dict) and names is not None and set(names) <= set(y):
        return [y[n] for n in names]
    if isinstance(y, dict) and names is not None and not (set(y) <= set(names)):
        raise ValueError(f"Target keys {sorted(y)} do not match the model output names "
                         f"{list(names)}.")
    if isinstance(y, dict) and names is not None:
        return [y.get(n) for n in names]
    return nest.flatten(y) if nest.is_nested(y) else [y]


def _output_names(y_pred, model_output_names):
    n = len(nest.flatten(y_pred))
    if isinstance(y_pred, dict):
        keys = list(y_pred.keys())
        if model_output_names and set(keys) == set(model_output_names):
            return list(model_output_names), True
        return sorted(keys), True
    if model_output_names and len(model_output_names) == n:
        return list(model_output_names), False
    return [None] * n, False


def _flat_outputs(y_pred, model_output_names):
    """(names, pred_is_dict, flat predictions in `names` order) for a model's output."""
    names, pred_is_dict = _output_names(y_pred, model_output_names)
    flat_pred = [y_pred[nm] for nm in names] if pred_is_dict else nest.flatten(y_pred)
    return names, pred_is_dict, flat_pred


def _single_true(y_true):
    """The targets of a single-output model as a one-item list (unwrapping a 1-item list,
    tuple or dict)."""
    if isinstance(y_true, (list, tuple)) and len(y_true) == 1:
        return [y_true[0]]
    if isinstance(y_true, dict) and len(y_true) == 1:
        return [next(iter(y_true.values()))]
    return [y_true]


def _metric_variables(metrics):
    out = []
    for m in metrics:
        out.extend(m.variables)
    return out


def _per_output(spec, names, n, what):
    """A user spec (single, list, dict) -> one entry per output."""
    if n == 1:
        if isinstance(spec, dict):
            if names[0] in spec:
                return [spec[names[0]]]
            if names[0] is not None:
                raise ValueError(f"Unknown output name(s) {sorted(spec)} in `{what}`: the "
                                 f"model's output is named {names[0]!r}. Use "
                                 f"{what}={{{names[0]!r}: ...}}.")
            if len(spec) == 1:
                return [next(iter(spec.values()))]
        if isinstance(spec, (list, tuple)) and len(spec) == 1 and what == "loss":
            return [spec[0]]
        return [spec]
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"Unknown output name(s) {unknown} in `{what}`: the model's outputs "
                             f"are {names}.")
        return [spec.get(nm) for nm in names]
    if isinstance(spec, (list, tuple)):
        if what in ("loss", "loss_weights") and len(spec) != n:
            raise ValueError(f"`loss` is a list of {len(spec)} entries but the model has {n} "
                             "outputs: pass one loss per output (or a dict keyed by output "
                             f"names {names}).")
        if what != "loss" and len(spec) == n and (n > 1 and any(
                isinstance(s, (list, tuple)) or s is None for s in spec)):
            return list(spec)
        if what in ("loss", "loss_weights"):
            return list(spec)
        return [spec] * n
    return [spec] * n


class CompileLoss:
    """The compiled loss: per-output losses, weighted and summed (as Keras's CompileLoss)."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict, float,
                                                                      int)):
            raise ValueError("Expected `loss_weights` argument to be a float (single output) or "
                             f"a list or dict (multiple outputs). Received {loss_weights!r}.")
        self._user_loss = loss
        self._user_loss_weights = loss_weights
        self.output_names = output_names
        self.built = False
        self.name = "compile_loss"
        self._metrics = []
        self._flat = []
        self._names = None

    @property
    def metrics(self):
        return self._metrics

    @property
    def variables(self):
        return _metric_variables(self._metrics)

    def build(self, y_true, y_pred):
        names, pred_is_dict, flat_pred = _flat_outputs(y_pred, self.output_names)
        n = len(flat_pred)
        losses = _per_output(self._user_loss, names, n, "loss")
        w = self._user_loss_weights
        weights = [None] * n if w is None else _per_output(w, names, n, "loss_weights")
        flat_true = self._flat_true(y_true, names, n)
        self._names = names
        self._pred_is_dict = pred_is_dict
        self._flat = []
        for i, (lo, wt) in enumerate(zip(losses, weights)):
            if lo is None:
                continue
            yt = flat_true[i] if i < len(flat_true) else None
            obj = get_loss(lo, yt, flat_pred[i])
            check_targets(obj, yt, flat_pred[i], names[i] if n > 1 else None)
            name = names[i] if names[i] is not None else getattr(obj, "name", f"output_{i}")
            self._flat.append((i, obj, wt, name))
        if not self._flat:
            raise ValueError("No loss to compute: every entry of `loss` is None.")
        if len(self._flat) > 1:
            Mean = _metrics_module().Mean
            self._metrics = [Mean(name=f"{nm}_loss") for _, _, _, nm in self._flat]
        self._single = n == 1
        self.built = True

    def _flat_true(self, y_true, names, n):
        if n == 1:
            return _single_true(y_true)
        if isinstance(y_true, dict):
            return _flatten_by_names(y_true, names)
        flat = nest.flatten(y_true)
        if len(flat) != n:
            active = [i for i, lo in enumerate(_per_output(self._user_loss, names, n, "loss"))
                      if lo is not None]
            if len(flat) == len(active):
                full = [None] * n
                for i, v in zip(active, flat):
                    full[i] = v
                return full
            raise ValueError(f"The model has {n} outputs {names} but received {len(flat)} "
                             "target arrays: pass `y` as a list with one array per output, or "
                             "a dict keyed by output name.")
        return flat

    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        from tenfold.ops import math_ops
        if self._single:
            _, fn, wt, _ = self._flat[0]
            if isinstance(y_true, (list, tuple)) and len(y_true) == 1:
                y_true = y_true[0]
            if isinstance(y_pred, (list, tuple)) and len(y_pred) == 1:
                y_pred = y_pred[0]
            elif isinstance(y_pred, dict):
                y_pred = next(iter(y_pred.values()))
            if isinstance(y_true, dict):
                y_true = next(iter(y_true.values()))
            value = fn(y_true, y_pred, sample_weight)
            value = _to_float32(value)
            if wt is not None:
                value = value * wt
            return value
        names = self._names
        flat_pred = [y_pred[nm] for nm in names] if self._pred_is_dict else nest.flatten(y_pred)
        flat_true = self._flat_true(y_true, names, len(flat_pred))
        if sample_weight is not None and nest.is_nested(sample_weight):
            flat_sw = _flatten_by_names(sample_weight, names) if isinstance(sample_weight, dict) \
                else nest.flatten(sample_weight)
        else:
            flat_sw = [sample_weight] * len(flat_pred)
        total = None
        for (i, fn, wt, _), metric in zip(self._flat, self._metrics):
            value = _to_float32(fn(flat_true[i], flat_pred[i], flat_sw[i]))
            # Unweighted over batches: what Keras's compiled (TensorFlow) step records, where
            # the batch size is not known while tracing.
            metric.update_state(value)
            if wt is not None:
                value = value * wt
            total = value if total is None else math_ops.add(total, value)
        return total

    def reset_state(self):
        for m in self._metrics:
            m.reset_state()


def _to_float32(value):
    from tenfold.framework.tensor import Tensor, convert_to_tensor
    if not isinstance(value, Tensor):
        value = convert_to_tensor(value)
    if npd(value) != np.float32 and npd(value).kind == "f":
        from tenfold.ops.math_ops import cast
        from tenfold.keras import backend
        value = cast(value, backend.floatx())
    return value


class MetricsList:
    def __init__(self, metrics, output_name=None):
        self.metrics = metrics
        self.output_name = output_name

    def update_state(self, y_true, y_pred, sample_weight=None):
        for m in self.metrics:
            m.update_state(y_true, y_pred, sample_weight=sample_weight)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()


class CompileMetrics:
    """The compiled metrics: named as Keras names them (`accuracy`, `out_a_accuracy`, ...).

    `result()` returns a dict; `fit` logs flatten it into the top level."""

    def __init__(self, metrics, weighted_metrics, output_names=None):
        for arg, val in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if val and not isinstance(val, (list, tuple, dict)):
                raise ValueError(f"Expected `{arg}` argument to be a list, tuple, or dict. "
                                 f"Received instead: {arg}={val!r} of type "
                                 f"{type(val).__name__}. Write {arg}=[{val!r}].")
        self._user_metrics = metrics
        self._user_weighted_metrics = weighted_metrics
        self.output_names = output_names
        self.built = False
        self.name = "compile_metrics"
        self._flat_metrics = []
        self._flat_weighted = []

    @property
    def metrics(self):
        if not self.built:
            return []
        out = []
        for ml in self._flat_metrics + self._flat_weighted:
            if ml is not None:
                out.extend(ml.metrics)
        return out

    @property
    def variables(self):
        return _metric_variables(self.metrics)

    def build(self, y_true, y_pred):
        names, pred_is_dict, flat_pred = _flat_outputs(y_pred, self.output_names)
        n = len(flat_pred)
        self._names = names
        self._pred_is_dict = pred_is_dict
        flat_true = self._flat_true(y_true, n)
        self._flat_metrics = self._build_set(self._user_metrics, names, n, flat_true, flat_pred)
        self._flat_weighted = self._build_set(self._user_weighted_metrics, names, n, flat_true,
                                              flat_pred)
        self.built = True

    def _flat_true(self, y_true, n):
        if n == 1:
            return _single_true(y_true)
        if isinstance(y_true, dict):
            return _flatten_by_names(y_true, self._names)
        return nest.flatten(y_true)

    def _build_set(self, spec, names, n, flat_true, flat_pred):
        if not spec:
            return [None] * n
        if n == 1:
            return [MetricsList([get_metric(m, flat_true[0], flat_pred[0])
                                 for m in nest.flatten(spec)], None)]
        if isinstance(spec, dict):
            per = _per_output(spec, names, n, "metrics")
        elif isinstance(spec, (list, tuple)) and len(spec) == n and any(
                isinstance(s, (list, tuple)) or s is None for s in spec):
            per = list(spec)
        else:
            per = [spec] * n
        out = []
        for i, ms in enumerate(per):
            if ms is None:
                out.append(None)
                continue
            ms = ms if isinstance(ms, (list, tuple)) else [ms]
            yt = flat_true[i] if i < len(flat_true) else None
            out.append(MetricsList([get_metric(m, yt, flat_pred[i]) for m in ms], names[i]))
        return out

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        n = len(self._flat_metrics)
        if n == 1:
            yt = self._flat_true(y_true, 1)[0]
            yp = y_pred
            if isinstance(yp, (list, tuple)) and len(yp) == 1:
                yp = yp[0]
            elif isinstance(yp, dict):
                yp = next(iter(yp.values()))
            ml = self._flat_metrics[0]
            if ml is not None:
                for m in ml.metrics:
                    m.update_state(yt, yp)
            wl = self._flat_weighted[0]
            if wl is not None:
                for m in wl.metrics:
                    m.update_state(yt, yp, sample_weight=sample_weight)
            return
        flat_pred = [y_pred[nm] for nm in self._names] if self._pred_is_dict else \
            nest.flatten(y_pred)
        flat_true = self._flat_true(y_true, n)
        for ml, yt, yp in zip(self._flat_metrics, flat_true, flat_pred):
            if ml is not None:
                ml.update_state(yt, yp)
        if sample_weight is not None and nest.is_nested(sample_weight):
            sws = _flatten_by_names(sample_weight, self._names) \
                if isinstance(sample_weight, dict) else nest.flatten(sample_weight)
            if len(sws) < n:
                sws = [sws[0]] * n
        else:
            sws = [sample_weight] * n
        for ml, yt, yp, sw in zip(self._flat_weighted, flat_true, flat_pred, sws):
            if ml is not None:
                ml.update_state(yt, yp, sample_weight=sw)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        if not self.built:
            return {}
        results = {}
        counters = {}
        for ml in self._flat_metrics:
            if ml is None:
                continue
            for m in ml.metrics:
                name = f"{ml.output_name}_{m.name}" if ml.output_name else m.name
                if name not in counters:
                    counters[name] = 1
                else:
                    idx = counters[name]
                    counters[name] += 1
                    name = f"{name}_{idx}"
                results[name] = m.result()
        for ml in self._flat_weighted:
            if ml is None:
                continue
            for m in ml.metrics:
                name = f"{ml.output_name}_{m.name}" if ml.output_name else m.name
                if name in counters:
                    name = f"weighted_{m.name}"
                    if ml.output_name:
                        name = f"{ml.output_name}_{name}"
                    if name in counters:
                        idx = counters[name]
                        counters[name] += 1
                        name = f"{name}_{idx}"
                counters.setdefault(name, 1)
                results[name] = m.result()
        return results
