"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Permute, RepeatVector, Lambda,
Identity, Masking, Embedding."""
import base64
import marshal
import types

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras import activations as _activations
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn
from tenfold.framework.host import eager_values
from tenfold.util.tensor_meta import npd, shape_of


class Dense(Layer):
    """A fully connected layer: `activation(inputs @ kernel + bias)` on the last axis.

    >>> Dense(4, activation="relu")(tf.ones((2, 3))).shape
    TensorShape([2, 4])
    """
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: `units` must be a positive integer, got units={units!r}")
        self.units = int(units)
        self.activation = U.get_act(activation)
        self.use_bias = bool(use_bias)
        U.set_kernel_bias_options(self, kernel_initializer, bias_initializer,
                                  kernel_regularizer, bias_regularizer, kernel_constraint,
                                  bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer \"{self.name}\": the last dimension of the inputs "
                             f"must be known, got input shape {tuple(input_shape)}.")
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        if x.ndim == 2:
            y = m.matmul(x, self.kernel)
        else:
            lead = shape_of(x)[:-1]
            y = m.matmul(a.reshape(x, (-1, shape_of(x)[-1])), self.kernel)
            y = a.reshape(y, lead + (self.units,))
        if self.bias is not None:
            y = m.add(y, self.bias)
        if self.activation is not _activations.linear:
            y = self.activation(y)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": U.ser_act(self.activation),
            "use_bias": self.use_bias, **U.weight_options_config(self, ("kernel", "bias")),
            "quantization_config": None})
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = U.ser_reg(self.activity_regularizer)
        return config


class Activation(Layer):
    """Applies an activation function: `Activation('relu')`."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = U.get_act(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["activation"] = U.ser_act(self.activation)
        return config


