"""`keras.utils.image_dataset_from_directory`: a `tf.data.Dataset` of images from a folder
of class-named subfolders. Images are decoded with Pillow (an optional dependency:
`pip install tenfold[images]`), in the dataset's map threads, and resized as
`tf.image.resize` does (bilinear or nearest with half-pixel centres, no antialiasing; other
methods use Pillow's filters).
"""
import os

import numpy as np
from tenfold.framework.host import to_host

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("image_dataset_from_directory needs Pillow to decode images: "
                          "install it with `pip install tenfold[images]` (or "
                          "`pip install pillow`).") from None
    return Image


# ----------------------------------------------------------------------------------------
# Finding the files

def _index_directory(directory, labels, formats, class_names, follow_links,
                     op="image_dataset_from_directory"):
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{op}: {directory!r} is not a directory.")
    if labels == "inferred":
        subdirs = sorted(d for d in os.listdir(directory)
                         if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    "The `class_names` passed did not match the names of the subdirectories "
                    f"of the target directory. Expected: {subdirs} (or a subset of it), but "
                    f"received: class_names={list(class_names)}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
        if class_names is not None:
            raise ValueError(f"{op}: `class_names` can only be given "
                             'with labels="inferred".')
    files, file_labels = [], []
    for k, sub in enumerate(subdirs):
        root = os.path.join(directory, sub) if sub else directory
        found = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_links):
            dirnames.sort()
            for f in sorted(filenames):
                if f.lower().endswith(formats):
                    found.append(os.path.join(dirpath, f))
        found.sort()
        files.extend(found)
        file_labels.extend([k] * len(found))
    if labels == "inferred":
        return files, np.asarray(file_labels, dtype=np.int32), subdirs
    if labels is None:
        return files, None, None
    if len(labels) != len(files):
        raise ValueError(f"Expected the lengths of `labels` to match the number of files in "
                         f"the target directory. len(labels) is {len(labels)} while we found "
                         f"{len(files)} files in directory {directory}.")
    return files, np.asarray(labels), [str(v) for v in sorted(set(np.asarray(labels).tolist()))]


def _split(samples, labels, validation_split, subset):
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        print(f"Using {len(samples) - num_val} files for training.")
        return samples[:len(samples) - num_val], (None if labels is None else
                                                  labels[:len(samples) - num_val])
    if subset == "validation":
        print(f"Using {num_val} files for validation.")
        return samples[len(samples) - num_val:], (None if labels is None else
                                                  labels[len(samples) - num_val:])
    raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')


# ----------------------------------------------------------------------------------------
# Decoding and resizing

def _axis_weights(out, size, method):
    scale = size / out
    if method == "nearest":
        idx = np.minimum(np.floor((np.arange(out) + 0.5) * scale).astype(np.int64), size - 1)
        return idx, idx, np.zeros(out, dtype=np.float32)
    c = (np.arange(out) + 0.5) * scale - 0.5
    lo = np.floor(c)
    frac = (c - lo).astype(np.float32)
    lo = lo.astype(np.int64)
    return np.clip(lo, 0, size - 1), np.clip(lo + 1, 0, size - 1), frac


def resize(image, size, method="bilinear"):
    """float32 HWC image resized to `size` (height, width), as tf.image.resize (bilinear /
    nearest, half-pixel centres); other methods through Pillow's filters."""
    h, w = image.shape[:2]
    oh, ow = int(size[0]), int(size[1])
    if method in ("bilinear", "nearest"):
        y0, y1, fy = _axis_weights(oh, h, method)
        x0, x1, fx = _axis_weights(ow, w, method)
        top = image[y0] * (1 - fy)[:, None, None] + image[y1] * fy[:, None, None]
        return (top[:, x0] * (1 - fx)[None, :, None] + top[:, x1] * fx[None, :, None]
                ).astype(np.float32)
    Image = _pil()
    filters = {"bicubic": Image.BICUBIC, "area": Image.BOX, "lanczos3": Image.LANCZOS,
               "lanczos5": Image.LANCZOS, "gaussian": Image.BILINEAR,
               "mitchellcubic": Image.BICUBIC}
    chans = [Image.fromarray(image[..., c].astype(np.float32), mode="F").resize(
        (ow, oh), filters[method]) for c in range(image.shape[2])]
    return np.stack([np.asarray(c, dtype=np.float32) for c in chans], axis=-1)


def _crop_to_aspect(image, size):
    h, w = image.shape[:2]
    target = size[1] / size[0]
    if w / h > target:
        cw = max(int(round(h * target)), 1)
        x = (w - cw) // 2
        return image[:, x:x + cw]
    ch = max(int(round(w / target)), 1)
    y = (h - ch) // 2
    return image[y:y + ch]


def _pad_to_aspect(image, size, method):
    h, w = image.shape[:2]
    ratio = min(size[0] / h, size[1] / w)
    nh, nw = max(int(h * ratio), 1), max(int(w * ratio), 1)
    small = resize(image, (nh, nw), method)
    out = np.zeros((size[0], size[1], image.shape[2]), dtype=np.float32)
    y, x = (size[0] - nh) // 2, (size[1] - nw) // 2
    out[y:y + nh, x:x + nw] = small
    return out


