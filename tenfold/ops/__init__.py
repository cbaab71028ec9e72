"""The op catalogue. Importing this package installs Tensor's Python operators.

Only the modules the operators need load here; the other op families (nn_ops, random_ops,
linalg_ops, ...) load when first imported (`registry.load_all()` loads every one).
"""
from tenfold.ops import registry, math_ops, array_ops  # noqa: F401
from tenfold.ops.math_ops import *  # noqa: F401,F403
from tenfold.ops.array_ops import *  # noqa: F401,F403
from tenfold.ops.array_ops import tensor_scatter_nd_update  # noqa: F401
from tenfold.framework.tensor import Tensor as _Tensor
from tenfold.framework import hooks as _hooks
from tenfold.ops._convert import read_variable as _read_variable
from tenfold.ops._checks import check_alloc as _check_alloc

# what Tensor / Variable methods call in this layer (the framework never imports upward)
_hooks.array_ops = array_ops
_hooks.math_ops = math_ops
_hooks.read_variable = _read_variable
_hooks.check_alloc = _check_alloc


def _install_operators():
    m, a = math_ops, array_ops

    def rev(fn):
        return lambda self, other: fn(other, self)

    def eq(self, other):
        if other is None:
            return False
        try:
            return m.equal(self, other)
        except (TypeError, ValueError):
            return False

    def ne(self, other):
        if other is None:
            return True
        try:
            return m.not_equal(self, other)
        except (TypeError, ValueError):
            return True

    def logical(fn, bitwise_name, name, reverse=False):
        # bool tensors: logical ops; integer tensors: bitwise ops, as TensorFlow
        def op(self, other):
            if self._value.dtype.kind == "b":
                return fn(other, self) if reverse else fn(self, other)
            if self._value.dtype.kind in "iu":
                from tenfold.ops import bitwise_ops
                bw = getattr(bitwise_ops, bitwise_name)
                return bw(other, self) if reverse else bw(self, other)
            raise TypeError(f"operator {name} needs bool or integer tensors, got "
                            f"{self.dtype.name}")
        return op

    def invert(self):
        if self._value.dtype.kind in "iu":
            from tenfold.ops import bitwise_ops
            return bitwise_ops.invert(self)
        return m.logical_not(self)

    table = {
        "__add__": m.add, "__radd__": rev(m.add),
        "__sub__": m.subtract, "__rsub__": rev(m.subtract),
        "__mul__": m.multiply, "__rmul__": rev(m.multiply),
        "__truediv__": m.truediv, "__rtruediv__": rev(m.truediv),
        "__floordiv__": m.floordiv, "__rfloordiv__": rev(m.floordiv),
        "__mod__": m.floormod, "__rmod__": rev(m.floormod),
        "__pow__": m.pow, "__rpow__": rev(m.pow),
        "__matmul__": m.matmul, "__rmatmul__": rev(m.matmul),
        "__lt__": m.less, "__le__": m.less_equal, "__gt__": m.greater, "__ge__": m.greater_equal,
        "__eq__": eq, "__ne__": ne,
        "__and__": logical(m.logical_and, "bitwise_and", "&"),
        "__rand__": logical(m.logical_and, "bitwise_and", "&", reverse=True),
        "__or__": logical(m.logical_or, "bitwise_or", "|"),
        "__ror__": logical(m.logical_or, "bitwise_or", "|", reverse=True),
        "__xor__": logical(m.logical_xor, "bitwise_xor", "^"),
        "__rxor__": logical(m.logical_xor, "bitwise_xor", "^", reverse=True),
        "__invert__": invert,
        "__neg__": lambda self: m.negative(self),
        "__pos__": lambda self: self,
        "__abs__": lambda self: m.abs(self),
        "__getitem__": a.getitem,
    }
    for name, fn in table.items():
        setattr(_Tensor, name, fn)
    _Tensor.T = property(lambda self: a.transpose(self))


_install_operators()
