"""`keras.Model`: a layer with a training loop.

`Model(inputs, outputs)` makes a functional model (`Functional`); subclassing `Model` and
defining `call` makes a subclassed model; `Sequential` is a model of stacked layers.
"""
import json
import warnings

import numpy as np

from tenfold.keras.engine.trainer import Trainer
from tenfold.keras.layers.layer import Layer, _UNTRACKED, _walk, _ctx
from tenfold.util import nest
from tenfold.util.tensor_meta import npd
from tenfold.framework.host import from_host

# Model attributes that hold objects other than the model's own sub-layers.
_MODEL_SKIP = frozenset({"_functional", "_compile_loss", "_compile_metrics", "_loss_tracker",
                         "optimizer", "history", "_plan", "_inputs_struct", "_outputs_struct",
                         "_inputs", "_outputs", "_nodes_by_depth", "train_function",
                         "test_function", "predict_function", "_compile_config", "loss"})


def functional_init_arguments(args, kwargs):
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or
            ("inputs" in kwargs and "outputs" in kwargs))


def _inject_functional_model_class(cls):
    """Subclasses of Model constructed with (inputs, outputs) become Functional subclasses."""
    from tenfold.keras.models.functional import Functional
    if cls is Model:
        return Functional
    if cls is object:
        return object
    if issubclass(cls, Functional):
        return cls
    cls.__bases__ = tuple(_inject_functional_model_class(b) for b in cls.__bases__)
    return cls