def load_image(path, image_size, num_channels, interpolation="bilinear",
               crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
               data_format="channels_last"):
    """One image file as a float32 array (height, width, channels), values 0..255."""
    Image = _pil()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[num_channels]
    try:
        with Image.open(path) as im:
            im.seek(0)
            arr = np.asarray(im.convert(mode), dtype=np.float32)
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"image_dataset_from_directory: cannot decode the image file {path}: "
                         f"{e}") from None
    if arr.ndim == 2:
        arr = arr[..., None]
    if crop_to_aspect_ratio:
        arr = resize(_crop_to_aspect(arr, image_size), image_size, interpolation)
    elif pad_to_aspect_ratio:
        arr = _pad_to_aspect(arr, image_size, interpolation)
    else:
        arr = resize(arr, image_size, interpolation)
    if data_format == "channels_first":
        arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
    return arr


# ----------------------------------------------------------------------------------------
# The dataset

def _labels_array(labels, label_mode, num_classes):
    labels = np.asarray(labels)
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        return np.eye(num_classes, dtype=np.float32)[labels.astype(np.int64)]
    return labels.astype(np.int32) if labels.dtype.kind in "iu" else labels


def _make_dataset(paths, labels, label_mode, num_classes, image_size, num_channels,
                  interpolation, crop, pad, data_format, shuffle, buffer_size, seed):
    from tenfold.data import Dataset, AUTOTUNE
    path_ds = Dataset.from_tensor_slices(np.array(paths, dtype=object))
    if label_mode:
        ds = Dataset.zip((path_ds, Dataset.from_tensor_slices(
            _labels_array(labels, label_mode, num_classes))))
    else:
        ds = path_ds
    if shuffle:
        ds = ds.shuffle(buffer_size or 1024, seed=seed)
    args = (image_size, num_channels, interpolation, crop, pad, data_format)

    def load(path):
        return load_image(to_host(path)[()], *args)
    if label_mode:
        return ds.map(lambda p, y: (load(p), y), num_parallel_calls=AUTOTUNE)
    return ds.map(load, num_parallel_calls=AUTOTUNE)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf",
                                 verbose=True):
    """A dataset of (image, label) batches from `directory/<class_name>/*.png|jpg|...`.

    Images are float32 (batch, height, width, channels) with values 0..255; labels are
    int32 class indices (`label_mode="int"`), float32 one-hot vectors ("categorical") or
    float32 (batch, 1) zeros and ones ("binary"). The dataset has a `class_names` attribute
    (the subfolder names, sorted) and `file_paths`. With `validation_split` and `subset`
    ("training", "validation" or "both") the files are split after a seeded shuffle.
    """
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size "
                "as the number of image files in the target directory. If you wish to infer "
                'the labels from the subdirectory names in the target directory, pass '
                '`labels="inferred"`. If you wish to get a dataset that only contains images '
                f"(no labels), pass `labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", '
                         f"or None. Received: label_mode={label_mode}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}
    if color_mode not in channels:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    num_channels = channels[color_mode]
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    image_size = (int(image_size[0]), int(image_size[1]))
    interpolation = interpolation.lower()
    known = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
             "mitchellcubic")
    if interpolation not in known:
        raise ValueError(f"Argument `interpolation` should be one of {known}. Received: "
                         f"interpolation={interpolation}")
    if format != "tf":
        raise ValueError(f'`format` must be "tf" in tenfold (a tf.data.Dataset). Received: '
                         f"format={format}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set "
                         "to `True`.")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide "
                         "a `seed` argument, to make sure that there is no overlap between the "
                         "training and validation subset.")
    if data_format is None:
        try:
            from tenfold.keras import backend
            data_format = backend.image_data_format()
        except (ImportError, AttributeError):
            data_format = "channels_last"
    _pil()  # fail early, with the install hint, if Pillow is missing
    if seed is None:
        seed = np.random.randint(1e6)

    paths, file_labels, names = _index_directory(directory, labels, ALLOWLIST_FORMATS,
                                                 class_names, follow_links)
    if verbose:
        if file_labels is None:
            print(f"Found {len(paths)} files.")
        else:
            print(f"Found {len(paths)} files belonging to {len(names)} classes.")
    if shuffle:
        rng = np.random.RandomState(seed)
        rng.shuffle(paths)
        if file_labels is not None:
            rng = np.random.RandomState(seed)
            rng.shuffle(file_labels)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={names}")
    num_classes = len(names) if names else 0
    buffer_size = batch_size * 8 if batch_size is not None else 1024
    common = (label_mode, num_classes, image_size, num_channels, interpolation,
              crop_to_aspect_ratio, pad_to_aspect_ratio, data_format)

    def make(p, lab, shuffled):
        if not p:
            raise ValueError(f"No images found in directory {directory}. Allowed formats: "
                             f"{ALLOWLIST_FORMATS}")
        return _make_dataset(p, lab, *common, shuffled, buffer_size, seed)

    return batched_splits(make, paths, file_labels, validation_split, subset, shuffle,
                          batch_size, names)


def batched_splits(make, paths, file_labels, validation_split, subset, shuffle, batch_size,
                   names):
    """The dataset (or [training, validation] for subset="both") of a `*_from_directory`
    loader: `make(paths, labels, shuffled)` builds one split; batched, prefetched, with
    Keras's `class_names` and `file_paths`."""
    def build(p, lab, shuffled):
        ds = make(p, lab, shuffled)
        if batch_size is not None:
            ds = ds.batch(batch_size)
        ds = ds.prefetch(-1)
        ds.class_names = names
        ds.file_paths = list(p)
        return ds

    if subset == "both":
        tp, tl = _split(paths, file_labels, validation_split, "training")
        vp, vl = _split(paths, file_labels, validation_split, "validation")
        return [build(tp, tl, shuffle), build(vp, vl, False)]
    p, lab = _split(paths, file_labels, validation_split, subset)
    return build(p, lab, shuffle)
