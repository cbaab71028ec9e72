"""Random numbers with TensorFlow's seeding model (`tf.random`).

TensorFlow's rules, for an op called with op seed `seed` under global seed `g` (`set_seed`):
- neither set: fresh, non-reproducible numbers;
- only `g`: each call takes the next op seed from a counter, so successive calls differ but the
  whole sequence repeats after `set_seed(g)` again;
- only `seed`: a default global seed is used with it;
- both: the pair (g, seed) picks a stream. Calling the same op again with the same seeds
  continues that stream (different numbers, reproducible); `set_seed` restarts every stream.
Stateless ops (`stateless_normal(shape, seed=[a, b])`) give the same numbers for the same seed.

Every draw is a primitive whose kernel picks its generator when it runs, so a traced graph
that replays it draws new numbers each time, as TensorFlow's stateful random ops do.
"""
import numpy as np

from tenfold.backend import row_kernels as _rows
from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive, INTEGER_VALUED
from tenfold.ops._convert import tensor

_wrap = Tensor._wrap

_DEFAULT_GLOBAL_SEED = 87654321  # used when only an op seed is given
_state = {"global_seed": None, "counter": 0, "op_counters": {}, "unseeded": None,
          "global_generator": None}


def set_seed(seed):
    """Sets the global random seed (`tf.random.set_seed`); restarts every seeded stream."""
    _state["global_seed"] = None if seed is None else int(seed)
    _state["counter"] = 0
    _state["op_counters"] = {}
    _state["global_generator"] = None


def get_global_seed():
    return _state["global_seed"]


def _unseeded():
    g = _state["unseeded"]
    if g is None:
        g = _state["unseeded"] = np.random.default_rng()
    return g


def _generator(seed, key=None):
    """A NumPy Generator for one op call, following TensorFlow's global/op seed rules.
    `key` (op kind, dtype) separates the streams of different ops given the same op seed."""
    g = _state["global_seed"]
    if g is None and seed is None:
        return _unseeded()
    if seed is None:
        _state["counter"] += 1
        return np.random.default_rng([g & 0xFFFFFFFF, _state["counter"], 0x5EED])
    if g is None:
        g = _DEFAULT_GLOBAL_SEED
    seed = int(seed)
    k = (g, seed, key)
    n = _state["op_counters"].get(k, 0)
    _state["op_counters"][k] = n + 1
    salt = sum(ord(c) * 31 ** i for i, c in enumerate(str(key))) & 0xFFFFFFFF if key else 0
    return np.random.default_rng([g & 0xFFFFFFFF, seed & 0xFFFFFFFF, n, salt])


def _stateless_gen(seed):
    s = np.asarray(seed).ravel()
    if s.size != 2 or s.dtype.kind not in "iu":
        raise InvalidArgumentError(f"stateless random ops need an integer seed of shape [2], "
                                   f"got {s.tolist()!r}")
    return np.random.default_rng([int(v) & 0xFFFFFFFFFFFFFFFF for v in s] + [0x57A7E1E55])


def _shape(shape, dtype=None, op="random ops"):
    from tenfold.ops.array_ops import _ints
    from tenfold.ops import _checks
    s = _ints(shape, f"{op}'s shape")
    if any(d < 0 for d in s):
        raise InvalidArgumentError(f"{op}: shape {list(s)} has a negative dimension")
    _checks.check_alloc(op, s, dtypes.as_dtype(dtype or "float32")._np)
    return s


def _float_dtype(dtype, op):
    d = dtypes.as_dtype(dtype)
    if not d.is_floating:
        raise ValueError(f"{op}: dtype must be a floating type (float16, bfloat16, float32, "
                         f"float64), got {d.name}")
    return d


def _work(np_dtype):
    return np.float64 if np_dtype == np.float64 else np.float32


def _pick(seed, gen, kind, dtype):
    if gen is not None:
        return gen._rng
    return _generator(seed, (kind, np.dtype(dtype).name))


