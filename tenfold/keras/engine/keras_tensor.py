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


def is_keras_tensor(x):
    return isinstance(x, KerasTensor)
