"""`keras.random`: random tensors with Keras 3's seeding model.

- `seed=<int>`: stateless, every call with the same seed gives the same numbers.
- `seed=SeedGenerator(...)`: a stream; each call advances the generator's state variable.
- `seed=None`: the global SeedGenerator (reset by `keras.utils.set_random_seed`, which calls
  `_reset_global_seed_generator()` after seeding Python's `random`).

The draws are tenfold's stateless random primitives keyed by the 2-word seed tensor, and a
SeedGenerator advances its state with recorded variable updates, so inside tf.function every
call draws new numbers (nothing is fixed at trace time). Streams are deterministic for a seed
but not bit-identical to TensorFlow's. gamma / binomial / beta (no stateless primitive yet) run
as one recorded host-function node fed the seed tensor.
"""
import random as _python_random

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as _m
from tenfold.ops import array_ops as _a
from tenfold.util.tensor_meta import shape_of
from tenfold.ops import random_ops as _r
from tenfold.framework.host import from_host, to_host

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
        """The current state (a snapshot); then advances it (recorded updates, so a traced
        function advances it on every call)."""
        cur = self.state.read_value()
        if ordered:
            self.state.assign_add(from_host(np.array([0, 1], np.uint32)))
        else:
            nxt = _m.floormod(_m.multiply(_m.add(_m.cast(cur, "int64"), 1), 5387), 933199)
            self.state.assign(_m.cast(nxt, "uint32"))
        return cur

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name}, state={to_host(self.state).tolist()}>"


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
        return from_host(np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.uint32))
    if seed is None:
        return global_seed_generator().next(ordered=False)
    if isinstance(seed, Tensor) and shape_of(seed) == (2,):
        return seed
    raise ValueError("Argument `seed` must be either an integer or an instance of "
                     f"`SeedGenerator`. Received: seed={seed} (of type {type(seed)})")


def _host_draw(seed, draw, dtype, *params):
    """A draw without a stateless primitive (gamma, binomial, beta): one recorded host-function
    node fed the seed (and parameter) tensors, so a traced function draws anew on each call
    from that call's seed."""
    from tenfold.keras.ops._dtypes import tensor
    from tenfold.ops.functional_ops import numpy_function

    def run(seed_array, *values):
        rng = np.random.default_rng([int(x) for x in seed_array.ravel()] + [0x6B657261])
        return np.asarray(draw(rng, *values)).astype(dtype)
    ins = [draw_seed(seed)] + [tensor(p) for p in params]
    return numpy_function(run, ins, np.dtype(dtype).name if np.dtype(dtype).name != "bfloat16"
                          else "bfloat16")


def _shape(shape):
    if isinstance(shape, int):
        return (shape,)
    if isinstance(shape, Tensor):
        return tuple(int(d) for d in to_host(shape))  # a shape must be known when tracing
    return tuple(int(d) for d in shape)


def _num(v):
    return to_host(v) if isinstance(v, Tensor) else v


def _float_dtype(dtype, op):
    dt = _np_dtype(dtype or _floatx())
    if dt.kind != "f" and dt.name != "bfloat16":
        raise ValueError(f"`keras.random.{op}` requires a floating point `dtype`. Received: "
                         f"dtype={np.dtype(dt).name}")
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "normal")
    return _r.stateless_normal(_shape(shape), draw_seed(seed), mean=mean, stddev=stddev,
                               dtype=dt)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "uniform")
    u = _r.stateless_uniform(_shape(shape), draw_seed(seed), dtype=dt)
    lo, hi = _scalar(minval, dt), _scalar(maxval, dt)
    return _m.add(_m.multiply(u, _m.subtract(hi, lo)), lo)


def _scalar(v, dt):
    from tenfold.keras.ops._dtypes import tensor
    return tensor(v, np.dtype(dt).name if np.dtype(dt).name != "bfloat16" else "bfloat16")


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = _float_dtype(dtype, "truncated_normal")
    return _r.stateless_truncated_normal(_shape(shape), draw_seed(seed), mean=mean,
                                         stddev=stddev, dtype=dt)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    dt = _np_dtype(dtype)
    if dt.kind not in "iu":
        raise ValueError(f"`keras.random.randint` requires an integer `dtype`. Received: "
                         f"dtype={dt.name}")
    return _r.stateless_uniform(_shape(shape), draw_seed(seed), minval=int(_num(minval)),
                                maxval=int(_num(maxval)), dtype=dt)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zeroes entries with probability `rate`, scales the rest by 1 / (1 - rate)."""
    from tenfold.keras.ops._dtypes import tensor
    x = tensor(inputs)
    rate = float(_num(rate))
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: `rate` must be in [0, 1), got {rate}")
    shape = shape_of(x) if noise_shape is None else tuple(
        shape_of(x)[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep_prob = 1.0 - rate
    u = _r.stateless_uniform(shape, draw_seed(seed), dtype=np.float64)
    mask = _a.broadcast_to(_m.less(u, keep_prob), shape_of(x))
    scaled = _m.divide(x, keep_prob)
    return _m.where(mask, scaled, _m.zeros_like(scaled))


def shuffle(x, axis=0, seed=None):
    from tenfold.keras.ops._dtypes import tensor
    x = tensor(x)
    n = shape_of(x)[axis]
    keys = _r.stateless_uniform((n,), draw_seed(seed), dtype=np.float64)
    perm = _a.argsort(keys, stable=True)  # a uniformly random permutation
    return _a.gather(x, perm, axis=axis % x.ndim)


def categorical(logits, num_samples, dtype="int32", seed=None):
    from tenfold.keras.ops._dtypes import tensor
    lg = tensor(logits)
    if lg.ndim != 2:
        raise ValueError(f"`logits` should be a 2-D tensor with shape [batch_size, "
                         f"num_classes]. Received: logits={shape_of(lg)}")
    return _r.stateless_categorical(lg, int(num_samples), draw_seed(seed),
                                    dtype=_np_dtype(dtype))


def gamma(shape, alpha, dtype=None, seed=None):
    dt = _float_dtype(dtype, "gamma")
    size = _shape(shape)
    return _host_draw(seed, lambda rng, a: rng.gamma(a, size=size), dt, alpha)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    dt = _np_dtype(dtype or _floatx())
    size = _shape(shape)
    return _host_draw(seed, lambda rng, n, p: rng.binomial(np.asarray(n).astype(np.int64), p,
                                                           size=size), dt, counts, probabilities)


def beta(shape, alpha, beta, dtype=None, seed=None):
    dt = _float_dtype(dtype, "beta")
    size = _shape(shape)
    return _host_draw(seed, lambda rng, a, b: rng.beta(a, b, size=size), dt, alpha, beta)


