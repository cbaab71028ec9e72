"""`keras.initializers`: the starting values of weights (Keras 3's classes, names, defaults).

    init = initializers.get("glorot_uniform")
    w = init((784, 10))                # a float32 Tensor

Randomness comes from tenfold's random ops, so `keras.utils.set_random_seed` /
`tf.random.set_seed` make unseeded initializers reproducible. An initializer given an integer
`seed` returns the same values at every call (as Keras 3's do).
"""
import math

import numpy as np

from tenfold.keras import _identifiers as _ids
from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.ops import random_ops
from tenfold.framework.host import from_host
from tenfold.framework.host import to_host



def _dtype(dtype):
    if dtype is None:
        from tenfold.keras import backend
        return dtypes.as_dtype(backend.floatx())
    return dtypes.as_dtype(dtype)


def _shape(shape):
    if isinstance(shape, Tensor):
        shape = to_host(shape).tolist()
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return tuple(int(d) for d in shape)


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape: kernels are (..., in, out) (HWIO for convolutions),
    or the products of the sizes of `input_axes` / `output_axes` when both are given."""
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[i] for i in input_axes])),
                int(np.prod([shape[i] for i in output_axes])))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns a tensor of that shape."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype)")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


class _Random(Initializer):
    """An initializer that draws random numbers: an int seed fixes the values."""

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            if hasattr(seed, "get_config") and "seed" in seed.get_config():
                seed = seed.get_config()["seed"]
            else:
                raise ValueError(f"{type(self).__name__}: seed must be an integer or None, got "
                                 f"{seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        """A generator: fixed per seed, else the next draw of tenfold's global stream."""
        if self.seed is not None:
            return np.random.default_rng([self.seed & 0xFFFFFFFF, 0x1417])
        return random_ops._generator(None)

    def _float(self, dtype):
        d = _dtype(dtype)
        if not d.is_floating:
            raise ValueError(f"{type(self).__name__} only makes floating-point values, got "
                             f"dtype={d.name}; use 'zeros', 'ones' or 'constant' for integer "
                             "weights.")
        return d

    def get_config(self):
        return {"seed": self.seed}


class _Distribution(_Random):
    """Draws from a two-parameter distribution: `_draw(shape, p1, p2, dtype=, rng=)` with the
    attributes named in `_params` (also the config's keys, after `seed`)."""

    _params = ()

    def __call__(self, shape, dtype=None):
        d = self._float(dtype)
        p1, p2 = (getattr(self, k) for k in self._params)
        return self._draw(_shape(shape), p1, p2, dtype=d, rng=self._rng())

    def get_config(self):
        return {"seed": self.seed, **{k: getattr(self, k) for k in self._params}}


class RandomNormal(_Distribution):
    """Normal values: `RandomNormal(mean=0.0, stddev=0.05, seed=None)`."""

    _params = ("mean", "stddev")
    _draw = staticmethod(random_ops.normal)

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev


class RandomUniform(_Distribution):
    """Uniform values in [minval, maxval): `RandomUniform(minval=-0.05, maxval=0.05)`."""

    _params = ("minval", "maxval")
    _draw = staticmethod(random_ops.uniform)

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval


class TruncatedNormal(_Distribution):
    """Normal values redrawn beyond two standard deviations: `TruncatedNormal(0.0, 0.05)`."""

    _params = ("mean", "stddev")
    _draw = staticmethod(random_ops.truncated_normal)

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev


