"""Spatial reshaping layers: ZeroPadding1D/2D, UpSampling1D/2D, Cropping1D/2D."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import from_host


def _pair_of_pairs(value, arg, cls_name):
    if isinstance(value, int):
        return ((value, value), (value, value))
    if hasattr(value, "__len__") and len(value) == 2:
        return (U.normalize_tuple(value[0], 2, f"1st entry of {arg}", cls_name, allow_zero=True),
                U.normalize_tuple(value[1], 2, f"2nd entry of {arg}", cls_name, allow_zero=True))
    raise ValueError(f"{cls_name}: `{arg}` should be an int, a tuple of 2 ints or a tuple of 2 "
                     f"tuples of 2 ints ((top, bottom), (left, right)); got {value!r}")


def _spatial_axes(data_format, n):
    return tuple(range(2, 2 + n)) if data_format == "channels_first" else tuple(range(1, 1 + n))


class ZeroPadding1D(Layer):
    """Adds zeros at the start and end of the steps axis: padding=(left, right)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format, "ZeroPadding1D")
        self.padding = U.normalize_tuple(padding, 2, "padding", "ZeroPadding1D",
                                         allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        pads = [[0, 0], [0, 0], [0, 0]]
        pads[_spatial_axes(self.data_format, 1)[0]] = list(self.padding)
        return a.pad(inputs, pads)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        ax = _spatial_axes(self.data_format, 1)[0]
        if out[ax] is not None:
            out[ax] += sum(self.padding)
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around images: padding=((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format, "ZeroPadding2D")
        self.padding = _pair_of_pairs(padding, "padding", "ZeroPadding2D")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        pads = [[0, 0]] * 4
        for ax, p in zip(_spatial_axes(self.data_format, 2), self.padding):
            pads[ax] = list(p)
        return a.pad(inputs, pads)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for ax, p in zip(_spatial_axes(self.data_format, 2), self.padding):
            if out[ax] is not None:
                out[ax] += sum(p)
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config


def _repeat(x, times, axis):
    """Each element along `axis` repeated `times` times (differentiable, via gather)."""
    n = shape_of(x)[axis]
    idx = from_host(np.repeat(np.arange(n, dtype=np.int32), times))
    return a.gather(x, idx, axis=axis)


def _interp_matrix(n_in, n_out):
    """(n_out, n_in) bilinear resize weights with half-pixel centres (no antialiasing)."""
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = src - lo
    mat = np.zeros((n_out, n_in))
    mat[np.arange(n_out), lo] += 1 - w
    mat[np.arange(n_out), hi] += w
    return mat


def _resize_axis(x, factor, axis):
    """Bilinear upsampling of one axis by an integer factor, as a matmul (differentiable)."""
    nd = x.ndim
    n = shape_of(x)[axis]
    mat = from_host(_interp_matrix(n, n * factor).astype(npd(x)))
    perm = [i for i in range(nd) if i != axis] + [axis]
    xt = a.transpose(x, perm)
    y = m.matmul(a.reshape(xt, (-1, n)), mat, transpose_b=True)
    y = a.reshape(y, tuple(xt.shape[:-1]) + (n * factor,))
    inv = np.argsort(perm).tolist()
    return a.transpose(y, inv)


class UpSampling1D(Layer):
    """Repeats each step `size` times along the steps axis."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return _repeat(inputs, self.size, 1)

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n * self.size, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config


class UpSampling2D(Layer):
    """Repeats rows and columns (`interpolation='nearest'`) or resizes bilinearly
    (`'bilinear'`) by integer factors `size`."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format, "UpSampling2D")
        self.size = U.normalize_tuple(size, 2, "size", "UpSampling2D")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear' in "
                             f"tenfold, got {interpolation!r}")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        x = inputs
        for ax, f in zip(_spatial_axes(self.data_format, 2), self.size):
            if f == 1:
                continue
            x = _repeat(x, f, ax) if self.interpolation == "nearest" else _resize_axis(x, f, ax)
        return x

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for ax, f in zip(_spatial_axes(self.data_format, 2), self.size):
            if out[ax] is not None:
                out[ax] *= f
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format,
                       "interpolation": self.interpolation})
        return config


class Cropping1D(Layer):
    """Removes `cropping=(start, end)` steps from the steps axis."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = U.normalize_tuple(cropping, 2, "cropping", "Cropping1D",
                                          allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        n = shape_of(inputs)[1]
        if sum(self.cropping) >= n:
            raise ValueError(f"Cropping1D layer \"{self.name}\": cropping {self.cropping} "
                             f"removes all {n} steps of input shape {tuple(inputs.shape)}.")
        return inputs[:, self.cropping[0]:n - self.cropping[1], :]

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n - sum(self.cropping), input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class Cropping2D(Layer):
    """Removes rows and columns at the borders: cropping=((top, bottom), (left, right))."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format, "Cropping2D")
        self.cropping = _pair_of_pairs(cropping, "cropping", "Cropping2D")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        key = [slice(None)] * 4
        for ax, (c0, c1) in zip(_spatial_axes(self.data_format, 2), self.cropping):
            n = shape_of(inputs)[ax]
            if c0 + c1 >= n:
                raise ValueError(f"Cropping2D layer \"{self.name}\": cropping {self.cropping} "
                                 f"removes every row or column of input shape "
                                 f"{tuple(inputs.shape)}.")
            key[ax] = slice(c0, n - c1)
        return inputs[tuple(key)]

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for ax, c in zip(_spatial_axes(self.data_format, 2), self.cropping):
            if out[ax] is not None:
                out[ax] -= sum(c)
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"cropping": self.cropping, "data_format": self.data_format})
        return config
