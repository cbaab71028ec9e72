"""Image ops (`tf.image`) on [height, width, channels] or [batch, height, width, channels].

Resizing is separable: bilinear (TensorFlow 2's half-pixel centers, optional antialiasing)
multiplies by one interpolation matrix per spatial axis, nearest gathers rows and columns, so
both are differentiable with no primitive of their own.
"""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops._convert import tensor
from tenfold.ops import _checks
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops.composite import tensordot

_wrap = Tensor._wrap


class ResizeMethod:
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


def _batched(images, op):
    x = tensor(images)
    nd = x._value.ndim
    if nd == 3:
        return a.expand_dims(x, 0), True
    if nd == 4:
        return x, False
    raise InvalidArgumentError(f"{op}: images must be 3-D [height, width, channels] or 4-D "
                               f"[batch, height, width, channels], got shape "
                               f"{list(x._value.shape)}")


def _unbatch(x, squeeze):
    return a.squeeze(x, 0) if squeeze else x


def _size_arg(size, op):
    s = a._ints(size, f"{op}'s size")
    if len(s) != 2 or s[0] <= 0 or s[1] <= 0:
        raise InvalidArgumentError(f"{op}: size must be [new_height, new_width] with positive "
                                   f"entries, got {list(s)}")
    return s


def _linear_weights(in_size, out_size, antialias):
    """[out_size, in_size] weights of TensorFlow's half-pixel triangle filter."""
    _checks.check_alloc("image.resize", (out_size, in_size), np.float64,
                        "the interpolation weights")
    inv = np.float32(in_size) / np.float32(out_size)
    kscale = max(float(inv), 1.0) if antialias else 1.0
    centers = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * inv
    src = np.arange(in_size, dtype=np.float64) + 0.5
    dist = (centers.astype(np.float64)[:, None] - src[None, :]) / kscale
    w = np.maximum(0.0, 1.0 - np.abs(dist))
    total = w.sum(axis=1, keepdims=True)
    # beyond the edges, the nearest edge pixel (TensorFlow clamps)
    empty = total[:, 0] == 0
    if empty.any():
        nearest = np.clip(np.floor(centers[empty]).astype(np.int64), 0, in_size - 1)
        w[empty] = 0
        w[empty, nearest] = 1
        total = w.sum(axis=1, keepdims=True)
    return w / total


def _area_weights(in_size, out_size):
    """[out_size, in_size] box-filter weights: each output averages the input it covers."""
    scale = in_size / out_size
    w = np.zeros((out_size, in_size))
    for i in range(out_size):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), in_size)):
            w[i, j] = max(0.0, min(hi, j + 1) - max(lo, j))
    return w / w.sum(axis=1, keepdims=True)


