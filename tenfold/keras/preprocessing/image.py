"""`keras.preprocessing.image`: the image helpers of `keras.utils`, and `smart_resize`."""
from tenfold.keras.utils.image_utils import (  # noqa: F401
    load_img, img_to_array, array_to_img, save_img)


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Resizes an image (h, w, c) or a batch (n, h, w, c) to `size` without distorting it: the
    largest centred box with the target's aspect ratio is cut out, then resized (as Keras)."""
    import numpy as np
    from tenfold.framework.tensor import convert_to_tensor
    from tenfold.ops import image_ops
    if kwargs.pop("backend_module", None) is not None or kwargs:
        if kwargs:
            raise TypeError(f"smart_resize() got unexpected keyword arguments: {list(kwargs)}")
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    img = convert_to_tensor(x)
    if img.ndim not in (3, 4):
        raise ValueError("Expected an image array with shape `(height, width, channels)`, or "
                         "`(batch_size, height, width, channels)`, but got input with incorrect "
                         f"rank, of shape {tuple(img.shape)}.")
    arr = img.numpy()
    if data_format == "channels_first":
        arr = np.moveaxis(arr, -3, -1)
    height, width = arr.shape[-3], arr.shape[-2]
    th, tw = int(size[0]), int(size[1])
    crop_h = max(min(height, int(float(width * th) / tw)), 1)
    crop_w = max(min(width, int(float(height * tw) / th)), 1)
    top = int(float(height - crop_h) / 2)
    left = int(float(width - crop_w) / 2)
    arr = arr[..., top:top + crop_h, left:left + crop_w, :]
    out = image_ops.resize(convert_to_tensor(np.ascontiguousarray(arr)), (th, tw),
                           method=interpolation)
    if data_format == "channels_first":
        out = convert_to_tensor(np.moveaxis(out.numpy(), -1, -3))
    return out
