"""`tf.image`."""
from tenfold.ops.image_ops import (  # noqa: F401
    ResizeMethod, resize, resize_with_pad, resize_with_crop_or_pad, crop_to_bounding_box,
    pad_to_bounding_box, central_crop, flip_left_right, flip_up_down, transpose, rot90,
    random_flip_left_right, random_flip_up_down, random_crop, random_brightness,
    random_contrast, adjust_brightness, adjust_contrast, convert_image_dtype,
    per_image_standardization, rgb_to_grayscale, grayscale_to_rgb, psnr, total_variation)

_CODECS = ("decode_png", "decode_jpeg", "decode_gif", "decode_bmp", "decode_image",
           "encode_png", "encode_jpeg", "is_jpeg")


def __getattr__(name):
    if name in _CODECS:  # image files (Pillow), loaded on first use
        from tenfold.api import image_codecs
        return getattr(image_codecs, name)
    raise AttributeError(f"module 'tenfold.image' has no attribute {name!r}")
