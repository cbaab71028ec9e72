"""Image files as tensors: `tf.io.decode_png` / `decode_jpeg` / `decode_gif` / `decode_bmp` /
`decode_image`, `tf.io.encode_png` / `encode_jpeg` (also under `tf.image`), with Pillow
(`pip install tenfold[images]`).

    raw = tf.io.read_file("digit.png")
    img = tf.io.decode_png(raw, channels=1)        # uint8 (height, width, 1)
    x = tf.image.convert_image_dtype(img, tf.float32)

As TensorFlow: images are (height, width, channels) uint8 (uint16 for 16-bit PNGs with
dtype=tf.uint16); `channels=0` keeps the file's channels; GIFs decode to (frames, height,
width, 3); `decode_image` detects the format from the first bytes.
"""
import io

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.tensor import Tensor, convert_to_tensor

_CHANNEL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Decoding and encoding images needs Pillow: pip install pillow (or "
                          "pip install 'tenfold[images]').") from None
    return Image


def _bytes(contents, op):
    if isinstance(contents, Tensor):
        contents = contents.numpy()
    if isinstance(contents, np.ndarray) and contents.ndim == 0:
        contents = contents.item()
    if not isinstance(contents, (bytes, bytearray)):
        raise InvalidArgumentError(f"{op}: contents must be a scalar string tensor holding the "
                                   f"file's bytes (tf.io.read_file(path)), got "
                                   f"{type(contents).__name__}.")
    return bytes(contents)


def _sniff(data):
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _open(data, op, expected):
    kind = _sniff(data)
    if expected and kind not in expected:
        what = kind.upper() if kind else "not an image file"
        raise InvalidArgumentError(f"{op}: expected {' or '.join(e.upper() for e in expected)} "
                                   f"data, got {what} ({len(data)} bytes). Use "
                                   "tf.io.decode_image to decode any supported format.")
    if kind is None:
        raise InvalidArgumentError("Unknown image file format. One of JPEG, PNG, GIF, BMP "
                                   f"required. ({op}: the {len(data)} bytes start with "
                                   f"{data[:8]!r}.)")
    try:
        img = _pil().open(io.BytesIO(data))
        img.load()
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
        raise InvalidArgumentError(f"{op}: the {kind.upper()} data could not be decoded "
                                   f"({type(e).__name__}: {e}).") from None
    return img, kind


def _check_channels(channels, op, allowed):
    channels = 0 if channels is None else int(channels)
    if channels not in allowed:
        raise InvalidArgumentError(f"{op}: channels must be one of {sorted(allowed)}, got "
                                   f"{channels}.")
    return channels


def _to_array(img, channels, sixteen_bit_ok):
    """(height, width, channels) array of a Pillow frame, converted as TF's decoders do."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I") and sixteen_bit_ok:
        arr = np.asarray(img, dtype=np.uint16 if mode.startswith("I;16") else np.int32)
        arr = arr.astype(np.uint16)[..., None]
        if channels in (3, 4):
            arr = np.repeat(arr, 3, axis=-1)
            if channels == 4:
                arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 65535, np.uint16)], -1)
        return arr
    if channels == 0:
        if mode == "P":
            mode = "RGBA" if "transparency" in img.info else "RGB"
        elif mode not in ("L", "LA", "RGB", "RGBA"):
            mode = "RGBA" if "A" in mode else ("L" if mode in ("1", "I", "I;16", "F") else "RGB")
    else:
        mode = _CHANNEL_MODES[channels]
    if img.mode != mode:
        img = img.convert(mode)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _finish(arr, dtype, op):
    want = dtypes.as_dtype(dtype)
    if want == dtypes.uint8:
        if arr.dtype == np.uint16:
            arr = (arr >> 8).astype(np.uint8)
        return Tensor._wrap(np.ascontiguousarray(arr))
    if want == dtypes.uint16:
        if arr.dtype == np.uint8:
            arr = arr.astype(np.uint16) * 257  # TF scales 8-bit data to the full 16-bit range
        return Tensor._wrap(np.ascontiguousarray(arr))
    if want.is_floating:
        from tenfold.ops.image_ops import convert_image_dtype
        return convert_image_dtype(Tensor._wrap(np.ascontiguousarray(arr)), want)
    raise InvalidArgumentError(f"{op}: dtype must be uint8, uint16 or a float type, got "
                               f"{want.name}.")


def decode_png(contents, channels=0, dtype=dtypes.uint8, name=None):
    """A PNG file's bytes as a (height, width, channels) uint8 / uint16 tensor."""
    channels = _check_channels(channels, "decode_png", {0, 1, 2, 3, 4})
    img, _ = _open(_bytes(contents, "decode_png"), "decode_png", ("png",))
    return _finish(_to_array(img, channels, True), dtype, "decode_png")