def _nearest_index(in_size, out_size):
    scale = np.float32(in_size) / np.float32(out_size)
    idx = np.floor((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale)
    return np.clip(idx.astype(np.int64), 0, in_size - 1)


def resize(images, size, method=ResizeMethod.BILINEAR, preserve_aspect_ratio=False,
           antialias=False, name=None):
    """Resizes to size = [new_height, new_width]. Bilinear returns float32; nearest keeps
    the dtype."""
    x, squeeze = _batched(images, "image.resize")
    h_out, w_out = _size_arg(size, "image.resize")
    n, h, w, c = x._value.shape
    if h == 0 or w == 0:
        raise InvalidArgumentError(f"image.resize: input image must be of non-zero size, got "
                                   f"height {h} and width {w} (shape "
                                   f"{list(tensor(images)._value.shape)})")
    if preserve_aspect_ratio:
        scale = min(h_out / h, w_out / w)
        h_out, w_out = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
    method = getattr(method, "value", method)
    _checks.check_alloc("image.resize", (n, h_out, w_out, c), np.float32)
    if method == ResizeMethod.NEAREST_NEIGHBOR:
        out = x
        if h_out != h:
            out = a._gather(out, _wrap(_nearest_index(h, h_out)), axis=1, batch_dims=0)
        if w_out != w:
            out = a._gather(out, _wrap(_nearest_index(w, w_out)), axis=2, batch_dims=0)
        return _unbatch(out, squeeze)
    if method not in (ResizeMethod.BILINEAR, ResizeMethod.AREA):
        raise NotImplementedError(f"image.resize: method {method!r} is not implemented; use "
                                  f"'bilinear', 'area' or 'nearest'.")
    if x._value.dtype.kind != "f" or x._value.dtype.itemsize < 4:
        x = m.cast(x, dtypes.float32)
    dt = x._value.dtype
    aa = bool(antialias)
    area = method == ResizeMethod.AREA
    weights = (lambda n_in, n_out: _area_weights(n_in, n_out)) if area else \
        (lambda n_in, n_out: _linear_weights(n_in, n_out, aa))
    out = x
    if h_out != h:
        wh = _wrap(weights(h, h_out).astype(dt))
        out = a.transpose(tensordot(wh, out, [[1], [1]]), [1, 0, 2, 3])
    if w_out != w:
        ww = _wrap(weights(w, w_out).astype(dt))
        out = a.transpose(tensordot(ww, out, [[1], [2]]), [1, 2, 0, 3])
    if x._value.dtype != np.float32 and tensor(images)._value.dtype.kind != "f":
        out = m.cast(out, dtypes.float32)
    return _unbatch(out, squeeze)


def resize_with_pad(image, target_height, target_width, method=ResizeMethod.BILINEAR,
                    antialias=False):
    x, squeeze = _batched(image, "image.resize_with_pad")
    _, h, w, _ = x._value.shape
    op = "image.resize_with_pad"
    th = _checks.positive_int(target_height, op, "target_height")
    tw = _checks.positive_int(target_width, op, "target_width")
    if h == 0 or w == 0:
        raise InvalidArgumentError(f"{op}: input image must be of non-zero size, got height "
                                   f"{h} and width {w}")
    scale = min(th / h, tw / w)
    nh, nw = max(int(h * scale), 1), max(int(w * scale), 1)
    r = resize(x, [nh, nw], method=method, antialias=antialias)
    top, left = (th - nh) // 2, (tw - nw) // 2
    out = pad_to_bounding_box(r, top, left, th, tw)
    return _unbatch(out, squeeze)


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    x, squeeze = _batched(image, "image.crop_to_bounding_box")
    _, h, w, _ = x._value.shape
    oh, ow, th, tw = int(offset_height), int(offset_width), int(target_height), int(target_width)
    if oh < 0 or ow < 0 or th <= 0 or tw <= 0 or oh + th > h or ow + tw > w:
        raise InvalidArgumentError(f"image.crop_to_bounding_box: box (offset {oh},{ow}, size "
                                   f"{th}x{tw}) does not fit in an image of size {h}x{w}")
    out = x[:, oh:oh + th, ow:ow + tw, :]
    return _unbatch(out, squeeze)


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    x, squeeze = _batched(image, "image.pad_to_bounding_box")
    _, h, w, _ = x._value.shape
    oh, ow, th, tw = int(offset_height), int(offset_width), int(target_height), int(target_width)
    if oh < 0 or ow < 0 or th - oh < h or tw - ow < w:
        raise InvalidArgumentError(f"image.pad_to_bounding_box: an image of size {h}x{w} at "
                                   f"offset {oh},{ow} does not fit in {th}x{tw}")
    out = a.pad(x, [[0, 0], [oh, th - oh - h], [ow, tw - ow - w], [0, 0]])
    return _unbatch(out, squeeze)


def resize_with_crop_or_pad(image, target_height, target_width):
    x, squeeze = _batched(image, "image.resize_with_crop_or_pad")
    _, h, w, _ = x._value.shape
    th = _checks.positive_int(target_height, "image.resize_with_crop_or_pad", "target_height")
    tw = _checks.positive_int(target_width, "image.resize_with_crop_or_pad", "target_width")
    _checks.check_alloc("image.resize_with_crop_or_pad", (x._value.shape[0], th, tw,
                                                          x._value.shape[3]), x._value.dtype)
    if h > th:
        off = (h - th) // 2
        x = x[:, off:off + th]
    if w > tw:
        off = (w - tw) // 2
        x = x[:, :, off:off + tw]
    _, h, w, _ = x._value.shape
    x = a.pad(x, [[0, 0], [(th - h) // 2, th - h - (th - h) // 2],
                  [(tw - w) // 2, tw - w - (tw - w) // 2], [0, 0]])
    return _unbatch(x, squeeze)


def central_crop(image, central_fraction):
    x, squeeze = _batched(image, "image.central_crop")
    f = _checks.finite_number(central_fraction, "image.central_crop", "central_fraction")
    if not 0 < f <= 1:
        raise ValueError(f"image.central_crop: central_fraction must be in (0, 1], got {f}")
    _, h, w, _ = x._value.shape
    oh, ow = int((h - h * f) / 2), int((w - w * f) / 2)
    out = x[:, oh:h - oh, ow:w - ow]
    return _unbatch(out, squeeze)


def flip_left_right(image):
    x, squeeze = _batched(image, "image.flip_left_right")
    return _unbatch(a.reverse(x, [2]), squeeze)


def flip_up_down(image):
    x, squeeze = _batched(image, "image.flip_up_down")
    return _unbatch(a.reverse(x, [1]), squeeze)


def transpose(image, name=None):
    x, squeeze = _batched(image, "image.transpose")
    return _unbatch(a.transpose(x, [0, 2, 1, 3]), squeeze)


def rot90(image, k=1, name=None):
    """Rotates counter-clockwise by 90 degrees, k times."""
    x, squeeze = _batched(image, "image.rot90")
    k = int(k) % 4
    for _ in range(k):
        x = a.reverse(a.transpose(x, [0, 2, 1, 3]), [1])
    return _unbatch(x, squeeze)


def _random_flip(image, axis, seed, op):
    from tenfold.ops import random_ops
    x, squeeze = _batched(image, op)
    n = x._value.shape[0]
    u = random_ops.uniform([n], seed=seed)
    flip = a.reshape(m.less(u, 0.5), [n, 1, 1, 1])
    out = m.where(flip, a.reverse(x, [axis]), x)
    return _unbatch(out, squeeze)


def random_flip_left_right(image, seed=None):
    return _random_flip(image, 2, seed, "image.random_flip_left_right")


def random_flip_up_down(image, seed=None):
    return _random_flip(image, 1, seed, "image.random_flip_up_down")


def random_crop(value, size, seed=None, name=None):
    from tenfold.ops import random_ops
    x = tensor(value)
    size = a._ints(size, "image.random_crop's size")
    shape = x._value.shape
    if len(size) != len(shape) or any(s > d for s, d in zip(size, shape)):
        raise InvalidArgumentError(f"image.random_crop: size {list(size)} must have the rank "
                                   f"of value {list(shape)} and fit inside it")
    rng = random_ops._generator(seed, ("random_crop", "int"))
    offs = [int(rng.integers(0, d - s + 1)) for s, d in zip(size, shape)]
    key = tuple(slice(o, o + s) for o, s in zip(offs, size))
    return x[key]


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Converts between dtypes, rescaling: floats are in [0, 1], integers in [0, MAX]."""
    x = tensor(image)
    src, dst = x.dtype, dtypes.as_dtype(dtype)
    if src == dst:
        return x
    if src.is_integer and dst.is_integer:
        shift = 8 * (src.size - dst.size)
        v = x._value.astype(np.int64)
        v = v >> shift if shift > 0 else v << -shift
        return m.cast(_wrap(v), dst)
    if src.is_integer and dst.is_floating:
        return m.multiply(m.cast(x, dst), 1.0 / src.max)
    if src.is_floating and dst.is_integer:
        scaled = m.multiply(x, dst.max + 0.5)
        if saturate:
            scaled = m.clip_by_value(scaled, dst.min, dst.max)
        return m.cast(scaled, dst)
    return m.cast(x, dst)


def adjust_brightness(image, delta):
    x = tensor(image)
    if x.dtype.is_floating:
        return m.add(x, delta)
    f = convert_image_dtype(x, dtypes.float32)
    return convert_image_dtype(m.add(f, delta), x.dtype, saturate=True)


def adjust_contrast(images, contrast_factor):
    x = tensor(images)
    f = x if x.dtype.is_floating else convert_image_dtype(x, dtypes.float32)
    mean = m.reduce_mean(f, axis=[-3, -2], keepdims=True)
    out = m.add(m.multiply(m.subtract(f, mean), contrast_factor), mean)
    return out if x.dtype.is_floating else convert_image_dtype(out, x.dtype, saturate=True)


def random_brightness(image, max_delta, seed=None):
    from tenfold.ops import random_ops
    max_delta = _checks.finite_number(max_delta, "image.random_brightness", "max_delta")
    if max_delta < 0:
        raise ValueError("image.random_brightness: max_delta must be non-negative")
    delta = random_ops.uniform([], -max_delta, max_delta, seed=seed)
    return adjust_brightness(image, delta)


def random_contrast(image, lower, upper, seed=None):
    from tenfold.ops import random_ops
    lower = _checks.finite_number(lower, "image.random_contrast", "lower")
    upper = _checks.finite_number(upper, "image.random_contrast", "upper")
    if upper <= lower or lower < 0:
        raise ValueError("image.random_contrast: need 0 <= lower < upper")
    factor = random_ops.uniform([], lower, upper, seed=seed)
    return adjust_contrast(image, factor)


def per_image_standardization(image):
    """(image - mean) / max(stddev, 1/sqrt(N)) per image, as float32."""
    x = tensor(image)
    if x._value.ndim < 3:
        raise InvalidArgumentError(f"image.per_image_standardization needs rank >= 3, got "
                                   f"shape {list(x._value.shape)}")
    if x.dtype != dtypes.float16 and x.dtype != dtypes.float64:
        x = m.cast(x, dtypes.float32)
    axes = [-1, -2, -3]
    n = int(np.prod(x._value.shape[-3:]))
    mean = m.reduce_mean(x, axis=axes, keepdims=True)
    std = m.reduce_std(x, axis=axes, keepdims=True)
    adj = m.maximum(std, 1.0 / np.sqrt(max(n, 1)))
    return m.divide(m.subtract(x, mean), adj)


def rgb_to_grayscale(images, name=None):
    x = tensor(images)
    f = convert_image_dtype(x, dtypes.float32)
    w = _wrap(np.asarray([0.2989, 0.5870, 0.1140], np.float32))
    gray = m.reduce_sum(m.multiply(f, w), axis=-1, keepdims=True)
    return convert_image_dtype(gray, x.dtype)


def grayscale_to_rgb(images, name=None):
    x = tensor(images)
    if x._value.shape[-1:] != (1,):
        raise InvalidArgumentError(f"image.grayscale_to_rgb: last axis must be 1, got shape "
                                   f"{list(x._value.shape)}")
    return a.tile(x, [1] * (x._value.ndim - 1) + [3])


def psnr(a_, b, max_val, name=None):
    """Peak signal-to-noise ratio in dB over the last three axes. As in TensorFlow, max_val is
    cast to the images' dtype and rescaled with them (255 for uint8 images becomes 1.0), and
    it broadcasts against the per-image result."""
    x, y = tensor(a_), tensor(b)
    if x.dtype != y.dtype:
        raise TypeError(f"image.psnr: a and b must have the same dtype, got {x.dtype.name} "
                        f"and {y.dtype.name}")
    if x._value.ndim < 3:
        raise InvalidArgumentError(f"image.psnr: images must have rank >= 3 [..., height, "
                                   f"width, channels], got shape {list(x._value.shape)}")
    mv = convert_image_dtype(m.cast(_checks.convert(max_val, "image.psnr", "max_val"),
                                    x.dtype), dtypes.float32)
    x = convert_image_dtype(x, dtypes.float32)
    y = convert_image_dtype(y, dtypes.float32)
    mse = m.reduce_mean(m.squared_difference(x, y), axis=[-3, -2, -1])
    return m.subtract(m.multiply(20.0 / np.log(10.0), m.log(mv)),
                      m.multiply(10.0 / np.log(10.0), m.log(mse)))


def total_variation(images, name=None):
    x, squeeze = _batched(images, "image.total_variation")
    dh = m.abs(m.subtract(x[:, 1:], x[:, :-1]))
    dw = m.abs(m.subtract(x[:, :, 1:], x[:, :, :-1]))
    out = m.add(m.reduce_sum(dh, axis=[1, 2, 3]), m.reduce_sum(dw, axis=[1, 2, 3]))
    return a.squeeze(out, 0) if squeeze else out
