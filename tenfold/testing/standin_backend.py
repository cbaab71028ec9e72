"""A stand-in second backend for CI, which has no GPU: proves the backend seam without one.

Its arrays (`StandinArray`) wrap a NumPy array and behave as CuPy's do towards NumPy:

- `np.asarray(a)` / `np.array(a)` / any implicit host conversion raises TypeError (CuPy:
  "Implicit conversion to a NumPy array is not allowed"), so code that reads a tensor's array
  into NumPy behind the backend's back fails here, as it would on a GPU;
- NumPy functions and ufuncs called on them dispatch through `__array_ufunc__` /
  `__array_function__` and return stand-in arrays (as they return CuPy arrays for CuPy);
- mixing one with a NumPy ndarray in a computation raises TypeError (CuPy: "Unsupported
  type <class 'numpy.ndarray'>"); Python and NumPy scalars are fine;
- the only ways across are the backend's `from_host` / `to_host` (CuPy's `asarray` / `.get()`).

Use it as a device: `with standin_device(): ...` registers the backend, makes
'/device:STANDIN:0' the device of new tensors, and sets the device policy to 'explicit', so
that a host array meeting a stand-in one is an error instead of a silent copy.
"""
import contextlib

import numpy as np

from tenfold.backend.base import Backend

_ndarray = np.ndarray
_MSG_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                 "construct a NumPy array explicitly.")


def _unwrap(x):
    t = type(x)
    if t is StandinArray:
        return x._a
    if t is _ndarray:
        raise TypeError(f"Unsupported type {_ndarray}")
    if t is list or t is tuple:
        return t(_unwrap(v) for v in x)
    return x


def _wrap(x):
    t = type(x)
    if t is _ndarray:
        return StandinArray(x)
    if isinstance(x, np.generic) and not isinstance(x, np.void):
        return StandinArray(np.asarray(x))
    if t is tuple or t is list:
        return t(_wrap(v) for v in x)
    return x


def _index(key):
    # CuPy accepts host index arrays and its own; both select the same elements
    if type(key) is StandinArray:
        return key._a
    if type(key) is tuple:
        return tuple(_index(k) for k in key)
    return key


