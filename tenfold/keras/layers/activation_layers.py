"""Activation layers with parameters: ReLU, LeakyReLU, Softmax, ELU, PReLU."""
from tenfold.keras import activations
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn
from tenfold.ops._convert import tensor
from tenfold.keras.ops import _logits


class _Elementwise(Layer):
    supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_Elementwise):
    """`ReLU(max_value=None, negative_slope=0.0, threshold=0.0)`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: max_value must be >= 0, got {max_value}")
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"ReLU: negative_slope must be >= 0, got {negative_slope}")
        if threshold is None or threshold < 0:
            raise ValueError(f"ReLU: threshold must be >= 0, got {threshold}")
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class LeakyReLU(_Elementwise):
    """`LeakyReLU(negative_slope=0.3)`: x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # tf.keras 2 name
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be >= 0, got {negative_slope}")
        self.negative_slope = negative_slope

    def call(self, inputs):
        return nn.leaky_relu(inputs, alpha=self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class Softmax(_Elementwise):
    """Softmax over `axis`; masked positions (mask False) get probability 0."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        x = inputs
        if mask is not None:
            mask = tensor(mask)
            if mask.ndim > x.ndim:
                raise ValueError(f"Softmax layer \"{self.name}\": the mask must be "
                                 f"broadcastable to the inputs, got inputs.shape="
                                 f"{tuple(x.shape)}, mask.shape={tuple(mask.shape)}")
            if not mask.dtype.is_bool:
                mask = m.greater(mask, 0.5)
            big = -3e4 if x.dtype.name == "float16" else -1e9
            x = m.where(mask, x, m.multiply(m.ones_like(x), big))
        if isinstance(self.axis, (tuple, list)):
            if len(self.axis) > 1:
                out = m.exp(m.subtract(x, m.reduce_logsumexp(x, axis=list(self.axis),
                                                              keepdims=True)))
            else:
                out = _logits.tag(nn.softmax(x, axis=self.axis[0]), x)
        else:
            out = _logits.tag(nn.softmax(x, axis=self.axis), x)  # as activations.softmax
        if mask is not None:
            out = m.where(mask, out, m.zeros_like(out))
        return out

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class ELU(_Elementwise):
    """`ELU(alpha=1.0)`: x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class PReLU(_Elementwise):
    """Leaky ReLU with a learned slope `alpha` per input element (shared along
    `shared_axes`)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = U.get_init(alpha_initializer)
        self.alpha_regularizer = U.get_reg(alpha_regularizer)
        self.alpha_constraint = U.get_con(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = list(shared_axes)
        else:
            self.shared_axes = [shared_axes]
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        if self.shared_axes is not None:
            for i in self.shared_axes:
                shape[i - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU layer \"{self.name}\": every non-shared axis must have a "
                             f"known size, got input shape {tuple(input_shape)}; share the "
                             "unknown axes with `shared_axes`.")
        self.alpha = self.add_weight(shape=shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        axes = {}
        if self.shared_axes:
            for i in range(1, len(input_shape)):
                if i not in self.shared_axes:
                    axes[i] = input_shape[i]
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)
        self.built = True

    def call(self, inputs):
        pos = nn.relu(inputs)
        neg = m.multiply(m.negative(self.alpha), nn.relu(m.negative(inputs)))
        return m.add(pos, neg)

    def get_config(self):
        config = super().get_config()
        config.update({"alpha_initializer": U.ser_init(self.alpha_initializer),
                       "alpha_regularizer": U.ser_reg(self.alpha_regularizer),
                       "alpha_constraint": U.ser_con(self.alpha_constraint),
                       "shared_axes": self.shared_axes})
        return config
