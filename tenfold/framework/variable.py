"""Variable: a mutable tensor that training updates in place."""
import contextlib
import itertools

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor, _check_concrete
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.state import STATE as _STATE

_uid = itertools.count()

# Mixed precision: while a layer runs under a policy such as 'mixed_float16', this holds the
# compute dtype (a NumPy dtype) and op inputs read autocast variables in it.
autocast_dtype = [None]

# Set by tf.function while tracing (tenfold/graph/effects.py): `hook(var, op, value, array)`
# records assign / assign_add / assign_sub / read_value as graph ops. None otherwise.

# tf.distribute: `strategy.scope()` pushes a function called with each Variable created inside
# (tenfold/distribute/strategy.py syncs their initial values across workers).
_creation_hooks = []


@contextlib.contextmanager
def autocast_scope(dtype):
    prev = autocast_dtype[0]
    autocast_dtype[0] = None if dtype is None else dtypes.as_dtype(dtype)._np
    try:
        yield
    finally:
        autocast_dtype[0] = prev


class VariableAggregation:
    NONE = 0
    SUM = 1
    MEAN = 2
    ONLY_FIRST_REPLICA = 3


class VariableSynchronization:
    AUTO = 0
    NONE = 1
    ON_WRITE = 2
    ON_READ = 3