class VarianceScaling(_Random):
    """Values scaled to the weight's fan: variance `scale / n`, with n the fan_in, fan_out or
    their average (`mode`), drawn from a truncated normal, a normal or a uniform distribution."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        self.input_axes = input_axes
        self.output_axes = output_axes
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling: scale must be positive, got scale={scale}")
        mode = str(mode).lower()
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self._MODES}, got "
                             f"{mode!r}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTS:
            raise ValueError(f"VarianceScaling: distribution must be one of {self._DISTS}, got "
                             f"{distribution!r}")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution

    def __call__(self, shape, dtype=None):
        d = self._float(dtype)
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            # 0.8796... is the stddev of a unit normal truncated to [-2, 2]
            std = math.sqrt(var) / 0.87962566103423978
            return random_ops.truncated_normal(shape, 0.0, std, dtype=d, rng=rng)
        if self.distribution == "untruncated_normal":
            return random_ops.normal(shape, 0.0, math.sqrt(var), dtype=d, rng=rng)
        limit = math.sqrt(3.0 * var)
        return random_ops.uniform(shape, -limit, limit, dtype=d, rng=rng)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution,
                                 seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc, "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in ±sqrt(6 / (fan_in + fan_out)); the default for kernels.")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "Uniform in ±sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal with stddev sqrt(2 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform", "Uniform in ±sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal with stddev sqrt(1 / fan_in).")


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return from_host(np.zeros(_shape(shape), dtype=_dtype(dtype)._np))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return from_host(np.ones(_shape(shape), dtype=_dtype(dtype)._np))


class Constant(Initializer):
    """Every element set to `value` (a scalar, or an array broadcastable to the shape)."""

    def __init__(self, value=0.0):
        if isinstance(value, Tensor):
            value = to_host(value)[()]
        if isinstance(value, np.ndarray):
            value = value.item() if value.ndim == 0 else value.tolist()
        self.value = value

    def __call__(self, shape, dtype=None):
        d = _dtype(dtype)
        v = np.broadcast_to(np.asarray(self.value, dtype=d._np), _shape(shape))
        return from_host(np.array(v, dtype=d._np))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got shape={shape}; use "
                             "it for square-ish kernels such as (units, units).")
        d = _dtype(dtype)
        return from_host((self.gain * np.eye(*shape)).astype(d._np))

    def get_config(self):
        return {"gain": self.gain}


class Orthogonal(_Random):
    """An orthogonal matrix (from the QR decomposition of a normal matrix) times `gain`;
    kernels of rank > 2 are flattened to (prod(shape[:-1]), shape[-1])."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        d = self._float(dtype)
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got "
                             f"shape={shape}")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        # C order: a transposed (Fortran-order) kernel makes every matmul with it far slower
        return from_host(np.ascontiguousarray((self.gain * q.reshape(shape)).astype(d._np)))

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


class STFT(Initializer):  # pragma: no cover - listed for name completeness only
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("STFT initializer is not available in tenfold")


# --- names ------------------------------------------------------------------------------------
_CLASSES = [Initializer, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
            GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Zeros,
            Ones, Constant, Identity, Orthogonal]

_ALIASES = {
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "random_normal": RandomNormal, "normal": RandomNormal,
    "random_uniform": RandomUniform, "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "identity": Identity, "orthogonal": Orthogonal,
    "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal,
}
_BY_NAME = {c.__name__: c for c in _CLASSES}
_BY_NAME.update(_ALIASES)
_BY_NAME["IdentityInitializer"] = Identity
_BY_NAME["OrthogonalInitializer"] = Orthogonal

# tf.keras / Keras 3 function-style aliases: initializers.glorot_uniform(seed=1)
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, zeros, ones, constant = VarianceScaling, Zeros, Ones, Constant
identity, orthogonal = Identity, Orthogonal
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


def serialize(initializer):
    """Keras 3's serialized form: {'module', 'class_name', 'config', 'registered_name'}."""
    if initializer is None:
        return None
    if isinstance(initializer, Initializer):
        return _ids.instance_config(initializer, "keras.initializers", _BY_NAME)
    if isinstance(initializer, str):
        return initializer
    if callable(initializer):
        return getattr(initializer, "__name__", repr(initializer))
    raise ValueError(f"Cannot serialize initializer {initializer!r}")


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config, custom_objects)
    if not _ids.is_class_config(config):
        raise ValueError(f"Cannot deserialize initializer from {config!r}: expected a name or "
                         "a dict with 'class_name' and 'config'.")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name) or \
        _ids.registered_object(config.get("registered_name"), name)
    if cls is None:
        raise ValueError(f"Unknown initializer: {name!r}. Known names: "
                         f"{', '.join(sorted(_ALIASES))}. Register custom classes with "
                         "keras.saving.register_keras_serializable or pass custom_objects.")
    return _ids.from_class_config(cls, config)


def get(identifier, custom_objects=None):
    """An initializer from a name ('he_normal'), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if isinstance(identifier, str):
        cls = (custom_objects or {}).get(identifier) or _BY_NAME.get(identifier) or \
            _BY_NAME.get(identifier.lower()) or _ids.registered_object(identifier)
        if cls is None:
            raise ValueError(f"Unknown initializer: {identifier!r}. Known names: "
                             f"{', '.join(sorted(_ALIASES))}.")
        return cls() if isinstance(cls, type) else cls
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}. Pass a name "
                     "such as 'glorot_uniform', an Initializer instance or a callable "
                     "(shape, dtype) -> values.")
