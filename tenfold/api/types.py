"""`tf.types`: the abstract types TensorFlow exposes for type checks and annotations
(`tf.types.experimental.TensorLike`, `GenericFunction`, `ConcreteFunction`, ...), with
tenfold's own classes registered under them so `isinstance` answers as in TensorFlow."""
import abc
import types as _pytypes

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework.variable import Variable
from tenfold.graph.function import Function as _Function, ConcreteFunction as _Concrete
from tenfold.graph.spec import TensorSpec as _TensorSpec


class Callable(abc.ABC):
    """Something callable with tensors (TensorFlow's base of the function types)."""

    @property
    def function_type(self):
        return None


class GenericFunction(Callable):
    """A function that traces per signature (`tf.function`'s result)."""


class PolymorphicFunction(GenericFunction):
    """TensorFlow 2.15+'s name for what `tf.function` returns."""


class ConcreteFunction(Callable):
    """One traced graph for one input signature (`f.get_concrete_function(...)`)."""


class AtomicFunction(Callable):
    """A single graph function (TensorFlow's lowest function level)."""


class TraceType(abc.ABC):
    """What a value contributes to a tf.function's cache key (TensorSpec for tensors)."""


class SupportsTracingProtocol(abc.ABC):
    """Objects defining `__tf_tracing_type__` for their trace type."""

    @classmethod
    def __subclasshook__(cls, sub):
        return True if hasattr(sub, "__tf_tracing_type__") else NotImplemented


class FunctionType:
    """A function's signature as trace types (inspect.Signature-like)."""


class _TensorLikeMeta(abc.ABCMeta):
    # TensorFlow's TensorLike is a Union of these types: isinstance must accept each
    _members = (Tensor, Variable, np.ndarray, np.generic, int, float, bool, complex, str,
                bytes, tuple, list)

    def __instancecheck__(cls, x):
        return isinstance(x, cls._members) or hasattr(x, "__tf_tensor__")


class TensorLike(metaclass=_TensorLikeMeta):
    """Values that convert to a tensor: tensors, variables, NumPy arrays, Python numbers,
    strings and (nested) lists or tuples of them."""


PolymorphicFunction.register(_Function)
ConcreteFunction.register(_Concrete)
TraceType.register(_TensorSpec)

experimental = _pytypes.SimpleNamespace(
    AtomicFunction=AtomicFunction, Callable=Callable, ConcreteFunction=ConcreteFunction,
    FunctionType=FunctionType, GenericFunction=GenericFunction,
    PolymorphicFunction=PolymorphicFunction, SupportsTracingProtocol=SupportsTracingProtocol,
    TensorLike=TensorLike, TraceType=TraceType,
    distributed=_pytypes.SimpleNamespace(),
)


def __dir__():
    return ["experimental"]