class _Flags:
    """CuPy's ndarray.flags: c_contiguous, f_contiguous, owndata only (no `writeable`)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, f):
        self.c_contiguous, self.f_contiguous, self.owndata = \
            f.c_contiguous, f.f_contiguous, f.owndata

    def __getitem__(self, key):
        return getattr(self, {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
                              "OWNDATA": "owndata"}[key])


class StandinArray:
    """A device array that is not a NumPy array (see the module docstring)."""

    __slots__ = ("_a",)
    __array_priority__ = 200

    def __init__(self, a):
        self._a = a

    # --- the host boundary: refused, as CuPy refuses it ---
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_MSG_IMPLICIT)

    def tolist(self):
        return self._a.tolist()

    def item(self, *args):
        return self._a.item(*args)

    # --- NumPy's dispatch protocols ---
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = _unwrap(inputs)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"])
        if "where" in kwargs:
            kwargs["where"] = _unwrap(kwargs["where"])
        result = getattr(ufunc, method)(*args, **kwargs)
        if method == "at":
            return None
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        return _wrap(func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))

    # --- array attributes and methods ---
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a.flags))  # CuPy's: no `writeable`
    base = property(lambda self: None)
    T = property(lambda self: StandinArray(self._a.T))
    real = property(lambda self: StandinArray(self._a.real))
    imag = property(lambda self: StandinArray(self._a.imag))

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__ / __array_struct__ / buffer
            raise AttributeError(name)
        attr = getattr(self._a, name)  # methods: reshape, astype, sum, transpose, ...
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            return _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        return method

    def __getitem__(self, key):
        return _wrap(self._a[_index(key)])

    def __setitem__(self, key, value):
        if type(value) is _ndarray:
            raise TypeError(f"Unsupported type {_ndarray}")
        self._a[_index(key)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield _wrap(self._a[i])

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return "standin." + repr(self._a)

    def __copy__(self):
        return StandinArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StandinArray(self._a.copy())

    def __reduce__(self):
        raise TypeError("a stand-in (device) array cannot be pickled: copy it to the host with "
                        "tenfold.backend.to_numpy first")


def _binop(name):
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
             "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power,
             "matmul": np.matmul, "and": np.bitwise_and, "or": np.bitwise_or,
             "xor": np.bitwise_xor, "lshift": np.left_shift, "rshift": np.right_shift,
             "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
             "eq": np.equal, "ne": np.not_equal}[name]

    def op(self, other):
        return self.__array_ufunc__(ufunc, "__call__", self, other)

    def rop(self, other):
        return self.__array_ufunc__(ufunc, "__call__", other, self)

    def iop(self, other):
        self.__array_ufunc__(ufunc, "__call__", self, other, out=(self,))
        return self
    return op, rop, iop


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
           "xor", "lshift", "rshift"):
    _op, _rop, _iop = _binop(_n)
    setattr(StandinArray, f"__{_n}__", _op)
    setattr(StandinArray, f"__r{_n}__", _rop)
    setattr(StandinArray, f"__i{_n}__", _iop)
for _n in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(StandinArray, f"__{_n}__", _binop(_n)[0])
StandinArray.__hash__ = None
StandinArray.__neg__ = lambda self: StandinArray(-self._a)
StandinArray.__pos__ = lambda self: StandinArray(+self._a)
StandinArray.__abs__ = lambda self: StandinArray(abs(self._a))
StandinArray.__invert__ = lambda self: StandinArray(~self._a)


class _StandinKernels:
    """The stand-in's own kernels for what NumPy lacks: it "runs" NumPy's on the unwrapped
    arrays, as a device library would run its own (arguments and results stay on the device)."""

    def __getattr__(self, name):
        from tenfold.backend.numpy_backend import NUMPY
        fn = getattr(NUMPY.kernels, name)

        def kernel(*args, **kwargs):
            return _wrap(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        kernel.__name__ = name
        return kernel


class _StandinNamespace:
    """The stand-in's `xp`, as `cupy` is CuPy's: creation functions make device arrays;
    every other NumPy function is NumPy's, which dispatches to StandinArray."""

    def __init__(self):
        for name in ("zeros", "ones", "empty", "full", "arange", "eye", "identity",
                     "linspace", "tri", "indices"):
            setattr(self, name, self._creator(getattr(np, name)))

    @staticmethod
    def _creator(fn):
        def create(*args, **kwargs):
            return _wrap(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        create.__name__ = fn.__name__
        return create

    def asarray(self, a, dtype=None):
        if type(a) is StandinArray:
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        if type(a) is _ndarray:
            raise TypeError(f"Unsupported type {_ndarray}")
        return StandinArray(np.asarray(_unwrap(a), dtype=dtype))

    def array(self, a, dtype=None, copy=True):
        out = self.asarray(a, dtype)
        return out.copy() if copy and out is a else out

    def ascontiguousarray(self, a, dtype=None):
        return StandinArray(np.ascontiguousarray(_unwrap(self.asarray(a, dtype))))

    def __getattr__(self, name):
        return getattr(np, name)


class StandinBackend(Backend):
    name = "standin"
    device_type = "STANDIN"
    listed = False  # a test device: tf.config.list_physical_devices stays as on this machine
    xp = _StandinNamespace()
    array_types = (StandinArray,)
    kernels = _StandinKernels()

    def from_host(self, array):
        if type(array) is StandinArray:
            return array
        return StandinArray(np.array(array, copy=True))

    def to_host(self, array):
        return np.array(array._a, copy=True)

    def asarray(self, value, dtype=None):
        return StandinArray(np.array(value, dtype=dtype, copy=True))

    def scalar(self, value, dtype):
        return StandinArray(np.asarray(value, dtype=dtype))


STANDIN = StandinBackend()


def register():
    from tenfold import backend
    return backend.register(STANDIN)


@contextlib.contextmanager
def standin_device(policy="explicit"):
    """Runs the block with new tensors on '/device:STANDIN:0' and the given device policy."""
    import tenfold as tf
    from tenfold.framework import device as _device
    register()
    saved = _device.get_device_policy()
    _device.set_device_policy(policy)
    try:
        with tf.device("/device:STANDIN:0"):
            yield STANDIN
    finally:
        _device.set_device_policy(saved)


@contextlib.contextmanager
def standin_accelerator(policy=None):
    """Runs the block as on a machine whose accelerator is the stand-in: it is the default
    device of new tensors and variables outside tf.device scopes (as GPU:0 is when a GPU is
    usable), so the placement logic, Keras's batch transfers and saving through the host run
    in CI without a GPU. `policy`: the device policy for the block (None: TF's default)."""
    from tenfold.framework import device as _device
    register()
    saved_default = _device.default_backend()
    saved_policy = _device.get_device_policy() if policy is not None else None
    if policy is not None:
        _device.set_device_policy(policy)
    _device.set_default_backend(STANDIN)
    try:
        yield STANDIN
    finally:
        _device.set_default_backend(saved_default)
        if policy is not None:
            _device.set_device_policy(saved_policy)
