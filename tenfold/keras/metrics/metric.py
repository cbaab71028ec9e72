"""The `Metric` base class and the reduction metrics (`Mean`, `Sum`, `MeanMetricWrapper`).

Metric state lives in non-trainable variables updated with `assign` / `assign_add` from
tenfold ops, so an update can run eagerly or inside a traced graph function. Updates are a
handful of ops per batch.
"""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.variable import Variable as _CoreVariable
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.keras.losses.loss import (
    to_dtype, squeeze_or_expand_to_same_rank, apply_mask)
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import to_host



def _auto_name(cls_name):
    from tenfold.keras.layers.layer import unique_name, to_snake_case
    return unique_name(to_snake_case(cls_name))


def _dtype_name(dtype):
    if dtype is None:
        from tenfold.keras import backend
        return backend.floatx()
    if hasattr(dtype, "compute_dtype"):
        return dtype.compute_dtype
    if isinstance(dtype, dict):
        return dtype.get("config", dtype).get("name", "float32")
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        return "float16" if dtype == "mixed_float16" else "bfloat16"
    return dtypes.as_dtype(dtype).name


class Metric:
    """Base class of metrics: `update_state(...)`, `result()`, `reset_state()`.

    >>> m = keras.metrics.Mean(); m.update_state([1, 3]); float(m.result())
    2.0
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = _dtype_name(dtype)
        self._variables = []
        self._direction = getattr(self, "_direction", None)

    @property
    def dtype(self):
        return self._dtype

    def _check_super_called(self):
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"You forgot to call `super().__init__()` in the `__init__()` "
                               f"method of metric {type(self).__name__}. Go add it!")

    # ------------------------------------------------------------------ variables
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        """A non-trainable state variable of this metric."""
        self._check_super_called()
        from tenfold.keras.variables import Variable
        from tenfold.keras.optimizers.optimizer import _init_value
        dt = dtypes.as_dtype(dtype or self._dtype)
        shape = tuple(int(d) for d in (shape or ()))
        value = _init_value(initializer if initializer is not None else "zeros", shape, dt)
        v = Variable(value, trainable=False, name=name or "variable", dtype=dt,
                     aggregation=aggregation)
        v.path = f"{self.name.replace('/', '>')}/{v.name}"
        self._variables.append(v)
        return v

    def add_weight(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                   name=None, **kwargs):
        """`add_variable`, also accepting tf.keras 2's call style (`add_weight(name, ...)`)."""
        if isinstance(shape, str) and name is None:
            name, shape = shape, kwargs.pop("shape", ())
        kwargs.pop("synchronization", None)
        kwargs.pop("trainable", None)
        if kwargs:
            raise TypeError(f"add_weight() got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype,
                                 aggregation=aggregation, name=name)

    def _submetrics(self):
        out = []
        for k, v in self.__dict__.items():
            if isinstance(v, Metric) and v is not self:
                out.append(v)
            elif isinstance(v, (list, tuple)):
                out.extend(x for x in v if isinstance(x, Metric) and x is not self)
        return out

    @property
    def variables(self):
        out = list(self.__dict__.get("_variables", []))
        seen = {id(v) for v in out}
        for k, v in self.__dict__.items():
            if k == "_variables":
                continue
            if isinstance(v, _CoreVariable) and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for sub in self._submetrics():
            for v in sub.variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    weights = variables

    @property
    def non_trainable_variables(self):
        return self.variables

    @property
    def trainable_variables(self):
        return []

    trainable_weights = trainable_variables
    non_trainable_weights = non_trainable_variables

    # ------------------------------------------------------------------ protocol
    def reset_state(self):
        """Sets every state variable to zero."""
        for v in self.variables:
            v.assign(np.zeros(shape_of(v), npd(v)))

    reset_states = reset_state

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"Metric {type(self).__name__} must implement "
                                  "update_state().")

    def result(self):
        raise NotImplementedError(f"Metric {type(self).__name__} must implement result().")

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        saved = [v.read_value() for v in self.variables]
        for v, val in zip(self.variables, metric_variables):
            v.assign(val)
        self.update_state(*args, **kwargs)
        new = [to_host(v) for v in self.variables]
        for v, val in zip(self.variables, saved):
            v.assign(val)
        return new

    def stateless_result(self, metric_variables):
        saved = [v.read_value() for v in self.variables]
        for v, val in zip(self.variables, metric_variables):
            v.assign(val)
        r = self.result()
        for v, val in zip(self.variables, saved):
            v.assign(val)
        return r

    def _obj_type(self):
        return "Metric"

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    def __str__(self):
        return self.__repr__()


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Weights `values` by `sample_weight` and reduces all but the first axis."""
    np_dt = dtypes.as_dtype(dtype)._np
    mask = getattr(values, "_keras_mask", None) if isinstance(values, Tensor) else None
    values = to_dtype(values, np_dt)
    if sample_weight is not None:
        sample_weight = to_dtype(sample_weight, np_dt)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, np_dt, "sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        wn, vn = sample_weight.ndim, values.ndim
        if vn > wn:
            values = reduce_fn(values, axis=list(range(wn, vn)))
        if shape_of(sample_weight) != shape_of(values):
            try:
                sample_weight = a.broadcast_to(sample_weight, shape_of(values))
            except Exception:
                raise ValueError(
                    f"sample_weight of shape {tuple(shape_of(sample_weight))} does not "
                    f"match the per-sample values of shape {tuple(shape_of(values))}: "
                    "give one weight per sample.") from None
        values = m.multiply(values, sample_weight)
        if wn > 1:
            sample_weight = reduce_fn(sample_weight, axis=list(range(1, wn)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=list(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, m.reduce_sum,
                                                self.dtype)
        self.total.assign_add(_total(values))

    def reset_state(self):
        self.total.assign(0)

    def result(self):
        return m.cast(self.total, self.dtype) if self.total.dtype != self.dtype else \
            a.identity(self.total)


def _total(values):
    """The sum of `values`; a scalar (the loss tracker's weighted loss) is its own sum, with
    no reduction node in the compiled step."""
    return values if values.ndim == 0 else m.reduce_sum(values)


class Mean(Metric):
    """The (weighted) mean of the values seen: total / count."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight,
                                                            m.reduce_mean, self.dtype)
        self.total.assign_add(_total(values))
        if sample_weight is not None:
            n = m.reduce_sum(sample_weight)
        elif values.ndim >= 1:
            n = shape_of(values)[0]
        else:
            n = 1
        self.count.assign_add(m.cast(n, self.count.dtype) if isinstance(n, Tensor) else
                              np.asarray(n, dtype=npd(self.count)))

    def reset_state(self):
        self.total.assign(0)
        self.count.assign(0)

    def result(self):
        return m.div_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        from tenfold.keras import losses
        if fn in losses.ALL_OBJECTS or type(fn) in losses.ALL_OBJECTS:
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None) if isinstance(y_pred, Tensor) else None
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, dtypes.as_dtype(self.dtype)._np,
                                       "sum")
        return Mean.update_state(self, values, sample_weight=sample_weight)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        if type(self) is MeanMetricWrapper:
            config["fn"] = getattr(self._fn, "__name__", str(self._fn))
        config.update({k: v for k, v in self._fn_kwargs.items()})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is MeanMetricWrapper and "fn" in config:
            from tenfold.keras import metrics
            fn = config.pop("fn")
            return cls(metrics.get(fn) if isinstance(fn, str) else fn, **config)
        return cls(**config)
