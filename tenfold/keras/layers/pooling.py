"""Pooling layers: MaxPooling1D/2D, AveragePooling1D/2D and the global poolings."""
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m


def _conv_ops():
    from tenfold.ops import conv_ops
    return conv_ops


class _Pooling(Layer):
    _promotes_numeric_inputs = True  # pooling windows run on floats
    _rank = 2
    _kind = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        cls = type(self).__name__
        self.pool_size = U.normalize_tuple(pool_size, self._rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else \
            U.normalize_tuple(strides, self._rank, "strides", cls)
        self.padding = U.normalize_padding(padding, cls)
        self.data_format = U.normalize_data_format(data_format, cls)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def call(self, inputs):
        x = inputs
        cf = self.data_format == "channels_first"
        nd = self._rank + 2
        if cf:
            x = a.transpose(x, (0,) + tuple(range(2, nd)) + (1,))
        sp = tuple(x.shape[1:-1])
        if self.padding == "valid" and any(n < k for n, k in zip(sp, self.pool_size)):
            raise ValueError(
                f"{type(self).__name__} layer \"{self.name}\": the input of shape "
                f"{tuple(inputs.shape)} is smaller than pool_size {self.pool_size}; the output "
                "would be empty. Use padding='same', a smaller pool_size, or fewer "
                "downsampling layers before this one.")
        y = self._pool(x, self.padding.upper())
        if cf:
            y = a.transpose(y, (0, nd - 1) + tuple(range(1, nd - 1)))
        return y

    def _pool(self, x, pad):
        """The pooling op on channels-last `x` (3-D layers: tenfold/keras/layers/conv3d.py)."""
        ops = _conv_ops()
        if self._rank == 1:
            fn = ops.max_pool1d if self._kind == "max" else ops.avg_pool1d
            return fn(x, self.pool_size[0], self.strides[0], pad)
        fn = ops.max_pool2d if self._kind == "max" else ops.avg_pool2d
        return fn(x, list(self.pool_size), list(self.strides), pad)

    def compute_output_shape(self, input_shape):
        cf = self.data_format == "channels_first"
        sp_axes = range(2, self._rank + 2) if cf else range(1, self._rank + 1)
        out = list(input_shape)
        for ax, k, s in zip(sp_axes, self.pool_size, self.strides):
            out[ax] = U.conv_output_length(out[ax], k, self.padding, s)
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps (strides default to pool_size)."""
    _rank, _kind = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling2D(_Pooling):
    """Max over `pool_size` windows of images (strides default to pool_size)."""
    _rank, _kind = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of `pool_size` steps ('same' padding averages real values only)."""
    _rank, _kind = 1, "avg"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling2D(_Pooling):
    """Mean over `pool_size` windows of images."""
    _rank, _kind = 2, "avg"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class _GlobalPooling(Layer):
    _rank = 2
    _kind = "avg"

    @property
    def _promotes_numeric_inputs(self):  # a mean of bools / ints is a float (Keras's promotion)
        return self._kind == "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format, type(self).__name__)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def _axes(self):
        if self.data_format == "channels_last":
            return list(range(1, self._rank + 1))
        return list(range(2, self._rank + 2))

    def call(self, inputs):
        if self._kind == "avg":
            fn = m.reduce_mean
        else:  # the max of booleans is `any`, and stays bool (as Keras)
            fn = m.reduce_any if inputs.dtype == "bool" else m.reduce_max
        return fn(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis; masked steps are left out of the mean."""
    _rank, _kind = 1, "avg"
    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        ax = 1 if self.data_format == "channels_last" else 2
        mk = a.expand_dims(m.cast(mask, "bool"), 2 if ax == 1 else 1)
        x = m.where(mk, inputs, m.zeros_like(inputs))
        fm = m.cast(mk, inputs.dtype)
        return m.divide(m.reduce_sum(x, axis=ax, keepdims=self.keepdims),
                        m.reduce_sum(fm, axis=ax, keepdims=self.keepdims))

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: (batch, h, w, c) -> (batch, c)."""
    _rank, _kind = 2, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps axis."""
    _rank, _kind = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over height and width: (batch, h, w, c) -> (batch, c)."""
    _rank, _kind = 2, "max"


MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