def _normal_kernel(shape, dtype, seed=None, gen=None):
    rng = _pick(seed, gen, "normal", dtype)
    return rng.standard_normal(shape, dtype=_work(dtype)).astype(dtype, copy=False)


def _uniform_kernel(shape, dtype, seed=None, gen=None):
    rng = _pick(seed, gen, "uniform", dtype)
    return rng.random(shape, dtype=_work(dtype)).astype(dtype, copy=False)


def _uniform_int_kernel(shape, dtype, lo, hi, seed=None, gen=None):
    rng = _pick(seed, gen, "uniform_int", dtype)
    return rng.integers(lo, hi, size=shape, dtype=np.int64).astype(dtype, copy=False)


_GOLDEN, _MIX1, _MIX2 = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9),
                         np.uint64(0x94D049BB133111EB))


def _splitmix_draws(key, n, per):
    """n draws of 64 / per bits (per = 4 or 2): SplitMix64's stream from the state `key`,
    each output split into `per` draws, lowest bits first (rows.c's dropout_mask computes
    the same)."""
    words = -(-n // per)
    z = np.uint64(key) + (np.arange(1, words + 1, dtype=np.uint64) * _GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    return z.astype("<u8").view("<u2" if per == 4 else "<u4")[:n]


def _dropout_mask_kernel(shape, dtype, rate, seed=None, gen=None):
    """Dropout's scaled keep mask: 1 / (1 - rate) with probability 1 - rate, else 0. Each
    element's random draw is compared with a threshold; the draws are SplitMix64's stream
    from a state taken from the generator (one 64-bit draw of it per mask), computed in the
    same pass as the mask (rows.c: counter-based, so it vectorizes; a (64, 64, 32) float32
    mask 143 -> 56 us, the C pass 30 us of it, against the generator's bits then a pass). 16-bit draws when rounding
    rate to a multiple of 2**-16 moves it (and 1 - rate) by at most 0.1% (every rate between
    about 0.008 and 0.992; the drop probability is then off by at most 2**-17), else 32."""
    rng = _pick(seed, gen, "dropout", dtype)
    key = int(rng.bit_generator.random_raw())
    n = int(np.prod(shape, dtype=np.int64))
    t16 = rate * 65536.0
    if 0 < round(t16) < 65536 and abs(round(t16) - t16) <= 1e-3 * min(rate, 1 - rate) * 65536:
        per, thr = 4, round(t16)
    else:
        per, thr = 2, min(round(rate * 2.0 ** 32), 2 ** 32 - 1)
    ct = np.dtype(_work(dtype))
    scale = ct.type(1.0 / (1.0 - rate))
    out = np.empty(shape, ct)
    if _rows.dropout_mask(out, key, per, thr, scale):  # native: the draws and the mask at once
        return out.astype(dtype, copy=False)
    draws = _splitmix_draws(key, n, per).reshape(shape)
    return np.multiply(draws >= thr, scale, dtype=ct).astype(dtype, copy=False)


def _truncated(rng, shape, dtype):
    v = rng.standard_normal(shape)
    bad = np.abs(v) > 2
    while bad.any():
        v[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(v) > 2
    return v.astype(dtype)


def _truncated_kernel(shape, dtype, seed=None, gen=None):
    return _truncated(_pick(seed, gen, "truncated_normal", dtype), shape, dtype)


def _shuffle_kernel(x, seed=None, gen=None):
    rng = _pick(seed, gen, "shuffle", x.dtype)
    return x[rng.permutation(x.shape[0])] if x.ndim else x.copy()


def _gumbel_argmax(rng, logits, num_samples, dtype):
    lg = logits.astype(np.float64)
    u = rng.random((lg.shape[0], num_samples, lg.shape[1]))
    gumbel = -np.log(-np.log(np.maximum(u, np.finfo(np.float64).tiny)))
    return np.argmax(lg[:, None, :] + gumbel, axis=-1).astype(dtype)


def _categorical_kernel(logits, num_samples, dtype, seed=None, gen=None):
    return _gumbel_argmax(_pick(seed, gen, "categorical", dtype), logits, num_samples, dtype)


def _gamma_kernel(alpha, beta, shape, dtype, seed=None, gen=None):
    rng = _pick(seed, gen, "gamma", dtype)
    out = rng.gamma(alpha, size=tuple(shape) + np.broadcast_shapes(alpha.shape, beta.shape))
    return (out / beta).astype(dtype)


def _poisson_kernel(lam, shape, dtype, seed=None, gen=None):
    rng = _pick(seed, gen, "poisson", dtype)
    return rng.poisson(lam, size=tuple(shape) + lam.shape).astype(dtype)


def _binomial_kernel(counts, probs, shape, dtype, seed=None, gen=None):
    rng = _pick(seed, gen, "binomial", dtype)
    return rng.binomial(counts.astype(np.int64), probs, size=shape).astype(dtype)


_random_normal = primitive("random_standard_normal", _normal_kernel, aliasing="fresh", stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_random_uniform = primitive("random_uniform", _uniform_kernel, aliasing="fresh", stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_random_uniform_int = primitive("random_uniform_int", _uniform_int_kernel, stateful=True, no_grad=INTEGER_VALUED)
_dropout_mask = primitive("dropout_mask", _dropout_mask_kernel, stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_truncated_normal = primitive("truncated_normal", _truncated_kernel, aliasing="fresh", stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_random_shuffle = primitive("random_shuffle", _shuffle_kernel, stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_multinomial = primitive("multinomial", _categorical_kernel, stateful=True, no_grad=INTEGER_VALUED)
_random_gamma = primitive("random_gamma", _gamma_kernel, stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_random_poisson = primitive("random_poisson", _poisson_kernel, stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")
_random_binomial = primitive("random_binomial", _binomial_kernel, stateful=True, no_grad="a random draw (no gradient, as in TensorFlow)")

# stateless: the seed is an input, the same seed gives the same numbers
_stateless_normal = primitive(
    "stateless_random_normal", lambda seed, shape, dtype: _stateless_gen(seed).standard_normal(
        shape, dtype=_work(dtype)).astype(dtype, copy=False), no_grad="a random draw (no gradient, as in TensorFlow)")
_stateless_uniform = primitive(
    "stateless_random_uniform", lambda seed, shape, dtype: _stateless_gen(seed).random(
        shape, dtype=_work(dtype)).astype(dtype, copy=False), no_grad="a random draw (no gradient, as in TensorFlow)")
_stateless_uniform_int = primitive(
    "stateless_random_uniform_int", lambda seed, shape, dtype, lo, hi: _stateless_gen(
        seed).integers(lo, hi, size=shape, dtype=np.int64).astype(dtype, copy=False), no_grad=INTEGER_VALUED)
_stateless_truncated = primitive(
    "stateless_truncated_normal",
    lambda seed, shape, dtype: _truncated(_stateless_gen(seed), shape, dtype), no_grad="a random draw (no gradient, as in TensorFlow)")
_stateless_categorical = primitive(
    "stateless_multinomial", lambda seed, logits, num_samples, dtype: _gumbel_argmax(
        _stateless_gen(seed), logits, num_samples, dtype), no_grad=INTEGER_VALUED)


def _scale_shift(v, scale, shift, default_scale, default_shift):
    """v * scale + shift with tenfold ops (so tensors for mean/stddev get gradients)."""
    from tenfold.ops import math_ops as m
    if not (isinstance(scale, (int, float)) and scale == default_scale):
        v = m.multiply(v, scale)
    if not (isinstance(shift, (int, float)) and shift == default_shift):
        v = m.add(v, shift)
    return v


def _seed_tensor(seed):
    s = tensor(seed)
    if s._value.shape != (2,) or s._value.dtype.kind not in "iu":
        raise InvalidArgumentError(f"stateless random ops need an integer seed of shape [2], "
                                   f"got {s.dtype.name}{list(s._value.shape)}")
    return s


class _RngBox:
    """Lets a NumPy Generator stand in for a tf.random.Generator (`rng=` arguments)."""
    __slots__ = ("_rng",)

    def __init__(self, rng):
        self._rng = rng


def _gen(gen, rng, op="random ops"):
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{op}: rng must be a numpy.random.Generator, got "
                            f"{type(rng).__name__}")
        return _RngBox(rng)
    if gen is not None and not isinstance(getattr(gen, "_rng", None), np.random.Generator):
        raise TypeError(f"{op}: gen must be a tf.random.Generator, got "
                        f"{type(gen).__name__}")
    return gen


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None, gen=None,
           rng=None):
    """Samples from N(mean, stddev**2). `rng`: an explicit NumPy Generator (internal use)."""
    gen = _gen(gen, rng, "random.normal")
    d = _float_dtype(dtype, "random.normal")
    v = _random_normal(shape=_shape(shape, dtype, "random.normal"), dtype=d._np, seed=seed, gen=gen)
    return _scale_shift(v, stddev, mean, 1.0, 0.0)


def dropout_mask(shape, dtype, rate, seed=None):
    """Internal (tf.nn.dropout, Keras Dropout): the scaled keep mask, see _dropout_mask_kernel."""
    return _dropout_mask(shape=tuple(int(d) for d in shape), dtype=dtypes.as_dtype(dtype)._np,
                         rate=float(rate), seed=seed)


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None, gen=None,
            rng=None):
    """Samples from [minval, maxval) (maxval defaults to 1 for floats; required for ints)."""
    gen = _gen(gen, rng, "random.uniform")
    d = dtypes.as_dtype(dtype)
    shape = _shape(shape, dtype, "random.uniform")
    if d.is_integer:
        if maxval is None:
            raise ValueError("random.uniform: must specify maxval for integer dtype "
                             f"{d.name}")
        lo, hi = int(_num(minval)), int(_num(maxval))
        info = np.iinfo(d._np)
        for what, v in (("minval", lo), ("maxval", hi)):
            if not info.min <= v <= info.max:  # as TensorFlow: never a wrapped-around bound
                raise TypeError(f"random.uniform: {what}={v} does not fit in {d.name} "
                                f"[{info.min}, {info.max}]; use dtype=tf.int64")
        if lo >= hi:
            raise InvalidArgumentError(f"random.uniform: need minval < maxval, got {lo} >= {hi}")
        return _random_uniform_int(shape=shape, dtype=d._np, lo=lo, hi=hi, seed=seed, gen=gen)
    if not d.is_floating:
        raise ValueError(f"random.uniform: dtype must be floating or integer, got {d.name}")
    if maxval is None:
        maxval = 1.0
    u = _random_uniform(shape=shape, dtype=d._np, seed=seed, gen=gen)
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)):
        if minval == 0 and maxval == 1:
            return u
    from tenfold.ops import math_ops as m
    return m.add(m.multiply(u, m.subtract(maxval, minval) if not isinstance(maxval, (int, float))
                            or not isinstance(minval, (int, float))
                            else float(maxval) - float(minval)), minval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None,
                     gen=None, rng=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    gen = _gen(gen, rng, "random.truncated_normal")
    d = _float_dtype(dtype, "random.truncated_normal")
    v = _truncated_normal(shape=_shape(shape, dtype, "random.truncated_normal"),
                          dtype=d._np, seed=seed, gen=gen)
    return _scale_shift(v, stddev, mean, 1.0, 0.0)


def _num(v):
    return v.numpy() if isinstance(v, Tensor) else v


def shuffle(value, seed=None, name=None):
    """A random permutation of value along its first axis."""
    return _random_shuffle(tensor(value), seed=seed, gen=None)


def categorical(logits, num_samples, dtype=None, seed=None, name=None, gen=None):
    """Samples class indices from unnormalized log-probabilities; [batch, num_samples] int64."""
    lg = tensor(logits)
    if lg._value.ndim != 2:
        raise InvalidArgumentError(f"random.categorical: logits must be 2-D [batch, classes], "
                                   f"got shape {list(lg._value.shape)}")
    dt = dtypes.as_dtype(dtype or dtypes.int64)
    if gen is not None and not isinstance(gen, Generator):
        raise TypeError(f"random.categorical: gen must be a tf.random.Generator or None, got "
                        f"{type(gen).__name__}")
    return _multinomial(lg, num_samples=int(num_samples), dtype=dt._np, seed=seed, gen=gen)


multinomial = categorical


def gamma(shape, alpha, beta=None, dtype=dtypes.float32, seed=None, name=None):
    d = _float_dtype(dtype, "random.gamma")
    try:
        al = tensor(alpha) if isinstance(alpha, Tensor) else _wrap(np.asarray(alpha, d._np))
        be = _wrap(np.asarray(1.0 if beta is None else _num(beta), d._np))
    except (TypeError, ValueError) as e:
        raise type(e)(f"random.gamma: alpha and beta must be numbers or numeric tensors: "
                      f"{e}") from None
    return _random_gamma(al, be, shape=_shape(shape, dtype, "random.gamma"),
                         dtype=d._np, seed=seed, gen=None)


def poisson(shape, lam, dtype=dtypes.float32, seed=None, name=None):
    lam_t = tensor(lam) if isinstance(lam, Tensor) else _wrap(np.asarray(lam, np.float64))
    return _random_poisson(lam_t, shape=_shape(shape, dtype, "random.poisson"),
                           dtype=dtypes.as_dtype(dtype)._np,
                           seed=seed, gen=None)


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None,
                     alg=None):
    d = _float_dtype(dtype, "random.stateless_normal")
    v = _stateless_normal(_seed_tensor(seed),
                          shape=_shape(shape, dtype, "random.stateless_normal"), dtype=d._np)
    return _scale_shift(v, stddev, mean, 1.0, 0.0)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32, name=None,
                      alg=None):
    d = dtypes.as_dtype(dtype)
    s = _seed_tensor(seed)
    shape = _shape(shape, dtype, "random.stateless_uniform")
    if d.is_integer:
        if maxval is None:
            raise ValueError("random.stateless_uniform: must specify maxval for integer dtype")
        return _stateless_uniform_int(s, shape=shape, dtype=d._np, lo=int(_num(minval)),
                                      hi=int(_num(maxval)))
    u = _stateless_uniform(s, shape=shape, dtype=d._np)
    maxval = 1.0 if maxval is None else maxval
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)) and \
            minval == 0 and maxval == 1:
        return u
    from tenfold.ops import math_ops as m
    return m.add(m.multiply(u, m.subtract(maxval, minval)), minval)


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32,
                               name=None, alg=None):
    d = _float_dtype(dtype, "random.stateless_truncated_normal")
    v = _stateless_truncated(_seed_tensor(seed),
                             shape=_shape(shape, dtype, "random.stateless_truncated_normal"),
                             dtype=d._np)
    return _scale_shift(v, stddev, mean, 1.0, 0.0)


def stateless_categorical(logits, num_samples, seed, dtype=dtypes.int64, name=None):
    lg = tensor(logits)
    if lg._value.ndim != 2:
        raise InvalidArgumentError(f"random.stateless_categorical: logits must be 2-D, got "
                                   f"shape {list(lg._value.shape)}")
    return _stateless_categorical(_seed_tensor(seed), lg, num_samples=int(num_samples),
                                  dtype=dtypes.as_dtype(dtype)._np)


def stateless_split(seed, num=2):
    """`num` new stateless seeds (shape [num, 2]) derived from `seed`."""
    rng = _stateless_gen(tensor(seed).numpy())
    return _wrap(rng.integers(0, 2**31 - 1, size=(int(num), 2)).astype(
        tensor(seed)._value.dtype))


def stateless_fold_in(seed, data, alg=None):
    from tenfold.ops import _checks
    s = tensor(seed).numpy()
    if s.shape != (2,) or s.dtype.kind not in "iu":
        raise InvalidArgumentError(f"random.stateless_fold_in: seed must be an integer tensor "
                                   f"of shape [2], got {s.dtype} of shape {list(s.shape)}")
    data = _checks.scalar_int(data, "random.stateless_fold_in", "data")
    rng = np.random.default_rng([int(v) & 0xFFFFFFFF for v in s] + [int(_num(data)) & 0xFFFFFFFF,
                                                                     0xF01D])
    return _wrap(rng.integers(0, 2**31 - 1, size=(2,)).astype(s.dtype))


class Generator:
    """`tf.random.Generator`: an explicit random stream with its own state."""

    def __init__(self, copy_from=None, state=None, alg=None, seed=None):
        if isinstance(copy_from, Generator):
            import copy
            self._rng = copy.deepcopy(copy_from._rng)
        else:
            self._seed = seed
            self._rng = np.random.default_rng(seed)

    @classmethod
    def from_seed(cls, seed, alg=None):
        return cls(seed=int(_num(seed)))

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        return cls(seed=None)

    def reset_from_seed(self, seed):
        self._rng = np.random.default_rng(int(_num(seed)))

    @property
    def algorithm(self):
        return 1  # Philox, by TensorFlow's numbering

    @property
    def state(self):
        st = self._rng.bit_generator.state["state"]
        return _wrap(np.asarray([st["state"] & 0x7FFFFFFFFFFFFFFF,
                                 st["inc"] & 0x7FFFFFFFFFFFFFFF, 0], dtype=np.int64))

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        return normal(shape, mean, stddev, dtype, gen=self)

    def uniform(self, shape, minval=0, maxval=None, dtype=dtypes.float32, name=None):
        return uniform(shape, minval, maxval, dtype, gen=self)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        return truncated_normal(shape, mean, stddev, dtype, gen=self)

    def uniform_full_int(self, shape, dtype=dtypes.uint64, name=None):
        d = dtypes.as_dtype(dtype)
        info = np.iinfo(d._np)
        size = _shape(shape, dtype, "Generator.uniform_full_int")
        return _wrap(self._rng.integers(info.min, info.max, size=size, dtype=d._np,
                                        endpoint=True))

    def binomial(self, shape, counts, probs, dtype=dtypes.int32, name=None):
        c = tensor(counts) if isinstance(counts, Tensor) else _wrap(np.asarray(counts, np.float64))
        p = tensor(probs) if isinstance(probs, Tensor) else _wrap(np.asarray(probs, np.float64))
        return _random_binomial(c, p, shape=_shape(shape, dtype, "random.binomial"),
                                dtype=dtypes.as_dtype(dtype)._np,
                                seed=None, gen=self)

    def categorical(self, logits, num_samples, dtype=None, name=None):
        return categorical(logits, num_samples, dtype, gen=self)

    def make_seeds(self, count=1):
        """Seeds for stateless ops: an int64 tensor of shape [2, count]."""
        return _wrap(self._rng.integers(0, 2**63 - 1, size=(2, int(count)), dtype=np.int64))

    def split(self, count=1):
        """`count` new independent generators (this one's state advances)."""
        seeds = self._rng.integers(0, 2**63 - 1, size=int(count))
        return [Generator(seed=int(s)) for s in seeds]


def get_global_generator():
    g = _state["global_generator"]
    if g is None:
        gs = _state["global_seed"]
        g = _state["global_generator"] = Generator(seed=None if gs is None else gs + 0x6E6)
    return g


def set_global_generator(generator):
    if not isinstance(generator, Generator):
        raise TypeError(f"set_global_generator expects a tf.random.Generator, got "
                        f"{type(generator).__name__}")
    _state["global_generator"] = generator


def create_rng_state(seed, alg=None):
    return _wrap(np.asarray([int(seed), 0, 0], dtype=np.int64))
