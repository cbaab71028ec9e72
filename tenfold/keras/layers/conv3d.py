"""Volumetric layers (Keras 3's): Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D,
GlobalAveragePooling3D, GlobalMaxPooling3D. Inputs are (batch, depth, height, width, channels)
(channels_last) or (batch, channels, depth, height, width); kernels are Keras's layouts:
Conv3D (kd, kh, kw, in/groups, filters), Conv3DTranspose (kd, kh, kw, filters, in). They run
`tf.nn.conv3d` / `conv3d_transpose` / `max_pool3d` / `avg_pool3d`."""
from tenfold.keras.layers.conv import _BaseConv, _BaseConvTranspose, _transpose_length
from tenfold.keras.layers.pooling import _Pooling, _GlobalPooling


def _ops():
    from tenfold.ops import conv_ops
    return conv_ops


class Conv3D(_BaseConv):
    """3-D convolution over volumes: (batch, d, h, w, channels) -> (batch, d', h', w', filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)

    def _fused_activation(self):
        return None   # the fused conv + bias + ReLU op is 2-D

    def _conv(self, x):
        return self._conv_with(x, self.kernel)

    def _conv_with(self, x, kernel):
        return _ops().conv3d(x, kernel, strides=[1, *self.strides, 1],
                             padding=self.padding.upper(),
                             dilations=[1, *self.dilation_rate, 1])


class Conv3DTranspose(_BaseConvTranspose):
    """Transposed 3-D convolution (learned upsampling of volumes)."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, output_padding=output_padding,
                         **kwargs)

    def _fused_activation(self):
        return None

    def _conv(self, x):
        shape = tuple(x.shape)   # channels last here (call() moved the channels)
        ops_ = self.output_padding or (None,) * 3
        out_sp = tuple(_transpose_length(n, k, s, self.padding, op, d) for n, k, s, op, d in
                       zip(shape[1:4], self.kernel_size, self.strides, ops_,
                           self.dilation_rate))
        return _ops().conv3d_transpose(x, self.kernel, (shape[0],) + out_sp + (self.filters,),
                                       strides=[1, *self.strides, 1],
                                       padding=self.padding.upper(),
                                       dilations=[1, *self.dilation_rate, 1])


class _Pooling3D(_Pooling):
    _rank = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)

    def _pool(self, x, pad):
        ops = _ops()
        fn = ops.max_pool3d if self._kind == "max" else ops.avg_pool3d
        return fn(x, list(self.pool_size), list(self.strides), pad)


class MaxPooling3D(_Pooling3D):
    """Max over (d, h, w) windows of `pool_size` (strides default to pool_size)."""
    _kind = "max"


class AveragePooling3D(_Pooling3D):
    """Mean over (d, h, w) windows of `pool_size` (strides default to pool_size)."""
    _kind = "avg"


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over depth, height and width: (batch, d, h, w, c) -> (batch, c)."""
    _rank, _kind = 3, "avg"


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over depth, height and width: (batch, d, h, w, c) -> (batch, c)."""
    _rank, _kind = 3, "max"


Convolution3D, Convolution3DTranspose = Conv3D, Conv3DTranspose
MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
GlobalAvgPool3D, GlobalMaxPool3D = GlobalAveragePooling3D, GlobalMaxPooling3D
