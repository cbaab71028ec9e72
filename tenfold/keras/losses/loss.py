"""The `Loss` base class and the reduction helpers shared by losses and metrics."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.variable import Variable
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.util import nest
from tenfold.util.tensor_meta import npd, shape_of, size_of
from tenfold.framework.host import from_host

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                         f"{set(_REDUCTIONS)}. Received: reduction={reduction}")
    return reduction


def to_dtype(x, np_dtype):
    """`x` as a Tensor of NumPy dtype `np_dtype` (differentiable cast for float tensors)."""
    if isinstance(x, Tensor):
        if isinstance(x, Variable):
            from tenfold.ops._convert import read_variable
            x = read_variable(x)
        if npd(x) == np_dtype:
            return x
        return m.cast(x, np_dtype)
    if hasattr(x, "__tf_tensor__") or hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = convert_to_tensor(x)
        return to_dtype(x, np_dtype)
    return from_host(np.asarray(x).astype(np_dtype, copy=False))


def to_tensor(x):
    """Keras's `convert_to_tensor`: tensors as they are, NumPy arrays keep their dtype,
    Python floats become float32."""
    if isinstance(x, Tensor):
        if isinstance(x, Variable):
            from tenfold.ops._convert import read_variable
            return read_variable(x)
        return x
    return convert_to_tensor(x)


def float_tensor(x):
    """A floating tensor: integer / bool inputs are cast to float32 (floatx)."""
    t = to_tensor(x)
    k = npd(t).kind
    if k in "iub":
        from tenfold.keras import backend
        return m.cast(t, dtypes.as_dtype(backend.floatx())._np)
    return t


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Squeezes (or expands) a trailing size-1 axis so that x1 and x2 have the same rank."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = a.expand_dims(x2, -1)
        else:
            x1 = a.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = a.expand_dims(x1, -1)
        else:
            x2 = a.squeeze(x2, -1)
    return x1, x2


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    shape = shape_of(values)
    if reduction is None or reduction == "none" or shape == () or shape == (0,):
        return values
    loss = m.reduce_sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = m.reduce_sum(sample_weight)
            if npd(divisor) != npd(loss):
                divisor = m.cast(divisor, npd(loss))
            return m.div_no_nan(loss, divisor)
        n = size_of(values)
        if n == 0:
            return m.multiply(loss, 0.0)
        loss = m._div(loss, from_host(np.asarray(n, dtype=npd(loss))))
    return loss


def apply_mask(sample_weight, mask, dtype, reduction):
    if mask is None:
        return sample_weight
    mask = to_dtype(mask, np.bool_) if not isinstance(mask, Tensor) or \
        npd(mask) != np.bool_ else mask
    fm = m.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        # rescale so that dividing by the full size averages over the valid entries only
        total = from_host(np.asarray(size_of(mask), dtype=npd(fm)))
        fm = m.multiply(fm, m.div_no_nan(total, m.reduce_sum(fm)))
    if sample_weight is not None:
        sample_weight = to_dtype(sample_weight, dtype)
        fm, sample_weight = squeeze_or_expand_to_same_rank(fm, sample_weight)
        return m.multiply(sample_weight, fm)
    return fm


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    """Weights per-sample `values` by `sample_weight` (and `mask`), then reduces them."""
    reduction = standardize_reduction(reduction)
    dt = np.dtype(dtypes.as_dtype(dtype)._np) if dtype is not None else None
    values = to_dtype(values, dt) if dt is not None else to_tensor(values)
    dt = npd(values)
    if sample_weight is not None:
        sample_weight = to_dtype(sample_weight, dt)
    sample_weight = apply_mask(sample_weight, mask, dt, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        try:
            values = m.multiply(values, sample_weight)
        except Exception:
            raise ValueError(
                f"sample_weight of shape {tuple(shape_of(sample_weight))} cannot be applied "
                f"to per-sample losses of shape {tuple(shape_of(values))}: give one weight "
                "per sample, shaped (batch_size,) or like the per-sample losses.") from None
    return reduce_values(values, sample_weight, reduction)


def _auto_name(cls_name):
    from tenfold.keras.layers.layer import unique_name, to_snake_case
    return unique_name(to_snake_case(cls_name))


class Loss:
    """Base class of losses: `loss(y_true, y_pred, sample_weight=None)` gives the reduced loss.

    Subclasses implement `call(y_true, y_pred)` returning per-sample losses. The computation
    runs in `dtype` (default floatx, float32), also under a mixed-precision policy.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        if dtype is None:
            from tenfold.keras import backend
            dtype = backend.floatx()
        if hasattr(dtype, "compute_dtype"):  # a DTypePolicy
            dtype = dtype.compute_dtype
        elif isinstance(dtype, dict):
            dtype = dtype.get("config", dtype).get("name", "float32")
        if isinstance(dtype, str) and dtype.startswith("mixed_"):
            dtype = "float16" if "float16" in dtype and "bfloat" not in dtype else "bfloat16"
        self._dtype = dtypes.as_dtype(dtype).name
        self._np_dtype = dtypes.as_dtype(dtype)._np

    @property
    def dtype(self):
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, "_keras_mask", None) if isinstance(y_pred, Tensor) else None
        dt = self._np_dtype
        if isinstance(y_pred, (list, tuple, dict)) and _is_structure_of_tensors(y_pred):
            y_pred = nest.map_structure(lambda x: to_dtype(x, dt), y_pred)
            y_true = nest.map_structure(lambda x: to_dtype(x, dt), y_true)
        else:
            y_pred = to_dtype(y_pred, dt)
            y_true = to_dtype(y_true, dt)
        losses = self.call(y_true, y_pred)
        out_mask = getattr(losses, "_keras_mask", None) if isinstance(losses, Tensor) else None
        if in_mask is not None and out_mask is not None:
            mask = m.logical_and(to_dtype(in_mask, np.bool_), to_dtype(out_mask, np.bool_))
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask,
                                      reduction=self.reduction, dtype=self._dtype)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"Loss {type(self).__name__} must implement "
                                  "call(y_true, y_pred).")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None) if isinstance(config.get("dtype"), dict) else None
        return cls(**config)

    def _obj_type(self):
        return "Loss"

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, reduction={self.reduction}>"


def _is_structure_of_tensors(x):
    if isinstance(x, dict):
        return True
    return bool(x) and all(isinstance(e, (Tensor, np.ndarray)) for e in x)
