"""`keras.utils.load_img` / `img_to_array` / `array_to_img` / `save_img`: PIL images to and
from NumPy arrays, as Keras 3 does them. Pillow is optional: `pip install tenfold[images]`.

    img = keras.utils.load_img("cat.jpg", target_size=(224, 224))
    x = keras.utils.img_to_array(img)          # float32 (224, 224, 3), values 0..255
    batch = x[None] / 255                      # add the batch axis before predict
"""
import io
import os
import pathlib
import warnings

import numpy as np


def _pil(what):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{what} needs Pillow (PIL.Image): pip install pillow (or "
                          "pip install 'tenfold[images]').") from None
    return Image


def _resampling(Image):
    r = getattr(Image, "Resampling", Image)
    return {"nearest": r.NEAREST, "bilinear": r.BILINEAR, "bicubic": r.BICUBIC,
            "hamming": r.HAMMING, "box": r.BOX, "lanczos": r.LANCZOS}


def _data_format(data_format):
    if data_format is None:
        from tenfold.keras import backend
        return backend.image_data_format()
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return fmt


def _floatx(dtype):
    if dtype is not None:
        return dtype
    from tenfold.keras import backend
    return backend.floatx()


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image from a 3-D array (height, width, channels) with 1, 3 or 4 channels.
    With `scale` the values are stretched to 0..255 (min to 0, max to 255)."""
    Image = _pil("array_to_img")
    data_format = _data_format(data_format)
    arr = np.asarray(x, dtype=_floatx(dtype))
    if arr.ndim != 3:
        raise ValueError("Expected image array to have rank 3 (single image). Got array with "
                         f"shape: {arr.shape}" + (". For a batch, pass one image: x[0]."
                                                   if arr.ndim == 4 else ""))
    if data_format == "channels_first":
        arr = arr.transpose(1, 2, 0)
    if scale:
        arr = arr - np.min(arr)
        top = np.max(arr)
        if top != 0:
            arr = arr / top
        arr = arr * 255
    channels = arr.shape[2]
    if channels == 4:
        return Image.fromarray(arr.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(arr.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(arr) > 255:  # 16-bit or wider grey levels stay integers
            return Image.fromarray(arr[:, :, 0].astype("int32"), "I")
        return Image.fromarray(arr[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels} (expected 1, 3 or 4).")


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a float32 array (height, width, channels); grey images get a channel
    axis of size 1."""
    data_format = _data_format(data_format)
    arr = np.asarray(img, dtype=_floatx(dtype))
    if arr.ndim == 3:
        return arr.transpose(2, 0, 1) if data_format == "channels_first" else arr
    if arr.ndim == 2:
        h, w = arr.shape
        return arr.reshape((1, h, w) if data_format == "channels_first" else (h, w, 1))
    raise ValueError(f"Unsupported image shape: {arr.shape}")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Saves an array as an image file (the format from `file_format` or the extension)."""
    data_format = _data_format(data_format)
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format or None, **kwargs)


def _center_box(size, target):
    """The centred crop box (left, top, right, bottom) of `size` (w, h) with `target`'s
    aspect ratio."""
    width, height = size
    tw, th = target
    crop_h = min(height, (width * th) // tw)
    crop_w = min(width, (height * tw) // th)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return [left, top, left + crop_w, top + crop_h]


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Loads an image file (a path or a BytesIO) as a PIL image in `color_mode` ("rgb",
    "rgba", "grayscale"), resized to `target_size` (height, width) if given."""
    Image = _pil("load_img")
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (str, bytes, os.PathLike)):
        p = os.fsdecode(path)
        if not os.path.exists(p):
            raise FileNotFoundError(f"load_img: no image file at {p!r}.")
        with open(p, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif img.mode != color_mode.upper():
        img = img.convert(color_mode.upper())
    if target_size is not None:
        wh = (int(target_size[1]), int(target_size[0]))
        if img.size != wh:
            methods = _resampling(Image)
            if interpolation not in methods:
                raise ValueError(f"Invalid interpolation method {interpolation} specified. "
                                 f"Supported methods are {', '.join(methods)}")
            box = _center_box(img.size, wh) if keep_aspect_ratio else None
            img = img.resize(wh, methods[interpolation], box=box)
    return img
