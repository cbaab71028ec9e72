"""Dtype policies: a layer's variable dtype and compute dtype (`keras.mixed_precision`)."""
from tenfold.framework import dtypes

_POLICY_NAMES = {
    "mixed_float16": ("float16", "float32"),
    "mixed_bfloat16": ("bfloat16", "float32"),
}


class Policy:
    """`Policy('mixed_float16')`: float16 compute, float32 variables. A plain dtype name gives
    both the same."""

    def __init__(self, name=None):
        if isinstance(name, Policy):
            name = name.name
        if name is None:
            from tenfold.keras import backend
            name = backend.floatx()
        if isinstance(name, dtypes.DType):
            name = name.name
        if not isinstance(name, str):
            name = dtypes.as_dtype(name).name
        if name in _POLICY_NAMES:
            self._compute, self._variable = _POLICY_NAMES[name]
        else:
            try:
                d = dtypes.as_dtype(name).name
            except TypeError:
                raise ValueError(f"Cannot convert {name!r} to a mixed precision Policy; use "
                                 "'float32', 'mixed_float16', 'mixed_bfloat16' or a dtype "
                                 "name") from None
            self._compute = self._variable = d
            name = d
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._compute

    @property
    def variable_dtype(self):
        return self._variable

    @property
    def quantization_mode(self):
        return None

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, Policy) and other._name == self._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


DTypePolicy = Policy
FloatDTypePolicy = Policy

_global = [None]


def global_policy():
    if _global[0] is None:
        return Policy()
    return _global[0]


def set_global_policy(policy):
    _global[0] = None if policy is None else Policy(policy)


def set_dtype_policy(policy):
    set_global_policy(policy)


def dtype_policy():
    return global_policy()


def get(identifier):
    """A Policy from None (global), a name, a dict config or a Policy."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, Policy):
        return identifier
    if isinstance(identifier, dict):
        cfg = identifier.get("config", identifier)
        return Policy(cfg.get("name"))
    return Policy(identifier)
