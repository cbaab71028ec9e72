"""Convolution layers: Conv1D, Conv2D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D/2D,
SeparableConv1D/2D. Kernels are Keras's layouts: Conv (*kernel, in/groups, filters) (HWIO),
ConvTranspose (*kernel, filters, in), Depthwise (*kernel, in, multiplier), Separable
depthwise (*kernel, in, multiplier) + pointwise (1.., in*multiplier, filters).

1-D layers run the 2-D ops on a height-1 image."""
from tenfold.keras import activations
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m


_SPATIAL_AXES = {1: "steps", 2: "height, width", 3: "depth, height, width"}


def _ops():
    from tenfold.ops import conv_ops
    return conv_ops


def _to_last(x, nd):
    return a.transpose(x, (0,) + tuple(range(2, nd)) + (1,))


def _to_first(x, nd):
    return a.transpose(x, (0, nd - 1) + tuple(range(1, nd - 1)))


class _BaseConv(Layer):
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)
    _rank = 2
    _transpose = False

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 output_padding=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self.rank = rank
        if filters is not None and (not isinstance(filters, int) or filters <= 0):
            raise ValueError(f"{cls}: `filters` must be a positive integer, got {filters!r}")
        self.filters = filters
        self.groups = int(groups or 1)
        self.kernel_size = U.normalize_tuple(kernel_size, rank, "kernel_size", cls)
        self.strides = U.normalize_tuple(strides, rank, "strides", cls)
        self.dilation_rate = U.normalize_tuple(dilation_rate, rank, "dilation_rate", cls)
        allowed = ("valid", "same", "causal") if (rank == 1 and not self._transpose) else \
            ("valid", "same")
        self.padding = U.normalize_padding(padding, cls, allowed)
        self.data_format = U.normalize_data_format(data_format, cls)
        self.activation = U.get_act(activation)
        self.use_bias = bool(use_bias)
        U.set_kernel_bias_options(self, kernel_initializer, bias_initializer,
                                  kernel_regularizer, bias_regularizer, kernel_constraint,
                                  bias_constraint)
        self.output_padding = None if output_padding is None else \
            U.normalize_tuple(output_padding, rank, "output_padding", cls, allow_zero=True)
        if self.groups <= 0:
            raise ValueError(f"{cls}: `groups` must be a positive integer, got {groups}")
        if filters is not None and filters % self.groups:
            raise ValueError(f"{cls}: `filters` ({filters}) must be divisible by `groups` "
                             f"({self.groups})")
        if any(s > 1 for s in self.strides) and any(d > 1 for d in self.dilation_rate) \
                and not self._transpose:
            raise ValueError(f"{cls}: strides > 1 together with dilation_rate > 1 is not "
                             f"supported, got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}")
        self.input_spec = InputSpec(min_ndim=rank + 2)
        self.kernel = None
        self.bias = None

    # -- shapes
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def _kernel_shape(self, in_ch):
        return self.kernel_size + (in_ch // self.groups, self.filters)

    def build(self, input_shape):
        cls = type(self).__name__
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{cls} layer \"{self.name}\" expects inputs of rank {self.rank + 2} "
                f"(batch, {_SPATIAL_AXES[self.rank]}, channels), got "
                f"input shape {tuple(input_shape)}." + (
                    " Grayscale images need a channel axis: reshape (n, 28, 28) to "
                    "(n, 28, 28, 1), e.g. with x[..., None] or Reshape((28, 28, 1))."
                    if self.rank == 2 and len(input_shape) == 3 else ""))
        in_ch = input_shape[self._channel_axis()]
        if in_ch is None:
            raise ValueError(f"{cls} layer \"{self.name}\": the channel dimension of the "
                             f"inputs must be known, got input shape {tuple(input_shape)}.")
        if in_ch % self.groups:
            raise ValueError(f"{cls} layer \"{self.name}\": the number of input channels "
                             f"({in_ch}) must be divisible by groups={self.groups} (input "
                             f"shape {tuple(input_shape)}).")
        self.input_spec = InputSpec(min_ndim=self.rank + 2,
                                    axes={self._channel_axis(): in_ch})
        self._check_output(input_shape)
        self._build_weights(in_ch)
        self.built = True

    def _build_weights(self, in_ch):
        self.kernel = self.add_weight(name="kernel", shape=self._kernel_shape(in_ch),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def _out_channels(self):
        return self.filters

    def _check_output(self, input_shape):
        out = self.compute_output_shape(input_shape)
        sp = self._spatial(out)
        if any(d is not None and d <= 0 for d in sp):
            raise ValueError(
                f"{type(self).__name__} layer \"{self.name}\": input shape "
                f"{tuple(input_shape)} is too small for kernel_size={self.kernel_size}, "
                f"strides={self.strides}, dilation_rate={self.dilation_rate} with "
                f"padding='{self.padding}' (the output would have spatial size {sp}). Use "
                "padding='same', a smaller kernel, or fewer downsampling layers before this one.")

    def compute_output_shape(self, input_shape):
        sp = self._spatial(input_shape)
        out_sp = tuple(U.conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                       zip(sp, self.kernel_size, self.strides, self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0],) + out_sp + (self._out_channels(),)
        return (input_shape[0], self._out_channels()) + out_sp

    # -- call
    def call(self, inputs):
        if type(self).convolution_op is not _BaseConv.convolution_op:
            return self._call_through_convolution_op(inputs)
        x = inputs
        nd = self.rank + 2
        cf = self.data_format == "channels_first"
        if cf:
            x = _to_last(x, nd)
        if self.rank == 1:
            x = a.expand_dims(x, 1)
        fused = self._fused_activation()
        if fused is not None:
            # conv + bias + ReLU as one op: bias and ReLU applied to each chunk of the
            # output while it is in cache, one ReLU mask for all three gradients (what
            # TF's grappler does with Conv2D + BiasAdd + Relu); same numbers up to rounding
            strides, dil = self._pad2()
            y = _ops().fused_conv(x, self._k2(self.kernel), self.bias, strides=strides,
                                  padding=self.padding.upper(), dilations=dil,
                                  activation=fused)
        else:
            y = self._conv(x)
        if self.rank == 1:
            y = a.squeeze(y, 1)
        if fused is None and self.bias is not None:
            y = m.add(y, self.bias)
        if cf:
            y = _to_first(y, nd)
        if fused is None and self.activation is not activations.linear:
            y = self.activation(y)
        return y

    def _fused_activation(self):
        """'relu' or 'linear' when call() can run conv + bias + activation as one op."""
        if type(self)._conv is not _BaseConv._conv or self.padding == "causal" or \
                self.bias is None:
            return None
        if self.activation is activations.relu:
            return "relu"
        return "linear" if self.activation is activations.linear else None

    def _k2(self, k):
        """A kernel as 2-D (1-D kernels get a height-1 axis)."""
        return a.expand_dims(k, 0) if self.rank == 1 else k

    def _pad2(self):
        return (1,) + self.strides if self.rank == 1 else self.strides, \
            (1,) + self.dilation_rate if self.rank == 1 else self.dilation_rate

    def convolution_op(self, inputs, kernel):
        """Keras 3's hook: `inputs` (in the layer's data_format) convolved with `kernel` (the
        layer's kernel layout), without bias or activation. Subclasses override it to change
        the kernel (e.g. weight standardization) and `call()` then goes through it."""
        nd = self.rank + 2
        cf = self.data_format == "channels_first"
        x = _to_last(inputs, nd) if cf else inputs
        if self.rank == 1:
            x = a.expand_dims(x, 1)
        y = self._conv_with(x, kernel)
        if self.rank == 1:
            y = a.squeeze(y, 1)
        return _to_first(y, nd) if cf else y

    def _call_through_convolution_op(self, inputs):
        y = self.convolution_op(inputs, self.kernel)
        if self.bias is not None:
            bias = self.bias if self.data_format != "channels_first" else \
                a.reshape(self.bias, (-1,) + (1,) * self.rank)
            y = m.add(y, bias)
        if self.activation is not activations.linear:
            y = self.activation(y)
        return y

    def _conv(self, x):
        return self._conv_with(x, self.kernel)

    def _conv_with(self, x, kernel):
        """The convolution of channels-last `x` (1-D inputs with a height-1 axis) by `kernel`."""
        if type(self)._conv is not _BaseConv._conv:
            raise NotImplementedError(
                f"{type(self).__name__} '{self.name}': convolution_op() is defined for Conv1D, "
                "Conv2D and Conv3D (as in Keras 3); this layer computes its own convolution.")
        strides, dil = self._pad2()
        padding = self.padding
        if padding == "causal":
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            x = a.pad(x, [[0, 0], [0, 0], [left, 0], [0, 0]])
            padding = "valid"
        return _ops().conv2d(x, self._k2(kernel), strides=[1, *strides, 1],
                             padding=padding.upper(), dilations=[1, *dil, 1])

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "groups": self.groups, "activation": U.ser_act(self.activation),
            "use_bias": self.use_bias,
            **U.weight_options_config(self, ("kernel", "bias"), activity=True)})
        return config


