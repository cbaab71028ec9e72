"""`keras.Sequential`: a plain stack of layers.

With an input shape (an `Input`/`InputLayer` first, or `input_shape=` / `input_dim=` on the
first layer) the model is built at once, as a functional graph; without one it is built from
the first data it sees (batch dimension left unknown, so any batch size works afterwards).
"""
import inspect

from tenfold.keras.engine.keras_tensor import KerasTensor
from tenfold.keras.layers.input_layer import InputLayer
from tenfold.keras.layers.layer import Layer
from tenfold.keras.models.model import Model
from tenfold.util import nest


class Sequential(Model):
    def __new__(cls, *args, **kwargs):
        return Layer.__new__(cls)

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        self._init_trainer()
        Layer.__init__(self, trainable=trainable, name=name, **kwargs)
        self._functional = None
        self._seq_layers = []
        if layers:
            if not isinstance(layers, (list, tuple)):
                layers = [layers]
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        """Appends a layer (an `Input(...)` tensor is accepted as the first entry)."""
        if isinstance(layer, KerasTensor) and layer._keras_history is not None:
            origin = layer._keras_history[0]
            if isinstance(origin, InputLayer):
                layer = origin
        if not isinstance(layer, Layer):
            if isinstance(layer, type) and issubclass(layer, Layer):
                raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential "
                                 f"model. Received the class {layer.__name__}: did you forget "
                                 f"the parentheses, {layer.__name__}(...)?")
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer!r} (of type {type(layer).__name__})")
        if not self._seq_layers and not isinstance(layer, InputLayer):
            shape = getattr(layer, "_input_shape_arg", None)
            if shape is not None:
                self._seq_layers.append(InputLayer(
                    shape=shape, batch_size=getattr(layer, "_batch_size_arg", None)))
        for ref in self._seq_layers:
            if ref.name == layer.name and ref is not layer:
                raise ValueError(f"All layers added to a Sequential model should have unique "
                                 f"names. Name '{layer.name}' is already the name of a layer in "
                                 "this model. Update the `name` argument to pass a unique name.")
        if isinstance(layer, InputLayer) and self._seq_layers and \
                isinstance(self._seq_layers[0], InputLayer):
            raise ValueError(f"Sequential model '{self.name}' has already been configured to "
                             f"use input shape {self._seq_layers[0].batch_shape}. You cannot "
                             "add a different Input layer to it.")
        self._seq_layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self.built = False
            self._functional = None

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._seq_layers.pop()
        self.built = False
        self._functional = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        self.built = False
        self._functional = None
        if self._seq_layers and isinstance(self._seq_layers[0], InputLayer) and \
                len(self._seq_layers) > 1:
            self.build(self._seq_layers[0].batch_shape)

    def build(self, input_shape=None):
        if input_shape is None:
            return
        if isinstance(input_shape, dict) or (isinstance(input_shape, (list, tuple)) and
                                             input_shape and
                                             isinstance(input_shape[0], (list, tuple))):
            return  # nested input structures: run layer by layer
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
        if not self._seq_layers:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no "
                             "layers. Call `model.add(layer)`.")
        if isinstance(self._seq_layers[0], InputLayer):
            if self._seq_layers[0].batch_shape != input_shape and \
                    self._seq_layers[0].batch_shape[1:] != input_shape[1:]:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {self._seq_layers[0].batch_shape}. You cannot build it with "
                    f"input_shape {input_shape}.")
        else:
            dtype = self._seq_layers[0].compute_dtype
            try:
                from tenfold.framework import dtypes
                if not dtypes.as_dtype(dtype).is_floating:
                    dtype = None
            except TypeError:
                dtype = None
            self._seq_layers.insert(0, InputLayer(batch_shape=input_shape, dtype=dtype))
        x = self._seq_layers[0].output
        for layer in self._seq_layers[1:]:
            try:
                x = layer(x)
            except NotImplementedError:
                return
            except TypeError as e:
                sig = inspect.signature(layer.call)
                positional = [p for p in sig.parameters.values()
                              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                required = [p for p in positional if p.default is p.empty]
                if len(required) > 1:
                    raise ValueError(
                        "Layers added to a Sequential model can only have a single required "
                        f"positional argument, the input tensor. Layer {type(layer).__name__} "
                        f"has multiple required positional arguments: "
                        f"{[p.name for p in required]}") from e
                raise
            except ValueError as e:
                raise ValueError(f"{e}\n(while building Sequential model '{self.name}' with "
                                 f"input shape {input_shape}: the error is at layer "
                                 f"'{layer.name}')") from None
        from tenfold.keras.models.functional import Functional
        self._functional = Functional(inputs=self._seq_layers[0].output, outputs=x,
                                      name=self.name)  # errors name the user's model
        self._build_shapes = input_shape
        self.built = True

    def _maybe_build(self, args):
        if self.built:
            return
        first = args[0] if args else None
        if first is not None and not nest.is_nested(first) and hasattr(first, "shape"):
            # As Keras 3: built from data, the input keeps the batch size it was built with
            # (other batch sizes still run).
            self.build(tuple(first.shape))
        if not self.built:
            self.built = True  # nested inputs or no shape: layers build as the data flows

    def _build_from_batch(self, x):
        if not self.built:
            self._maybe_build((x,))

    def call(self, inputs, training=None, mask=None):
        if self._functional is not None:
            return self._functional.call(inputs, training=training, mask=mask)
        x = inputs
        for layer in self.layers:
            kwargs = {}
            if mask is not None and layer._call_has_mask:
                kwargs["mask"] = mask
            x = layer(x, **kwargs)
            mask = None
        return x

    def _convert_inputs(self, x):
        if self._functional is not None:
            return x
        return super()._convert_inputs(x)

    # ------------------------------------------------------------------ properties
    @property
    def layers(self):
        ls = self._seq_layers
        if ls and isinstance(ls[0], InputLayer):
            return ls[1:]
        return list(ls)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Sequential.layers` attribute is reserved and should not be used. "
                             "Use `add()` and `pop()` to change the layers in this model.")

    def _sublayers(self):
        return list(self._seq_layers)

    def _require_graph(self, what):
        if self._functional is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet: "
                                 "give the first layer an input shape or call the model on "
                                 "data first.")
        return self._functional

    @property
    def inputs(self):
        return self._require_graph("inputs").inputs

    @property
    def outputs(self):
        return self._require_graph("outputs").outputs

    @property
    def input(self):
        return self._require_graph("input").input

    @property
    def output(self):
        return self._require_graph("output").output

    @property
    def input_shape(self):
        return self._require_graph("input shape").input_shape

    @property
    def output_shape(self):
        return self._require_graph("output shape").output_shape

    @property
    def output_names(self):
        if self._functional is not None:
            return self._functional.output_names
        return None

    @property
    def input_dtype(self):
        ls = self._seq_layers
        if ls and isinstance(ls[0], InputLayer):
            return ls[0].dtype
        return super().input_dtype

    # ------------------------------------------------------------------ config
    def get_config(self):
        from tenfold.keras.engine.serialization import serialize_keras_object
        config = Model.get_config(self)
        config["name"] = self.name
        config["layers"] = [serialize_keras_object(l) for l in self._seq_layers]
        if self._functional is not None:
            config["build_input_shape"] = list(self._seq_layers[0].batch_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tenfold.keras.engine.serialization import deserialize_keras_object
        if "name" not in config or "layers" not in config:
            raise ValueError("A Sequential model configuration must be a dictionary containing "
                             f"the 'name' and 'layers' keys. Received: config={config}")
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for lc in config["layers"]:
            model.add(deserialize_keras_object(lc, custom_objects=custom_objects))
        shape = config.get("build_input_shape")
        if model._functional is None and shape and isinstance(shape, (list, tuple)):
            model.build(tuple(shape))
        return model

    def get_build_config(self):
        if self._functional is not None:
            return {"input_shape": list(self._seq_layers[0].batch_shape)}
        return None

    def build_from_config(self, config):
        if config and config.get("input_shape") and not self.built:
            self.build(tuple(config["input_shape"]))