class Model(Trainer, Layer):
    """A model: `Model(inputs, outputs)` (functional API), or subclass it and define `call`."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and functional_init_arguments(args, kwargs):
            from tenfold.keras.models.functional import Functional
            return Layer.__new__(Functional)
        return Layer.__new__(cls)

    def __init__(self, *args, **kwargs):
        self._init_trainer()
        if functional_init_arguments(args, kwargs):
            from tenfold.keras.models.functional import Functional
            if not isinstance(self, Functional):
                _inject_functional_model_class(type(self))
            Functional.__init__(self, *args, **kwargs)
        else:
            if args:
                raise TypeError(
                    f"Model.__init__() got unexpected positional arguments {args!r}. Create a "
                    "functional model with Model(inputs, outputs), or subclass Model and call "
                    "super().__init__(**kwargs) in your __init__.")
            Layer.__init__(self, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(
            f"Model {type(self).__name__} does not have a `call()` method implemented. "
            "Subclassed models define `call(self, inputs, training=None)`.")

    # ------------------------------------------------------------------ tracking
    def _sublayers(self):
        out, seen = [], set()
        for key, v in self.__dict__.items():
            if key in _UNTRACKED or key in _MODEL_SKIP:
                continue
            for x in _walk(v):
                if isinstance(x, Layer) and x is not self and id(x) not in seen:
                    seen.add(id(x))
                    out.append(x)
        return out

    @property
    def layers(self):
        return list(self._flatten_layers(include_self=False, recursive=False))

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. "
                             "Please use another name.")

    def get_layer(self, name=None, index=None):
        """A layer by `name` or by `index` (in `model.layers`)."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[l.name for l in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # ------------------------------------------------------------------ build
    def _maybe_build(self, args):
        if self.built:
            return
        if type(self).build is not Model.build and "build" in _own_class_attrs(type(self)):
            Layer._maybe_build(self, args)
            return
        first = args[0] if args else None
        self._build_shapes = nest.map_structure(
            lambda x: tuple(x.shape) if hasattr(x, "shape") else None, first) \
            if first is not None else None
        self.built = True  # the call itself builds the sub-layers

    def build(self, input_shape=None):
        """Builds a subclassed model by running it once on placeholder data of that shape."""
        if self.built or input_shape is None:
            self.built = True if input_shape is not None else self.built
            return
        from tenfold.framework.tensor import Tensor
        from tenfold.ops import registry

        def zeros(shape):
            return from_host(np.zeros(tuple(1 if d is None else int(d) for d in shape),
                                         dtype=self.compute_dtype))
        if isinstance(input_shape, dict):
            x = {k: zeros(s) for k, s in input_shape.items()}
        elif isinstance(input_shape, (list, tuple)) and input_shape and \
                isinstance(input_shape[0], (list, tuple)):
            x = [zeros(s) for s in input_shape]
        else:
            x = zeros(input_shape)
        saved = list(registry.observers)
        registry.observers[:] = []
        try:
            self(x, training=False)
        except NotImplementedError:
            pass
        finally:
            registry.observers[:] = saved
        self._build_shapes = tuple(input_shape) if not isinstance(input_shape, dict) \
            else input_shape
        self.built = True

    def _model_needs_build(self):
        if not all(l.built for l in self._flatten_layers(include_self=False)):
            return True
        return not self.built and type(self).call is not Model.call

    # ------------------------------------------------------------------ summary / weights
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None, show_flops=True):
        """Prints the layers, output shapes and parameter counts as Keras does (`print_fn`, if
        given, receives the whole text). Beyond Keras, a FLOPs column (forward, per sample)
        and parameter/activation memory are shown; `show_flops=False` prints Keras's table."""
        from tenfold.keras.engine.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range, show_flops=show_flops)

    def count_params(self):
        if not self.built or any(not l.built for l in self._flatten_layers(include_self=False)):
            raise ValueError(
                f"You tried to call `count_params` on model '{self.name}', but the model isn't "
                "built yet. Build it first: give the first layer an input shape "
                "(`Input(shape=...)` or `input_shape=...`), call `model.build(input_shape)`, "
                "or call the model on a batch of data.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def set_weights(self, weights):
        params = self.weights
        weights = list(weights)
        if len(params) != len(weights):
            raise ValueError(
                f"Model '{self.name}' has {len(params)} weights but set_weights received "
                f"{len(weights)} arrays." + (" The model has no weights yet: build it (call it "
                                             "on data) first." if not params else ""))
        for v, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(v.shape) != w.shape:
                raise ValueError(f"Weight '{getattr(v, 'path', v.name)}' has shape "
                                 f"{tuple(v.shape)}, but the provided array has shape "
                                 f"{w.shape}.")
        for v, w in zip(params, weights):
            v.assign(np.asarray(w, dtype=npd(v)))

    # ------------------------------------------------------------------ saving
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        from tenfold.keras import saving
        return saving.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        from tenfold.keras import saving
        return saving.save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        from tenfold.keras import saving
        return saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    # Keras 3's deployment entry point; the formats live in tenfold/export (format="onnx").
    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        from tenfold.export import export_model
        return export_model(self, filepath, format=format, verbose=verbose,
                            input_signature=input_signature, **kwargs)

    def to_json(self, **kwargs):
        from tenfold.keras.engine.serialization import serialize_keras_object
        return json.dumps(serialize_keras_object(self), default=_json_default, **kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = Layer.get_config(self)
        config.pop("batch_input_shape", None)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tenfold.keras.models.functional import Functional, functional_from_config
        keys = ("name", "layers", "input_layers", "output_layers")
        if all(k in config for k in keys) and (cls in (Functional, Model) or
                                               issubclass(cls, Functional)):
            return functional_from_config(cls, config, custom_objects=custom_objects)
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            from tenfold.keras.mixed_precision import policy as _policy
            config["dtype"] = _policy.get(config["dtype"]).name
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                f"Unable to revive model from config. When overriding the `get_config()` "
                f"method, make sure that the returned config contains all items used as "
                f"arguments in the constructor to {cls.__name__}, or define `from_config`. "
                f"Received config={config}. Error: {e}") from None

    def get_build_config(self):
        if self._build_shapes is not None:
            shapes = self._build_shapes
            return {"input_shape": _listify(shapes)}
        return None

    def build_from_config(self, config):
        if not config:
            return
        shape = config.get("input_shape")
        if shape is None:
            return
        try:
            self.build(_tuplify(shape))
        except Exception:  # noqa: BLE001 - as Keras: warn, the model builds on first call
            warnings.warn(f"Model '{self.name}' had a build config, but the model cannot be "
                          "built automatically in `build_from_config(config)`.", stacklevel=2)

    def __reduce__(self):
        from tenfold.keras.engine.serialization import (serialize_keras_object,
                                                        deserialize_keras_object)
        return (_revive, (serialize_keras_object(self), self.get_weights(),
                          deserialize_keras_object))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _revive(config, weights, deserialize):
    model = deserialize(config)
    if weights:
        model.set_weights(weights)
    return model


def _own_class_attrs(cls):
    out = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("tenfold.keras."):
            break
        out.update(klass.__dict__)
    return out


def _listify(v):
    if isinstance(v, (list, tuple)):
        return [_listify(x) for x in v]
    if isinstance(v, dict):
        return {k: _listify(x) for k, x in v.items()}
    return v


def _tuplify(v):
    if isinstance(v, list):
        if v and all(isinstance(x, list) for x in v):
            return [_tuplify(x) for x in v]
        return tuple(v)
    if isinstance(v, dict):
        return {k: _tuplify(x) for k, x in v.items()}
    return v


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def in_call():
    return bool(_ctx.stack)