class Conv1D(_BaseConv):
    """1-D convolution over steps: (batch, steps, channels) -> (batch, new_steps, filters).
    padding may be 'valid', 'same' or 'causal'."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format="channels_last", dilation_rate=1, groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv2D(_BaseConv):
    """2-D convolution over images: (batch, h, w, channels) -> (batch, h', w', filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


def _transpose_length(n, k, s, padding, output_padding, d):
    if n is None:
        return None
    k = (k - 1) * d + 1
    if padding == "valid":
        op = max(k, s) - k if output_padding is None else output_padding
        return (n - 1) * s + k + op
    if output_padding is None:
        return n * s
    return (n - 1) * s + k % 2 + output_padding


class _BaseConvTranspose(_BaseConv):
    _transpose = True

    def _kernel_shape(self, in_ch):
        return self.kernel_size + (self.filters, in_ch)

    def compute_output_shape(self, input_shape):
        sp = self._spatial(input_shape)
        ops_ = self.output_padding or (None,) * self.rank
        out_sp = tuple(_transpose_length(n, k, s, self.padding, op, d) for n, k, s, op, d in
                       zip(sp, self.kernel_size, self.strides, ops_, self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0],) + out_sp + (self.filters,)
        return (input_shape[0], self.filters) + out_sp

    def _conv(self, x):
        strides, dil = self._pad2()
        shape = tuple(x.shape)  # channels last here (call() moved the channels)
        sp = (shape[2],) if self.rank == 1 else shape[1:3]
        ops_ = self.output_padding or (None,) * self.rank
        out_sp = tuple(_transpose_length(n, k, s, self.padding, op, d) for n, k, s, op, d in
                       zip(sp, self.kernel_size, self.strides, ops_, self.dilation_rate))
        if self.rank == 1:
            out_sp = (1,) + tuple(out_sp)
        out_shape = (shape[0],) + tuple(out_sp) + (self.filters,)
        return _ops().conv2d_transpose(x, self._k2(self.kernel), out_shape,
                                       strides=[1, *strides, 1], padding=self.padding.upper(),
                                       dilations=[1, *dil, 1])

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        out = {}
        for k, v in config.items():
            out[k] = v
            if k == "padding":
                out["output_padding"] = self.output_padding
        return out


class Conv1DTranspose(_BaseConvTranspose):
    """Transposed 1-D convolution (upsampling steps)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, output_padding=output_padding,
                         **kwargs)


class Conv2DTranspose(_BaseConvTranspose):
    """Transposed 2-D convolution (learned upsampling): kernel (kh, kw, filters, in)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, output_padding=output_padding,
                         **kwargs)