class Variable(Tensor):
    """A mutable tensor (`tf.Variable`). Usable wherever a tensor is; read at each use.

    >>> v = Variable([1.0, 2.0]); v.assign_add([1.0, 1.0]).numpy()
    array([2., 3.], dtype=float32)
    """

    __slots__ = ("_name", "_trainable", "_shape", "_constraint", "_uid", "__dict__")
    _autocast = False  # Keras variables set True: they follow autocast_scope

    def __init__(self, initial_value=None, trainable=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None,
                 import_scope=None, constraint=None, synchronization=None, aggregation=None,
                 shape=None, experimental_enable_variable_lifting=True):
        if initial_value is None:
            raise ValueError("Variable needs an initial_value (a tensor, array, number, or a "
                             "callable returning one).")
        if callable(initial_value):
            initial_value = initial_value()
        value = convert_to_tensor(initial_value, dtype=dtype)._value
        if dtype is None and isinstance(initial_value, Tensor):
            value = value.copy()
        elif value is initial_value:
            value = value.copy()
        if type(value) is np.ndarray and not value.flags.writeable:  # (CuPy's flags have no
            # `writeable`: device arrays made by a conversion are always fresh and writable)
            value = value.copy()
        if _STATE.backend is not None and type(value) is np.ndarray:
            value = _STATE.backend.from_host(value)  # created inside tf.device(...)
        self._value = value
        self._trainable = True if trainable is None else bool(trainable)
        if synchronization == VariableSynchronization.ON_READ and trainable is None:
            self._trainable = False
        self._name = _unique_name(name or "Variable")
        if type(self).__init__ is Variable.__init__:
            # tf.Variable inside `with tf.name_scope('outer'):` is named 'outer/x:0'. Subclasses
            # with their own constructor (keras.Variable) name themselves (Keras 3 paths).
            from tenfold.framework.context import current_name_scope
            self._name = current_name_scope() + self._name
        self._shape = TensorShape(value.shape if validate_shape and shape is None else shape)
        self._constraint = constraint
        self._uid = next(_uid)
        for tracer in _STATE.tracers:  # tf.function allows variables on its first trace only
            tracer.note_variable_created(self)
        self._initial = value
        self.aggregation = aggregation or VariableAggregation.NONE
        self.synchronization = synchronization or VariableSynchronization.AUTO
        if _creation_hooks:  # tf.distribute scope (tenfold/distribute)
            _creation_hooks[-1](self)

    @property
    def name(self):
        return self._name + ":0"

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):  # Keras 3's keras.Variable allows it (tf.Variable does not)
        self._trainable = bool(value)

    @property
    def constraint(self):
        return self._constraint

    @property
    def shape(self):
        return TensorShape(self._value.shape)

    @property
    def handle(self):
        return self

    def value(self):
        """The current value as a tensor (a method, as `tf.Variable.value()`; Keras 3's
        `keras.Variable.value` is a property and overrides this)."""
        return self.read_value()

    def read_value(self):
        """A tensor holding the current value (a snapshot: later assigns don't change it)."""
        if _STATE.variable_hook is not None:  # tracing: a recorded read (tenfold/graph)
            return _STATE.variable_hook(self, "read_value", None, None)
        return Tensor._wrap(self._value.copy())

    def numpy(self):
        _check_concrete(self, "numpy")  # an error inside tf.function (tenfold/graph)
        v = self._value
        if type(v) is not np.ndarray:  # a device variable: the backend's copy to the host
            from tenfold.backend import to_numpy
            v = to_numpy(v)
            return v if v.ndim else v[()]
        return v.copy() if v.ndim else v[()]

    def __array__(self, dtype=None, copy=None):
        v = np.array(self._value, copy=True) if type(self._value) is np.ndarray \
            else Tensor.__array__(self)
        return v if dtype is None else v.astype(dtype, copy=False)

    def _checked(self, value, op):
        v = convert_to_tensor(value, dtype_hint=self.dtype)._value
        if v.dtype != self._value.dtype:
            if isinstance(value, Tensor):
                raise InvalidArgumentError(
                    f"{op} on variable '{self._name}' of dtype {self.dtype.name} got a value "
                    f"of dtype {dtypes.from_numpy(v.dtype).name}; cast it first.")
            v = v.astype(self._value.dtype)
        if v.shape != self._value.shape and not self._shape.is_compatible_with(v.shape):
            raise InvalidArgumentError(
                f"{op} on variable '{self._name}' of shape {tuple(self._value.shape)} got a "
                f"value of shape {tuple(v.shape)}.")
        return v

    # Updates replace `_value` with a new array instead of writing into it (copy on write):
    # tensors computed from the variable earlier may be NumPy views of the old array
    # (reshape, slicing, transpose), and must keep the value they had.

    def assign(self, value, use_locking=None, name=None, read_value=True):
        v = self._checked(value, "assign")
        if _STATE.variable_hook is not None:  # tracing: recorded as a graph op (tenfold/graph)
            return _STATE.variable_hook(self, "assign", value, v)
        # a plain tensor's array is immutable (and so is a variable's), so it can be shared
        self._value = v if type(value) is Tensor and v is value._value else v.copy()
        return self

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        v = self._checked(delta, "assign_add")
        if _STATE.variable_hook is not None:  # tracing: recorded as a graph op (tenfold/graph)
            return _STATE.variable_hook(self, "assign_add", delta, v)
        if v.shape != self._value.shape:
            raise InvalidArgumentError(f"assign_add on variable '{self._name}' of shape "
                                       f"{tuple(self._value.shape)} got shape {tuple(v.shape)}")
        self._value = self._value + v
        return self

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        v = self._checked(delta, "assign_sub")
        if _STATE.variable_hook is not None:  # tracing: recorded as a graph op (tenfold/graph)
            return _STATE.variable_hook(self, "assign_sub", delta, v)
        if v.shape != self._value.shape:
            raise InvalidArgumentError(f"assign_sub on variable '{self._name}' of shape "
                                       f"{tuple(self._value.shape)} got shape {tuple(v.shape)}")
        self._value = self._value - v
        return self

    def scatter_nd_update(self, indices, updates, name=None):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        return self.assign(array_ops.tensor_scatter_nd_update(self.read_value(), indices,
                                                              updates))

    def scatter_nd_add(self, indices, updates, name=None):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        return self.assign(array_ops.tensor_scatter_nd_add(self.read_value(), indices, updates))

    def scatter_nd_sub(self, indices, updates, name=None):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        return self.assign(array_ops.tensor_scatter_nd_sub(self.read_value(), indices, updates))

    def _scatter(self, sparse_delta, how):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        idx = array_ops.expand_dims(sparse_delta.indices, -1)
        fn = getattr(array_ops, "tensor_scatter_nd_" + how)
        return self.assign(fn(self.read_value(), idx, sparse_delta.values))

    def scatter_update(self, sparse_delta, use_locking=False, name=None):
        """Updates rows given by an `IndexedSlices(values, indices)`."""
        return self._scatter(sparse_delta, "update")

    def scatter_add(self, sparse_delta, use_locking=False, name=None):
        return self._scatter(sparse_delta, "add")

    def scatter_sub(self, sparse_delta, use_locking=False, name=None):
        return self._scatter(sparse_delta, "sub")

    def sparse_read(self, indices, name=None):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        return array_ops.gather(self, indices)

    def gather_nd(self, indices, name=None):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        return array_ops.gather_nd(self, indices)

    def set_shape(self, shape):
        self._shape = TensorShape(shape)

    @property
    def initial_value(self):
        return Tensor._wrap(self._initial)

    def initialized_value(self):
        return self.read_value()

    @property
    def device(self):
        from tenfold.framework.device import device_name_of
        return device_name_of(self._value)

    def __hash__(self):
        return id(self)

    def __reduce__(self):
        return _rebuild_variable, (self.numpy(), self._trainable, self._name)

    def __deepcopy__(self, memo):
        return Variable(self.numpy(), trainable=self._trainable, name=self._name)

    def __repr__(self):
        from tenfold.framework.tensor import _array_repr
        if _STATE.tracers:  # inside tf.function: no value shown (TensorFlow's graph form)
            return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"
        return (f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={_array_repr(self.numpy())}>")

    def __str__(self):
        return self.__repr__()


def _rebuild_variable(value, trainable, name):
    return Variable(value, trainable=trainable, name=name)


def _unique_name(name):
    return name[:-2] if name.endswith(":0") else name


def is_variable(x):
    return isinstance(x, Variable)
