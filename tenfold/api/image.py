"""`tf.image`."""
from tenfold.ops.image_ops import (  # noqa: F401
    ResizeMethod, resize, resize_with_pad, resize_with_crop_or_pad, crop_to_bounding_box,
    pad_to_bounding_box, central_crop, flip_left_right, flip_up_down, transpose, rot90,
    random_flip_left_right, random_flip_up_down, random_crop, random_brightness,
    random_contrast, adjust_brightness, adjust_contrast, convert_image_dtype,
    per_image_standardization, rgb_to_grayscale, grayscale_to_rgb, psnr, total_variation)