def decode_jpeg(contents, channels=0, ratio=1, fancy_upscaling=True,
                try_recover_truncated=False, acceptable_fraction=1, dct_method="", name=None):
    """A JPEG file's bytes as a (height, width, channels) uint8 tensor (channels 0, 1 or 3)."""
    channels = _check_channels(channels, "decode_jpeg", {0, 1, 3})
    img, _ = _open(_bytes(contents, "decode_jpeg"), "decode_jpeg", ("jpeg",))
    if int(ratio) not in (1, 2, 4, 8):
        raise InvalidArgumentError(f"decode_jpeg: ratio must be 1, 2, 4 or 8, got {ratio}.")
    if int(ratio) > 1:
        img = img.reduce(int(ratio))
    return _finish(_to_array(img, channels, False), dtypes.uint8, "decode_jpeg")


def decode_bmp(contents, channels=0, name=None):
    channels = _check_channels(channels, "decode_bmp", {0, 1, 3, 4})
    img, _ = _open(_bytes(contents, "decode_bmp"), "decode_bmp", ("bmp",))
    return _finish(_to_array(img, channels, False), dtypes.uint8, "decode_bmp")


def _gif_frames(img):
    frames = []
    for i in range(getattr(img, "n_frames", 1)):
        img.seek(i)
        frames.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return np.stack(frames)


def decode_gif(contents, name=None):
    """A GIF's frames as a (frames, height, width, 3) uint8 tensor."""
    img, _ = _open(_bytes(contents, "decode_gif"), "decode_gif", ("gif",))
    return Tensor._wrap(_gif_frames(img))


def decode_image(contents, channels=None, dtype=dtypes.uint8, name=None,
                 expand_animations=True):
    """Decodes a PNG, JPEG, GIF or BMP file, whichever the bytes are. GIFs give 4-D
    (frames, height, width, 3) unless `expand_animations=False` (then the first frame)."""
    data = _bytes(contents, "decode_image")
    channels = _check_channels(channels, "decode_image", {0, 1, 3, 4})
    img, kind = _open(data, "decode_image", None)
    if kind == "gif":
        frames = _gif_frames(img)
        if channels == 1:
            raise InvalidArgumentError("decode_image: channels=1 is not supported for GIF "
                                       "images (they decode to RGB).")
        if channels == 4:
            frames = np.concatenate([frames, np.full(frames.shape[:-1] + (1,), 255,
                                                     np.uint8)], -1)
        arr = frames if expand_animations else frames[0]
        return _finish(arr, dtype, "decode_image")
    return _finish(_to_array(img, channels, kind == "png"), dtype, "decode_image")


def _image_array(image, op, allowed_dtypes):
    arr = convert_to_tensor(image).numpy() if not isinstance(image, np.ndarray) else image
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4):
        raise InvalidArgumentError(f"{op}: image must be 3-D (height, width, channels) with 1 "
                                   f"to 4 channels, got shape {list(arr.shape)}.")
    if arr.dtype.name not in allowed_dtypes:
        raise InvalidArgumentError(
            f"{op}: image must be {' or '.join(allowed_dtypes)}, got {arr.dtype.name}. For "
            "float images in [0, 1] use tf.image.convert_image_dtype(image, tf.uint8, "
            "saturate=True) first.")
    return arr


def encode_png(image, compression=-1, name=None):
    """A (height, width, channels) uint8 / uint16 image as PNG bytes (a scalar string)."""
    Image = _pil()
    arr = _image_array(image, "encode_png", ("uint8", "uint16"))
    level = 6 if compression is None or int(compression) < 0 else int(compression)
    c = arr.shape[-1]
    if arr.dtype == np.uint16:
        if c != 1:
            raise InvalidArgumentError("encode_png: tenfold writes 16-bit PNGs with one "
                                       f"channel only, got {c}.")
        img = Image.fromarray(np.ascontiguousarray(arr[..., 0], dtype=np.uint16))  # I;16
    else:
        img = Image.fromarray(arr[..., 0] if c == 1 else arr, _CHANNEL_MODES[c])
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=level)
    return convert_to_tensor(buf.getvalue())


def encode_jpeg(image, format="", quality=95, progressive=False, optimize_size=False,
                chroma_downsampling=True, density_unit="in", x_density=300, y_density=300,
                xmp_metadata="", name=None):
    """A (height, width, 1 or 3) uint8 image as JPEG bytes (a scalar string)."""
    Image = _pil()
    arr = _image_array(image, "encode_jpeg", ("uint8",))
    c = arr.shape[-1]
    if c not in (1, 3):
        raise InvalidArgumentError(f"encode_jpeg: image must have 1 or 3 channels, got {c}.")
    img = Image.fromarray(arr[..., 0] if c == 1 else arr, "L" if c == 1 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality), progressive=bool(progressive),
             optimize=bool(optimize_size), subsampling=2 if chroma_downsampling else 0)
    return convert_to_tensor(buf.getvalue())


def is_jpeg(contents, name=None):
    return convert_to_tensor(_sniff(_bytes(contents, "is_jpeg")) == "jpeg")
