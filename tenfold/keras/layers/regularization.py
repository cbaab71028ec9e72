"""Noise and dropout variants active only in training: GaussianNoise, GaussianDropout,
SpatialDropout1D/2D, AlphaDropout, plus ActivityRegularization."""
import math

from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers.core import Dropout
from tenfold.keras.layers import _utils as U
from tenfold.ops import math_ops as m
from tenfold.ops import random_ops


def _rate(rate, cls):
    if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"{cls}: `rate` must be a float between 0 and 1, got rate={rate!r}")
    return rate


class GaussianNoise(Layer):
    """Adds zero-mean normal noise of standard deviation `stddev` in training."""

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev:
            raise ValueError(f"GaussianNoise: `stddev` must be >= 0, got {stddev}")
        self.stddev = stddev
        self.seed = seed

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            noise = random_ops.normal(tuple(inputs.shape), 0.0, self.stddev, dtype=inputs.dtype,
                                      seed=self.seed)
            return m.add(inputs, noise)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


class GaussianDropout(Layer):
    """Multiplies inputs by normal noise of mean 1 and stddev sqrt(rate / (1 - rate)) in
    training."""

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "GaussianDropout")
        self.seed = seed

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            std = math.sqrt(self.rate / (1.0 - self.rate))
            noise = random_ops.normal(tuple(inputs.shape), 1.0, std, dtype=inputs.dtype,
                                      seed=self.seed)
            return m.multiply(inputs, noise)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


class SpatialDropout1D(Dropout):
    """Dropout of whole channels: (batch, steps, channels) with one draw per channel."""

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def _noise(self, inputs):
        s = tuple(inputs.shape)
        return (s[0], 1, s[2])

    def get_config(self):
        return _spatial_config(self)


def _spatial_config(layer):
    """Keras 3's SpatialDropout configs: rate, seed, name and dtype (a string)."""
    return {"rate": layer.rate, "seed": layer.seed, "name": layer.name,
            "dtype": layer.dtype_policy.name}


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: one draw per (sample, channel)."""

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = U.normalize_data_format(data_format, "SpatialDropout2D")
        self.input_spec = InputSpec(ndim=4)

    def _noise(self, inputs):
        s = tuple(inputs.shape)
        if self.data_format == "channels_first":
            return (s[0], s[1], 1, 1)
        return (s[0], 1, 1, s[3])

    def get_config(self):
        config = _spatial_config(self)
        config["data_format"] = self.data_format
        return config


class AlphaDropout(Layer):
    """Dropout for SELU networks: keeps the inputs' mean and variance."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "AlphaDropout")
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        shape = tuple(inputs.shape) if self.noise_shape is None else tuple(
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        alpha = 1.6732632423543772848170429916717
        scale = 1.0507009873554804934193349852946
        alpha_p = -alpha * scale
        keep = m.cast(m.greater_equal(random_ops.uniform(shape, dtype=inputs.dtype,
                                                         seed=self.seed), self.rate),
                      inputs.dtype)
        a_ = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b_ = -a_ * alpha_p * self.rate
        x = m.add(m.multiply(inputs, keep), m.multiply(m.subtract(1.0, keep), alpha_p))
        return m.add(m.multiply(x, a_), b_)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


class ActivityRegularization(Layer):
    """Adds l1 * sum(|x|) + l2 * sum(x**2) of its inputs to the model's losses."""

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from tenfold.keras import regularizers
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1
        self.l2 = l2

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config
