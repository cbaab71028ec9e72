"""`keras.random`: random tensors with Keras 3's seeding model.

- `seed=<int>`: stateless, every call with the same seed gives the same numbers.
- `seed=SeedGenerator(...)`: a stream; each call advances the generator's state variable.
- `seed=None`: the global SeedGenerator (reset by `keras.utils.set_random_seed`, which calls
  `_reset_global_seed_generator()` after seeding Python's `random`).

Numbers come from NumPy's default generator (PCG64) keyed by the 2-word seed state, so
streams are deterministic for a seed but are not bit-identical to TensorFlow's.
"""
import random as _python_random

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as _m
from tenfold.ops import array_ops as _a

_wrap = Tensor._wrap
_GLOBAL = [None]


def _floatx():
    from tenfold.keras import backend
    return backend.floatx()


def _np_dtype(dtype):
    from tenfold.keras.ops._dtypes import standardize_dtype, np_dtype
    return np_dtype(standardize_dtype(dtype))


def make_default_seed():
    return _python_random.randint(1, int(1e9))


class SeedGenerator:
    """A random stream whose state (`[seed, counter]`, uint32) lives in a variable.

    >>> gen = keras.random.SeedGenerator(42)
    >>> a = keras.random.normal((2,), seed=gen); b = keras.random.normal((2,), seed=gen)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        kwargs.pop("backend", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        if name is None:
            from tenfold.keras.layers.layer import unique_name
            name = unique_name("seed_generator")
        self.name = name
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        from tenfold.keras.variables import Variable
        self.state = Variable(np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.uint32),
                              trainable=False, name="seed_generator_state", dtype="uint32")
        self.state.path = f"{name}/seed_generator_state"

    def next(self, ordered=True):
        """The current state (a copy); then advances it."""
        cur = self.state._value.copy()
        if ordered:
            self.state._value[1] += np.uint32(1)
        else:
            v = (cur.astype(np.uint64) + 1) * 5387 % 933199
            self.state._value[...] = v.astype(np.uint32)
        return _wrap(cur)

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name}, state={self.state._value.tolist()}>"


def global_seed_generator():
    gen = _GLOBAL[0]
    if gen is None:
        gen = _GLOBAL[0] = SeedGenerator(name="global_seed_generator")
    return gen


def _reset_global_seed_generator(seed=None):
    """Resets the global generator (`keras.utils.set_random_seed` calls this): to one seeded
    with `seed`, or, without a seed, to a new one drawn from Python's `random` at the next
    unseeded call."""
    _GLOBAL[0] = None if seed is None else SeedGenerator(int(seed),
                                                         name="global_seed_generator")


def draw_seed(seed):
    """The 2-word seed tensor for one draw."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return _wrap(np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.uint32))
    if seed is None:
        return global_seed_generator().next(ordered=False)
    if isinstance(seed, Tensor) and seed._value.shape == (2,):
        return seed
    raise ValueError("Argument `seed` must be either an integer or an instance of "
                     f"`SeedGenerator`. Received: seed={seed} (of type {type(seed)})")


def _rng(seed):
    s = draw_seed(seed)._value
    return np.random.default_rng([int(x) for x in s.ravel()] + [0x6B657261])


def _shape(shape):
    if isinstance(shape, int):
        return (shape,)
    if isinstance(shape, Tensor):
        return tuple(int(d) for d in shape.numpy())
    return tuple(int(d) for d in shape)


def _num(v):
    return v._value if isinstance(v, Tensor) else v


def _float_dtype(dtype, op):
    dt = _np_dtype(dtype or _floatx())
    if dt.kind != "f" and dt.name != "bfloat16":
        raise ValueError(f"`keras.random.{op}` requires a floating point `dtype`. Received: "
                         f"dtype={np.dtype(dt).name}")
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "normal")
    v = _rng(seed).standard_normal(_shape(shape))
    return _wrap((v * _num(stddev) + _num(mean)).astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "uniform")
    lo, hi = _num(minval), _num(maxval)
    v = _rng(seed).random(_shape(shape))
    return _wrap((v * (hi - lo) + lo).astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "truncated_normal")
    gen = _rng(seed)
    v = gen.standard_normal(_shape(shape))
    bad = np.abs(v) > 2
    while bad.any():
        v[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(v) > 2
    return _wrap((v * _num(stddev) + _num(mean)).astype(dt))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    dt = _np_dtype(dtype)
    if dt.kind not in "iu":
        raise ValueError(f"`keras.random.randint` requires an integer `dtype`. Received: "
                         f"dtype={dt.name}")
    v = _rng(seed).integers(int(_num(minval)), int(_num(maxval)), size=_shape(shape))
    return _wrap(v.astype(dt))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zeroes entries with probability `rate`, scales the rest by 1 / (1 - rate)."""
    from tenfold.keras.ops._dtypes import tensor
    x = tensor(inputs)
    rate = float(_num(rate))
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: `rate` must be in [0, 1), got {rate}")
    shape = x._value.shape if noise_shape is None else tuple(
        x._value.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep_prob = 1.0 - rate
    mask = _rng(seed).random(shape) < keep_prob
    mask = np.broadcast_to(mask, x._value.shape)
    scaled = _m.divide(x, keep_prob)
    return _m.where(_wrap(mask), scaled, _m.zeros_like(scaled))


def shuffle(x, axis=0, seed=None):
    from tenfold.keras.ops._dtypes import tensor
    x = tensor(x)
    n = x._value.shape[axis]
    perm = _rng(seed).permutation(n)
    return _a.gather(x, _wrap(perm.astype(np.int64)), axis=axis % x._value.ndim)


def categorical(logits, num_samples, dtype="int32", seed=None):
    from tenfold.keras.ops._dtypes import tensor
    lg = tensor(logits)._value.astype(np.float64)
    if lg.ndim != 2:
        raise ValueError(f"`logits` should be a 2-D tensor with shape [batch_size, "
                         f"num_classes]. Received: logits={lg.shape}")
    u = _rng(seed).random((lg.shape[0], int(num_samples), lg.shape[1]))
    gumbel = -np.log(-np.log(np.clip(u, 1e-20, 1.0)))
    return _wrap(np.argmax(lg[:, None, :] + gumbel, axis=-1).astype(_np_dtype(dtype)))


def gamma(shape, alpha, dtype=None, seed=None):
    dt = _float_dtype(dtype, "gamma")
    return _wrap(_rng(seed).gamma(np.asarray(_num(alpha)), size=_shape(shape)).astype(dt))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    dt = _np_dtype(dtype or _floatx())
    v = _rng(seed).binomial(np.asarray(_num(counts)).astype(np.int64),
                            np.asarray(_num(probabilities)), size=_shape(shape))
    return _wrap(v.astype(dt))


def beta(shape, alpha, beta, dtype=None, seed=None):
    dt = _float_dtype(dtype, "beta")
    v = _rng(seed).beta(np.asarray(_num(alpha)), np.asarray(_num(beta)), size=_shape(shape))
    return _wrap(v.astype(dt))
