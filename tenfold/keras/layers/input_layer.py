"""`Input` and `InputLayer`: the entry points of a functional model (as Keras 3)."""
from tenfold.framework import dtypes
from tenfold.keras.engine.keras_tensor import KerasTensor
from tenfold.keras.engine.symbolic import Node
from tenfold.keras.layers.layer import Layer, _InputLayerMarker


def _standardize_shape(shape, what):
    if shape is None:
        return None
    if isinstance(shape, int):  # Keras 3 refuses a bare number too
        raise ValueError(f"Cannot convert {what}={shape!r} to a shape: a shape is a tuple, "
                         f"e.g. {what}=({shape},) for vectors of {shape} features.")
    try:
        return tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Cannot interpret {what}={shape!r} as a shape: pass a tuple of "
                         "integers (None for an unknown size), e.g. shape=(28, 28).") from None


class InputLayer(Layer, _InputLayerMarker):
    """The layer behind `keras.Input`: it holds the symbolic input tensor of a model."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        kwargs.pop("trainable", None)
        if kwargs:
            raise TypeError(f"InputLayer got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        super().__init__(name=name)
        if input_tensor is not None:
            if not isinstance(input_tensor, KerasTensor):
                raise ValueError("Argument `input_tensor` must be a KerasTensor. Received: "
                                 f"{input_tensor!r} (of type {type(input_tensor).__name__})")
            batch_shape = input_tensor.shape
            dtype = input_tensor.dtype
            sparse = input_tensor.sparse
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `shape` and `batch_shape` at the same "
                                 "time.")
            if batch_size is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the "
                                 "same time.")
            if shape is None and batch_shape is None:
                raise ValueError("You must pass a `shape` argument to Input, e.g. "
                                 "keras.Input(shape=(784,)) for flat 28x28 images.")
            if shape is not None:
                batch_shape = (batch_size,) + _standardize_shape(shape, "shape")
        self._batch_shape = _standardize_shape(batch_shape, "batch_shape")
        if dtype is None:
            from tenfold.keras import backend
            dtype = backend.floatx()
        self._dtype = dtypes.as_dtype(dtype).name
        self.sparse = bool(sparse)
        self.ragged = bool(ragged)
        self.optional = optional
        if input_tensor is None:
            input_tensor = KerasTensor(self._batch_shape, dtype=self._dtype, sparse=self.sparse,
                                       name=self.name)
        input_tensor._keras_history = (self, 0, 0)
        if input_tensor.name is None:
            input_tensor.name = self.name
        self._input_tensor = input_tensor
        self._inbound_nodes.append(Node(self, (), {}, input_tensor))
        self.built = True

    def call(self):
        return None

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def compute_dtype(self):
        return self._dtype

    def count_params(self):
        return 0

    def get_config(self):
        return {"batch_shape": self._batch_shape, "dtype": self._dtype, "sparse": self.sparse,
                "ragged": self.ragged, "name": self.name, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
        if config.get("batch_shape") is not None:
            config["batch_shape"] = tuple(config["batch_shape"])
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """A symbolic input for a functional model: `x = keras.Input(shape=(784,))`."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional)
    return layer.output
