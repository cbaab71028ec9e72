"""`tf.data.Options`: accepted and stored; the knobs tenfold acts on are `deterministic`
(`experimental_deterministic`) and `threading.private_threadpool_size` (map's thread count)."""
import enum


class AutoShardPolicy(enum.IntEnum):
    """`tf.data.experimental.AutoShardPolicy` (used by distribution strategies)."""
    OFF = -1
    AUTO = 0
    FILE = 1
    DATA = 2
    HINT = 3


class ExternalStatePolicy(enum.Enum):
    WARN = 0
    IGNORE = 1
    FAIL = 2


class _Group:
    """A group of options: any attribute may be set; unset ones read as None."""
    _name = "Options"

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def _set(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def _merge(self, other):
        out = type(self)()
        for src in (self, other):
            for k, v in src._set().items():
                if isinstance(v, _Group):
                    cur = vars(out).get(k)
                    v = cur._merge(v) if isinstance(cur, _Group) else v._merge(type(v)())
                vars(out)[k] = v
        return out

    def __eq__(self, other):
        return type(self) is type(other) and self._set() == other._set()

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self._set().items()))
        return f"{self._name}({inner})"


class ThreadingOptions(_Group):
    _name = "ThreadingOptions"


class OptimizationOptions(_Group):
    _name = "OptimizationOptions"


class DistributeOptions(_Group):
    _name = "DistributeOptions"


class AutotuneOptions(_Group):
    _name = "AutotuneOptions"


class Options(_Group):
    """Options for a dataset (`tf.data.Options`), attached with `dataset.with_options`."""
    _name = "Options"

    def __init__(self, **kwargs):
        vars(self)["threading"] = ThreadingOptions()
        vars(self)["experimental_optimization"] = OptimizationOptions()
        vars(self)["experimental_distribute"] = DistributeOptions()
        vars(self)["autotune"] = AutotuneOptions()
        super().__init__(**kwargs)

    # `experimental_deterministic` is the older name of `deterministic`.
    @property
    def experimental_deterministic(self):
        return vars(self).get("deterministic")

    @experimental_deterministic.setter
    def experimental_deterministic(self, value):
        vars(self)["deterministic"] = value

    @property
    def experimental_threading(self):
        return self.threading

    def merge(self, options):
        return self._merge(options)
