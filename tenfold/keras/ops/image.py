"""`keras.ops.image`: resize (nearest / bilinear, half-pixel centers) and colour helpers."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.keras.ops._dtypes import const, npd, shape_of, size_of, tensor, to_float



def _df(data_format):
    if data_format is None:
        from tenfold.keras import backend
        return backend.image_data_format()
    return data_format


def _axis_weights(n_in, n_out):
    """Indices and weights of linear interpolation with half-pixel centers."""
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (src - lo).astype(np.float32)
    return lo, hi, w


def resize(images, size, interpolation="bilinear", antialias=False,
           crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode="constant",
           fill_value=0.0, data_format=None):
    """Resizes (batch of) images to `size` = (height, width)."""
    x = tensor(images)
    df = _df(data_format)
    unbatched = x.ndim == 3
    if unbatched:
        x = a.expand_dims(x, 0)
    if x.ndim != 4:
        raise ValueError(f"resize: images must be rank 3 or 4, got shape "
                         f"{tuple(shape_of(tensor(images)))}")
    if df == "channels_first":
        x = a.transpose(x, (0, 2, 3, 1))
    orig_dtype = x.dtype.name
    x = to_float(x)
    h, w = shape_of(x)[1:3]
    nh, nw = int(size[0]), int(size[1])
    if interpolation == "nearest":
        ri = np.minimum(np.floor((np.arange(nh) + 0.5) * h / nh), h - 1).astype(np.int64)
        ci = np.minimum(np.floor((np.arange(nw) + 0.5) * w / nw), w - 1).astype(np.int64)
        out = a.gather(a.gather(x, const(ri), axis=1), const(ci), axis=2)
    elif interpolation == "bilinear":
        lo, hi, wy = _axis_weights(h, nh)
        top = a.gather(x, const(lo), axis=1)
        bot = a.gather(x, const(hi), axis=1)
        wy_t = const(wy.reshape(1, -1, 1, 1).astype(npd(x)))
        rows = m.add(top, m.multiply(m.subtract(bot, top), wy_t))
        lo, hi, wx = _axis_weights(w, nw)
        left = a.gather(rows, const(lo), axis=2)
        right = a.gather(rows, const(hi), axis=2)
        wx_t = const(wx.reshape(1, 1, -1, 1).astype(npd(x)))
        out = m.add(left, m.multiply(m.subtract(right, left), wx_t))
    else:
        raise ValueError(f"resize: interpolation {interpolation!r} is not supported; use "
                         "'bilinear' or 'nearest'")
    if orig_dtype != out.dtype.name and orig_dtype not in ("int32", "int64"):
        out = tensor(out, orig_dtype) if orig_dtype.startswith("float") else out
    if df == "channels_first":
        out = a.transpose(out, (0, 3, 1, 2))
    return a.squeeze(out, 0) if unbatched else out


def rgb_to_grayscale(images, data_format=None):
    x = to_float(images)
    df = _df(data_format)
    wts = np.array([0.2989, 0.5870, 0.1140], dtype=npd(x))
    if df == "channels_first":
        shape = [1] * x.ndim
        shape[-3] = 3
        return m.reduce_sum(m.multiply(x, const(wts.reshape(shape))), axis=-3, keepdims=True)
    return m.reduce_sum(m.multiply(x, const(wts)), axis=-1, keepdims=True)
