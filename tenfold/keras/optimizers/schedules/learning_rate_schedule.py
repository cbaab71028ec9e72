"""Learning-rate schedules (`keras.optimizers.schedules`): callables `step -> learning rate`.

Each computes in float32 (the dtype of its initial learning rate, as Keras does) and returns a
0-d float32 Tensor. `step` may be an int, a NumPy value, a Tensor or the optimizer's
iterations variable.
"""
import math

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.util.tensor_meta import npd
from tenfold.ops.buffers import variable_buffer
from tenfold.framework.host import from_host, to_host

_f = np.float32


def _step(step):
    if isinstance(step, Tensor):
        return _f(variable_buffer(step))  # read in the optimizer's kernel, or eagerly
    return _f(np.asarray(step))


def _out(value):
    return from_host(np.asarray(value, dtype=np.float32))


def _lr_dtype(initial):
    if isinstance(initial, Tensor):
        return npd(initial).type
    if isinstance(initial, np.ndarray) or isinstance(initial, np.generic):
        return np.asarray(initial).dtype.type if np.asarray(initial).dtype.kind == "f" else _f
    return _f


class LearningRateSchedule:
    """Base class: subclasses implement `__call__(step)` and `get_config()`."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The built-in schedules compute on the host (the optimizers' fused update calls them
        # with the current step inside its stateful kernel). Called on a step tensor while
        # tf.function traces, they run as one recorded host-function node instead, so every
        # call of the graph uses that call's step (not the step seen at trace time).
        call = cls.__dict__.get("__call__")
        if call is not None and cls.__module__ == __name__:
            cls.__call__ = _graph_safe(call)

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _graph_safe(call):
    def __call__(self, step):
        if isinstance(step, Tensor):
            from tenfold.framework.context import executing_eagerly
            if not executing_eagerly():
                from tenfold.ops.functional_ops import numpy_function
                return numpy_function(lambda s: to_host(call(self, s)).astype(np.float32),
                                      [step], "float32")
        return call(self, step)
    __call__.__doc__ = call.__doc__
    return __call__


def _check_steps(name, value):
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


def _initial(schedule):
    """`(f, lr)`: the schedule's float type and its initial learning rate in that type."""
    f = _lr_dtype(schedule.initial_learning_rate)
    return f, f(_num(schedule.initial_learning_rate))


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: the arguments `decay_steps`,
    `decay_rate`, `staircase` and the progress `step / decay_steps` (floored with staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        _check_steps("decay_steps", decay_steps)

    def _progress(self, step):
        """`(f, lr, p)`: float type, initial learning rate, and progress through decay."""
        f, lr = _initial(self)
        p = f(_step(step)) / f(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return f, lr, p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored with staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        f, lr, p = self._progress(step)
        return _out(lr * np.power(f(self.decay_rate), p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[i]` while `boundaries[i-1] < step <= boundaries[i]`."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        s = _step(step) if not isinstance(step, (int, np.integer)) else step
        vals = [_num(v) for v in self.values]
        i = 0
        while i < len(self.boundaries) and s > _num(self.boundaries[i]):
            i += 1
        v = vals[i]
        dt = np.asarray(vals[0]).dtype
        if not isinstance(vals[0], (np.ndarray, np.generic)):
            dt = np.float32 if dt.kind == "f" else np.int32 if dt.kind in "iu" else dt
        return from_host(np.asarray(v, dtype=dt))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate` in `decay_steps`."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        _check_steps("decay_steps", decay_steps)

    def __call__(self, step):
        f, lr = _initial(self)
        end = f(self.end_learning_rate)
        s = f(_step(step))
        ds = f(self.decay_steps)
        if self.cycle:
            mult = f(1.0) if s == 0 else np.ceil(s / f(self.decay_steps))
            ds = ds * mult
        else:
            s = np.minimum(s, ds)
        p = s / ds
        return _out((lr - end) * np.power(f(1) - p, f(self.power)) + end)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        f, lr, p = self._progress(step)
        return _out(lr / (f(1) + f(self.decay_rate) * p))


class CosineDecay(LearningRateSchedule):
    """Cosine decay (with optional linear warmup to `warmup_target` over `warmup_steps`)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target
        _check_steps("decay_steps", decay_steps)

    def _decay(self, s, ds, start, f):
        frac = s / ds
        cos = f(0.5) * (f(1.0) + np.cos(f(math.pi) * frac))
        decayed = f(1 - self.alpha) * cos + f(self.alpha)
        return start * decayed

    def __call__(self, step):
        f, lr = _initial(self)
        ds = f(self.decay_steps)
        s = f(_step(step))
        if self.warmup_target is None:
            return _out(self._decay(np.minimum(s, ds), ds, lr, f))
        target = f(self.warmup_target)
        ws = f(self.warmup_steps)
        s = np.minimum(s, ds + ws)
        if s < ws:
            return _out((target - lr) * (s / ws) + lr)
        return _out(self._decay(s - ws, ds, target, f))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by `t_mul`, peaks by `m_mul`."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name
        _check_steps("first_decay_steps", first_decay_steps)

    def __call__(self, step):
        f, lr = _initial(self)
        alpha, t_mul, m_mul = f(self.alpha), f(self._t_mul), f(self._m_mul)
        frac = f(_step(step)) / f(self.first_decay_steps)
        if t_mul == 1.0:
            i_restart = np.floor(frac)
            frac = frac - i_restart
        else:
            i_restart = np.floor(np.log(f(1.0) - frac * (f(1.0) - t_mul)) / np.log(t_mul))
            sum_r = (f(1.0) - np.power(t_mul, i_restart)) / (f(1.0) - t_mul)
            frac = (frac - sum_r) / np.power(t_mul, i_restart)
        m_fac = np.power(m_mul, i_restart)
        cos = f(0.5) * m_fac * (f(1.0) + np.cos(f(math.pi) * frac))
        decayed = (f(1) - alpha) * cos + alpha
        return _out(lr * decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


def _num(v):
    if isinstance(v, Tensor):
        return variable_buffer(v)
    return v


_CLASSES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                     InverseTimeDecay, CosineDecay, CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """Keras 3's config dict for a schedule."""
    return {"module": "keras.optimizers.schedules",
            "class_name": type(learning_rate_schedule).__name__,
            "config": learning_rate_schedule.get_config(),
            "registered_name": None if type(learning_rate_schedule).__name__ in _CLASSES
            else _registered(type(learning_rate_schedule))}


def _registered(cls):
    try:
        from tenfold.keras.saving.object_registration import get_registered_name
        return get_registered_name(cls)
    except ImportError:  # pragma: no cover
        return cls.__name__


def deserialize(config, custom_objects=None):
    """A schedule from a config dict (`{'class_name': ..., 'config': ...}`)."""
    if isinstance(config, LearningRateSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret learning rate schedule config: {config!r}")
    name = config["class_name"]
    cls = _CLASSES.get(name)
    if cls is None:
        from tenfold.keras.saving.object_registration import get_registered_object
        cls = get_registered_object(config.get("registered_name") or name, custom_objects)
    if cls is None:
        raise ValueError(f"Unknown learning rate schedule: '{name}'. Please ensure you are "
                         "using a `keras.utils.custom_object_scope` and that this object is "
                         "included in the scope.")
    return cls.from_config(config.get("config", {}))
