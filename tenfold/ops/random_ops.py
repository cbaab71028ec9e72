"""Random numbers with TensorFlow's seeding model (`tf.random`).

A global seed (`set_seed`) plus an op seed give a reproducible stream: the same program run
twice with the same seeds draws the same numbers. With a global seed but no op seed, each op
call takes the next value of a counter, so successive calls differ but the sequence repeats.
"""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops._convert import tensor

_wrap = Tensor._wrap

_state = {"global_seed": None, "counter": 0, "op_counters": {}}
_unseeded = np.random.default_rng()


def set_seed(seed):
    """Sets the global random seed (`tf.random.set_seed`); resets the per-op counters."""
    _state["global_seed"] = None if seed is None else int(seed)
    _state["counter"] = 0
    _state["op_counters"] = {}


def get_global_seed():
    return _state["global_seed"]


def _generator(seed):
    """A NumPy Generator for one op call, following TensorFlow's global/op seed rules."""
    g = _state["global_seed"]
    if g is None and seed is None:
        return _unseeded
    if seed is None:
        _state["counter"] += 1
        return np.random.default_rng([g, _state["counter"], 0x5EED])
    if g is None:
        g = 87654321  # TensorFlow's default global seed when only the op seed is given
    key = (g, int(seed))
    n = _state["op_counters"].get(key, 0)
    _state["op_counters"][key] = n + 1
    return np.random.default_rng([g, int(seed), n])


def _shape(shape):
    from tenfold.ops.array_ops import _ints
    return _ints(shape, "shape")


def _float_dtype(dtype, op):
    d = dtypes.as_dtype(dtype)
    if not d.is_floating:
        raise ValueError(f"{op}: dtype must be a floating type, got {d.name}")
    return d


def _stateless_gen(seed):
    s = np.asarray(seed.numpy() if isinstance(seed, Tensor) else seed).ravel().tolist()
    return np.random.default_rng([int(v) & 0xFFFFFFFF for v in s] + [0x57A7E1E55])


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None, rng=None):
    d = _float_dtype(dtype, "random.normal")
    gen = rng if rng is not None else _generator(seed)
    v = gen.standard_normal(_shape(shape), dtype=np.float64 if d == dtypes.float64 else
                            np.float32)
    return _wrap((v * _num(stddev) + _num(mean)).astype(d._np, copy=False))


def _num(v):
    return v.numpy() if isinstance(v, Tensor) else v


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None, rng=None):
    d = dtypes.as_dtype(dtype)
    gen = rng if rng is not None else _generator(seed)
    shape = _shape(shape)
    if d.is_integer:
        if maxval is None:
            raise ValueError("random.uniform: maxval must be given for integer dtypes")
        lo, hi = int(_num(minval)), int(_num(maxval))
        if lo >= hi:
            raise InvalidArgumentError(f"random.uniform: need minval < maxval, got {lo} >= {hi}")
        return _wrap(gen.integers(lo, hi, size=shape).astype(d._np))
    if maxval is None:
        maxval = 1
    v = gen.random(shape, dtype=np.float64 if d == dtypes.float64 else np.float32)
    lo, hi = _num(minval), _num(maxval)
    return _wrap((v * (hi - lo) + lo).astype(d._np, copy=False))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None,
                     rng=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    d = _float_dtype(dtype, "random.truncated_normal")
    gen = rng if rng is not None else _generator(seed)
    shape = _shape(shape)
    v = gen.standard_normal(shape)
    bad = np.abs(v) > 2
    while bad.any():
        v[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(v) > 2
    return _wrap((v * _num(stddev) + _num(mean)).astype(d._np))


def shuffle(value, seed=None, name=None):
    x = tensor(value)
    gen = _generator(seed)
    if x._value.ndim == 0:
        return x
    return _wrap(x._value[gen.permutation(x._value.shape[0])])


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    lg = tensor(logits)._value.astype(np.float64)
    if lg.ndim != 2:
        raise InvalidArgumentError(f"random.categorical: logits must be 2-D [batch, classes], "
                                   f"got shape {list(lg.shape)}")
    gen = _generator(seed)
    gumbel = -np.log(-np.log(gen.random((lg.shape[0], int(num_samples), lg.shape[1]))))
    out = np.argmax(lg[:, None, :] + gumbel, axis=-1)
    return _wrap(out.astype(dtypes.as_dtype(dtype or dtypes.int64)._np))


def gamma(shape, alpha, beta=None, dtype=dtypes.float32, seed=None, name=None):
    gen = _generator(seed)
    al = np.asarray(_num(alpha))
    b = 1.0 if beta is None else np.asarray(_num(beta))
    out = gen.gamma(al, size=_shape(shape) + al.shape) / b
    return _wrap(out.astype(dtypes.as_dtype(dtype)._np))


def poisson(shape, lam, dtype=dtypes.float32, seed=None, name=None):
    gen = _generator(seed)
    lam = np.asarray(_num(lam))
    return _wrap(gen.poisson(lam, size=_shape(shape) + lam.shape).astype(dtypes.as_dtype(dtype)._np))


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None, alg=None):
    return normal(shape, mean, stddev, dtype, rng=_stateless_gen(seed))


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32, name=None,
                      alg=None):
    return uniform(shape, minval, maxval, dtype, rng=_stateless_gen(seed))


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32,
                               name=None, alg=None):
    return truncated_normal(shape, mean, stddev, dtype, rng=_stateless_gen(seed))


class Generator:
    """`tf.random.Generator`: an explicit random stream."""

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_seed(cls, seed, alg=None):
        return cls(seed)

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        return cls(None)

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        return normal(shape, mean, stddev, dtype, rng=self._rng)

    def uniform(self, shape, minval=0, maxval=None, dtype=dtypes.float32, name=None):
        return uniform(shape, minval, maxval, dtype, rng=self._rng)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        return truncated_normal(shape, mean, stddev, dtype, rng=self._rng)