class Dropout(Layer):
    """Sets inputs to 0 with probability `rate` during training (scaling the others by
    1 / (1 - rate)); passes them through at inference."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: `rate` must be a float between 0 and 1, got "
                             f"rate={rate!r}")
        self.rate = rate
        self.seed = seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            if self.rate >= 1:
                return m.multiply(inputs, 0.0)
            return nn.dropout(inputs, self.rate, noise_shape=self._noise(inputs),
                              seed=self.seed)
        return inputs

    def _noise(self, inputs):
        return self.noise_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


class Flatten(Layer):
    """Flattens every axis but the batch axis: (batch, 28, 28) -> (batch, 784)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format, "Flatten")
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        x = inputs
        nd = x.ndim
        if self.data_format == "channels_first" and nd > 2:
            x = a.transpose(x, (0,) + tuple(range(2, nd)) + (1,))
        n = shape_of(x)[0] if nd else 1
        return a.reshape(x, (n, -1) if nd > 1 else (n, 1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest)) if rest else 1
        return (input_shape[0], size)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshapes the non-batch axes to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) if d is not None else -1 for d in target_shape)
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ValueError(f"Reshape: at most one dimension of target_shape may be -1, got "
                             f"{self.target_shape}")

    def _resolved(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return self.target_shape
        n = int(np.prod(rest))
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if known == 0 or n % known:
                raise ValueError(self._msg(input_shape))
            return tuple(n // known if d == -1 else d for d in self.target_shape)
        if known != n:
            raise ValueError(self._msg(input_shape))
        return self.target_shape

    def _msg(self, input_shape):
        return (f"Reshape layer \"{self.name}\": cannot reshape input of shape "
                f"{tuple(input_shape)} ({int(np.prod(input_shape[1:]))} values per sample) into "
                f"target_shape {self.target_shape}; the number of values per sample must stay "
                "the same.")

    def call(self, inputs):
        shape = tuple(shape_of(inputs))
        return a.reshape(inputs, (shape[0],) + self._resolved(shape))

    def compute_output_shape(self, input_shape):
        out = self._resolved(tuple(input_shape))
        return (input_shape[0],) + tuple(None if d == -1 else d for d in out)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


class Permute(Layer):
    """Permutes the non-batch axes: `Permute((2, 1))` swaps axes 1 and 2 (1-indexed)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: `dims` must be a permutation of 1..{len(self.dims)} "
                             f"(the batch axis 0 is never permuted), got dims={self.dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return a.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config


class RepeatVector(Layer):
    """Repeats a (batch, features) input n times: (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"RepeatVector: `n` must be an integer, got {n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return a.tile(a.expand_dims(inputs, 1), (1, self.n, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


# --- Lambda ------------------------------------------------------------------------------------

def _unsafe_allowed(safe_mode):
    if safe_mode is False:
        return True
    try:
        from tenfold.keras import config as kconfig
        fn = getattr(kconfig, "is_unsafe_deserialization_enabled", None) or \
            getattr(kconfig, "unsafe_deserialization_enabled", None)
        if fn is not None and fn():
            return True
    except Exception:
        pass
    try:
        from tenfold.keras.saving import serialization_lib as ser
        in_safe = getattr(ser, "in_safe_mode", None)
        if in_safe is not None and in_safe() is False:
            return True
    except Exception:
        pass
    return False


def _serialize_function(fn):
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__,
                           "closure": tuple(c.cell_contents for c in fn.__closure__)
                           if fn.__closure__ else None}}
    # a named function as Keras 3 writes one: ("builtins", "function", its registered name)
    from tenfold.keras.saving.object_registration import get_registered_name
    return {"module": "builtins", "class_name": "function",
            "config": get_registered_name(fn), "registered_name": "function"}


def _deserialize_function(config, custom_objects, safe_mode, what):
    if callable(config):
        return config
    if isinstance(config, dict) and config.get("class_name") == "__lambda__":
        if not _unsafe_allowed(safe_mode):
            raise ValueError(
                f"Requested the deserialization of a Lambda layer whose {what} is a Python "
                "lambda. Loading it would run code stored in the file, which is refused by "
                "default. If you trust the file, pass `safe_mode=False` to `load_model` (or call "
                "`keras.config.enable_unsafe_deserialization()`); better, define the function in "
                "your code and pass it via `custom_objects`.")
        c = config["config"]
        code = marshal.loads(base64.b64decode(c["code"].encode("ascii")))
        closure = c.get("closure")
        if closure is not None:
            closure = tuple(types.CellType(v) for v in closure)
        defaults = tuple(c["defaults"]) if c.get("defaults") is not None else None
        return types.FunctionType(code, globals(), "<lambda>", defaults, closure)
    name = config.get("config") if isinstance(config, dict) else config
    if isinstance(name, str):
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        try:
            from tenfold.keras.saving import get_registered_object
            obj = get_registered_object(name)
            if obj is None and isinstance(config, dict) and \
                    config.get("registered_name") not in (None, "function"):
                obj = get_registered_object(config["registered_name"])
            if obj is not None:
                return obj
        except Exception:
            pass
        from tenfold.keras import activations
        try:
            return activations.get(name)
        except ValueError:
            pass
    raise ValueError(f"Lambda: cannot find the function {name!r} for its {what}; pass it in "
                     "`custom_objects={...}` when loading.")


class Lambda(Layer):
    """Wraps a function as a layer: `Lambda(lambda x: x ** 2)`."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable, got {function!r}")
        self.function = function
        self._output_shape = output_shape
        self.mask = mask
        self.arguments = arguments or {}
        self.supports_masking = mask is not None

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        import inspect
        try:
            params = inspect.signature(self.function).parameters
        except (TypeError, ValueError):
            params = {}
        if "mask" in params:
            kwargs["mask"] = mask
        if "training" in params:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (input_shape[0],) + tuple(self._output_shape)

    def get_config(self):
        config = super().get_config()
        config["function"] = _serialize_function(self.function)
        if self._output_shape is not None:
            config["output_shape"] = (_serialize_function(self._output_shape)
                                      if callable(self._output_shape)
                                      else tuple(self._output_shape))
        if self.mask is not None:
            config["mask"] = (_serialize_function(self.mask) if callable(self.mask)
                              else self.mask)
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        config = dict(config)
        config["function"] = _deserialize_function(config["function"], custom_objects,
                                                   safe_mode, "function")
        if isinstance(config.get("output_shape"), dict):
            config["output_shape"] = _deserialize_function(config["output_shape"],
                                                           custom_objects, safe_mode,
                                                           "output_shape")
        if isinstance(config.get("mask"), dict):
            config["mask"] = _deserialize_function(config["mask"], custom_objects, safe_mode,
                                                   "mask")
        return super().from_config.__func__(cls, config)


class Identity(Layer):
    """Returns its input unchanged."""

    supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Masking(Layer):
    """Masks timesteps whose features all equal `mask_value` (for RNNs downstream) and sets
    them to 0."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def compute_mask(self, inputs, mask=None):
        return m.reduce_any(m.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = m.reduce_any(m.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return m.multiply(inputs, m.cast(keep, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


class Embedding(Layer):
    """Maps integer indices in [0, input_dim) to dense vectors of size `output_dim`."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        kwargs.pop("input_length", None)
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        if self.input_dim <= 0 or self.output_dim <= 0:
            raise ValueError(f"Embedding: input_dim and output_dim must be positive, got "
                             f"input_dim={input_dim}, output_dim={output_dim}")
        self.embeddings_initializer = U.get_init(embeddings_initializer)
        self.embeddings_regularizer = U.get_reg(embeddings_regularizer)
        self.embeddings_constraint = U.get_con(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False
        self._initial_weights = weights
        self.embeddings = None

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer, regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs):
        x = inputs
        if npd(x).kind not in "iu":
            x = m.cast(x, "int32")
        v = eager_values(x)  # a friendly error eagerly; gather checks indices in graphs
        if v is not None and v.size and (v.min() < 0 or v.max() >= self.input_dim):
            bad = int(v.max()) if v.max() >= self.input_dim else int(v.min())
            raise ValueError(f"Embedding layer \"{self.name}\" received index {bad}, outside "
                             f"[0, input_dim={self.input_dim}). Make input_dim at least the "
                             "vocabulary size (largest index + 1).")
        out = a.gather(self.embeddings, x, axis=0)
        cdt = self.compute_dtype
        if out.dtype.name != cdt:
            out = m.cast(out, cdt)
        return out

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return m.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": U.ser_init(self.embeddings_initializer),
            "embeddings_regularizer": U.ser_reg(self.embeddings_regularizer),
            "activity_regularizer": U.ser_reg(self.activity_regularizer),
            "embeddings_constraint": U.ser_con(self.embeddings_constraint),
            "mask_zero": self.mask_zero, "quantization_config": None})
        return config


_ = Tensor