class _BaseDepthwise(_BaseConv):
    def __init__(self, rank, kernel_size, strides, padding, depth_multiplier, data_format,
                 dilation_rate, activation, use_bias, depthwise_initializer, bias_initializer,
                 depthwise_regularizer, bias_regularizer, activity_regularizer,
                 depthwise_constraint, bias_constraint, **kwargs):
        super().__init__(rank, None, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)

    def _build_weights(self, in_ch):
        self._in_ch = in_ch
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (in_ch, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(in_ch * self.depth_multiplier,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def build(self, input_shape):
        self._in_ch = input_shape[self._channel_axis()]
        super().build(input_shape)

    def _out_channels(self):
        in_ch = getattr(self, "_in_ch", None)
        return None if in_ch is None else in_ch * self.depth_multiplier

    def _conv(self, x):
        strides, dil = self._pad2()
        return _ops().depthwise_conv2d(x, self._k2(self.kernel), strides=[1, *strides, 1],
                                       padding=self.padding.upper(), dilations=list(dil))

    @property
    def depthwise_kernel(self):
        return self.kernel

    def get_config(self):
        config = super().get_config()
        out = {k: v for k, v in config.items()
               if k in ("name", "trainable", "dtype", "batch_input_shape")}
        out["depth_multiplier"] = self.depth_multiplier
        for k in ("kernel_size", "strides", "padding", "data_format", "dilation_rate",
                  "activation", "use_bias"):
            out[k] = config[k]
        out.update({
            "depthwise_initializer": config["kernel_initializer"],
            "bias_initializer": config["bias_initializer"],
            "depthwise_regularizer": config["kernel_regularizer"],
            "bias_regularizer": config["bias_regularizer"],
            "activity_regularizer": config["activity_regularizer"],
            "depthwise_constraint": config["kernel_constraint"],
            "bias_constraint": config["bias_constraint"]})
        return out


class DepthwiseConv1D(_BaseDepthwise):
    """Per-channel 1-D convolution: kernel (k, in, depth_multiplier)."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(_BaseDepthwise):
    """Per-channel 2-D convolution: kernel (kh, kw, in, depth_multiplier); output channels
    in * depth_multiplier."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class _BaseSeparable(_BaseConv):
    def __init__(self, rank, filters, kernel_size, strides, padding, data_format,
                 dilation_rate, depth_multiplier, activation, use_bias, depthwise_initializer,
                 pointwise_initializer, bias_initializer, depthwise_regularizer,
                 pointwise_regularizer, bias_regularizer, activity_regularizer,
                 depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs):
        super().__init__(rank, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, 1, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.pointwise_initializer = U.get_init(pointwise_initializer)
        self.pointwise_regularizer = U.get_reg(pointwise_regularizer)
        self.pointwise_constraint = U.get_con(pointwise_constraint)
        self.depthwise_kernel = None
        self.pointwise_kernel = None

    def _build_weights(self, in_ch):
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel", shape=self.kernel_size + (in_ch, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel",
            shape=(1,) * self.rank + (in_ch * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def _conv(self, x):
        strides, dil = self._pad2()
        ops = _ops()
        y = ops.depthwise_conv2d(x, self._k2(self.depthwise_kernel), strides=[1, *strides, 1],
                                 padding=self.padding.upper(), dilations=list(dil))
        pw = self.pointwise_kernel
        pw2 = a.reshape(pw, (pw.shape[-2], pw.shape[-1]))
        shp = tuple(y.shape)
        out = m.matmul(a.reshape(y, (-1, shp[-1])), pw2)
        return a.reshape(out, shp[:-1] + (self.filters,))

    def get_config(self):
        config = super().get_config()
        out = {k: v for k, v in config.items()
               if k in ("name", "trainable", "dtype", "batch_input_shape")}
        out["depth_multiplier"] = self.depth_multiplier
        for k in ("filters", "kernel_size", "strides", "padding", "data_format",
                  "dilation_rate", "activation", "use_bias"):
            out[k] = config[k]
        out.update({
            "depthwise_initializer": config["kernel_initializer"],
            "pointwise_initializer": U.ser_init(self.pointwise_initializer),
            "bias_initializer": config["bias_initializer"],
            "depthwise_regularizer": config["kernel_regularizer"],
            "pointwise_regularizer": U.ser_reg(self.pointwise_regularizer),
            "bias_regularizer": config["bias_regularizer"],
            "activity_regularizer": config["activity_regularizer"],
            "depthwise_constraint": config["kernel_constraint"],
            "pointwise_constraint": U.ser_con(self.pointwise_constraint),
            "bias_constraint": config["bias_constraint"]})
        return out


class SeparableConv1D(_BaseSeparable):
    """Depthwise 1-D convolution followed by a pointwise (1x1) convolution."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv2D(_BaseSeparable):
    """Depthwise 2-D convolution followed by a pointwise (1x1) convolution: weights
    depthwise_kernel (kh, kw, in, mult), pointwise_kernel (1, 1, in*mult, filters), bias."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution2DTranspose, Convolution1DTranspose = Conv2DTranspose, Conv1DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
