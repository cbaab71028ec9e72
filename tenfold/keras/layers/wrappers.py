"""Layer wrappers: Bidirectional (an RNN run forwards and backwards) and TimeDistributed (a
layer applied to every timestep)."""
import inspect

from tenfold.keras.layers.layer import Layer
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m


def _ser(layer):
    from tenfold.keras.layers import serialize
    return serialize(layer)


def _deser(config, custom_objects=None):
    from tenfold.keras.layers import deserialize
    return deserialize(config, custom_objects)


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs a copy of an RNN layer forwards and another backwards over the sequence and merges
    their outputs (`merge_mode`: 'concat' (default), 'sum', 'mul', 'ave' or None for a list).
    Weights: the forward layer's, then the backward layer's."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if isinstance(layer, dict):
            layer = _deser(layer)
        if isinstance(backward_layer, dict):
            backward_layer = _deser(backward_layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional: `layer` must be a Layer (an RNN such as LSTM(64)), "
                             f"got {layer!r}")
        if merge_mode not in ("sum", "mul", "ave", "concat", None):
            raise ValueError(f"Bidirectional: merge_mode must be one of 'sum', 'mul', 'ave', "
                             f"'concat' or None, got {merge_mode!r}")
        super().__init__(**kwargs)
        cfg = _ser(layer)
        cfg["config"] = dict(cfg["config"])
        cfg["config"]["name"] = "forward_" + _strip(layer.name, "forward_")
        cfg.pop("build_config", None)
        self.forward_layer = _deser(cfg)
        if backward_layer is None:
            bcfg = _ser(layer)
            bcfg["config"] = dict(bcfg["config"])
            bcfg["config"]["go_backwards"] = not bcfg["config"].get("go_backwards", False)
            bcfg["config"]["name"] = "backward_" + _strip(layer.name, "backward_")
            bcfg.pop("build_config", None)
            self.backward_layer = _deser(bcfg)
        else:
            self.backward_layer = backward_layer
        for attr in ("return_sequences", "return_state"):
            if getattr(self.forward_layer, attr, None) != getattr(self.backward_layer, attr, None):
                raise ValueError(f"Bidirectional: forward and backward layers must have the same "
                                 f"`{attr}`.")
        for lyr in (self.forward_layer, self.backward_layer):
            # masked steps give zeros when returning sequences (as Keras)
            if getattr(lyr, "zero_output_for_mask", None) is not None:
                lyr.zero_output_for_mask = lyr.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = getattr(self.forward_layer, "return_sequences", False)
        self.return_state = getattr(self.forward_layer, "return_state", False)
        self.stateful = getattr(self.forward_layer, "stateful", False)
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, sequences_shape, initial_state_shape=None):
        for lyr in (self.forward_layer, self.backward_layer):
            if not lyr.built:
                lyr.build(sequences_shape)
                lyr.built = True
                lyr._build_shapes = tuple(sequences_shape)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        fkw, bkw = {}, {}
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            fkw["initial_state"], bkw["initial_state"] = states[:half], states[half:]
        if mask is not None:
            fkw["mask"] = bkw["mask"] = mask
        if training is not None:
            fkw["training"] = bkw["training"] = training
        y = self.forward_layer(sequences, **fkw)
        y_rev = self.backward_layer(sequences, **bkw)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = a.reverse(y_rev, [1])
        if self.merge_mode == "concat":
            out = a.concat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = m.add(y, y_rev)
        elif self.merge_mode == "ave":
            out = m.multiply(m.add(y, y_rev), 0.5)
        elif self.merge_mode == "mul":
            out = m.multiply(y, y_rev)
        else:
            out = [y, y_rev]
        if self.return_state:
            return (list(out) if self.merge_mode is None else [out]) + states
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        out = [out, out] if self.merge_mode is None else out
        if self.return_state:
            n = len(getattr(self.forward_layer, "state_size", [1])) * 2
            return (out if isinstance(out, list) else [out]) + [None] * n
        return out

    def reset_state(self):
        for lyr in (self.forward_layer, self.backward_layer):
            if hasattr(lyr, "reset_state"):
                lyr.reset_state()

    reset_states = reset_state

    def get_config(self):
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = _ser(self.forward_layer)
        config["backward_layer"] = _ser(self.backward_layer)
        for c in (config["layer"], config["backward_layer"]):
            c.pop("build_config", None)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = _deser(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deser(config["backward_layer"], custom_objects)
        return super().from_config.__func__(cls, config)


class TimeDistributed(Layer):
    """Applies `layer` to every timestep of (batch, time, ...) inputs, with the same weights."""

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = _deser(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: `layer` must be a Layer, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed layer \"{self.name}\" expects inputs of rank >= 3 "
                             f"(batch, time, ...), got input shape {tuple(input_shape)}.")
        if not self.layer.built:
            inner = (None,) + tuple(input_shape[2:])
            self.layer.build(inner)
            self.layer.built = True
            self.layer._build_shapes = inner
        self.built = True

    def call(self, inputs, training=None, mask=None):
        s = tuple(inputs.shape)
        b, t = s[0], s[1]
        x = a.reshape(inputs, (b * t,) + s[2:])
        kw = {}
        params = inspect.signature(self.layer.call).parameters
        if training is not None and ("training" in params or self.layer._call_var_kwargs):
            kw["training"] = training
        if mask is not None and "mask" in params:
            kw["mask"] = a.reshape(mask, (b * t,) + tuple(mask.shape[2:]))
        y = self.layer(x, **kw)
        ys = tuple(y.shape)
        return a.reshape(y, (b, t) + ys[1:])

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        config = super().get_config()
        c = _ser(self.layer)
        c.pop("build_config", None)
        config["layer"] = c
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = _deser(config["layer"], custom_objects)
        return super().from_config.__func__(cls, config)
