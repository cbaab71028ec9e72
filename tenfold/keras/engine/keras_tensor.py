"""KerasTensor: the symbolic value flowing through a functional model being defined."""
from tenfold.framework import dtypes


class KerasTensor:
    """A placeholder with a shape (None for unknown dims), a dtype and the layer call that
    produced it (`_keras_history = (layer, node_index, tensor_index)`)."""

    def __init__(self, shape, dtype="float32", sparse=False, name=None, record_history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype).name
        self.sparse = sparse
        self.name = name
        self._keras_history = record_history
        self._keras_mask = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
                f"name={self.name}>")

    def __len__(self):
        raise TypeError("len() of a symbolic KerasTensor is undefined; use tensor.shape.")

    def __iter__(self):
        raise TypeError("Symbolic KerasTensors cannot be iterated: they hold no values while "
                        "the model is being defined.")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no truth value: it holds no data while the "
                        "model is being defined. Use keras.ops.cond or move the logic into "
                        "a layer's call().")

    def numpy(self):
        raise ValueError("A KerasTensor is symbolic and has no value: call the model on real "
                         "data (model.predict(x) or model(x)) to get numbers.")

    def __array__(self, *args, **kwargs):
        raise TypeError("A symbolic KerasTensor cannot be converted to a NumPy array: it is a "
                        "placeholder used to define a functional model. Pass real data to "
                        "the model instead.")

    def __hash__(self):
        return id(self)

    def __getitem__(self, key):
        from tenfold.keras import ops
        return ops.get_item(self, key)

    def __round__(self, ndigits=None):
        from tenfold.keras import ops
        return ops.round(self, ndigits or 0)


def _binary(op_name, reflected=False):
    def method(self, other):
        from tenfold.keras import ops
        fn = getattr(ops, op_name)
        return fn(other, self) if reflected else fn(self, other)
    return method


def _unary(op_name):
    def method(self):
        from tenfold.keras import ops
        return getattr(ops, op_name)(self)
    return method


# Arithmetic on symbolic tensors becomes keras.ops calls, i.e. nodes of the functional model
# (as Keras 3's KerasTensor); `==` stays identity, as there.
for _dunder, _op in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                     ("matmul", "matmul"), ("truediv", "true_divide"), ("div", "true_divide"),
                     ("floordiv", "floor_divide"), ("mod", "mod"), ("pow", "power"),
                     ("and", "logical_and"), ("or", "logical_or"), ("xor", "logical_xor")):
    setattr(KerasTensor, f"__{_dunder}__", _binary(_op))
    setattr(KerasTensor, f"__r{_dunder}__", _binary(_op, reflected=True))
for _dunder, _op in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                     ("ge", "greater_equal"), ("ne", "not_equal")):
    setattr(KerasTensor, f"__{_dunder}__", _binary(_op))
for _dunder, _op in (("neg", "negative"), ("abs", "absolute"), ("invert", "logical_not")):
    setattr(KerasTensor, f"__{_dunder}__", _unary(_op))
del _dunder, _op


def is_keras_tensor(x):
    return isinstance(x, KerasTensor)
