"""Shared pieces of `keras.applications`: input-shape checks, `preprocess_input` modes and
`decode_predictions` (Keras 3's `keras.applications.imagenet_utils`).

tenfold runs offline: where Keras downloads a file (the ImageNet class index, published
weights) we look in Keras's own cache (`$KERAS_HOME/models` or `~/.keras/models`) and in an
explicit path, and otherwise raise an error that says which file to pass.
"""
import json
import os
import warnings

import numpy as np

CLASS_INDEX = None
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_ENV = "TENFOLD_IMAGENET_CLASS_INDEX"
CLASS_INDEX_URL = ("https://storage.googleapis.com/download.tensorflow.org/"
                   "data/imagenet_class_index.json")

_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR order
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def keras_cache_dir():
    """Where Keras's `get_file(..., cache_subdir="models")` keeps downloads."""
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(base, "models")


def _data_format(data_format):
    if data_format is None:
        from tenfold.keras import backend
        data_format = backend.image_data_format()
    if data_format not in {"channels_first", "channels_last"}:
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    return data_format


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocesses a batch of images (values in [0, 255]) for an ImageNet model.

    mode: "caffe" (RGB->BGR, subtract the ImageNet channel means), "tf" (scale to [-1, 1])
    or "torch" (scale to [0, 1], then normalize with the ImageNet mean/std).
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    data_format = _data_format(data_format)
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _mode_constants(mode):
    if mode == "torch":
        return _TORCH_MEAN, _TORCH_STD
    return _CAFFE_MEAN, None


def _preprocess_numpy(x, data_format, mode):
    # Like Keras: float arrays are changed in place, other dtypes get a float32 copy.
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype("float32", copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
    else:  # caffe: RGB -> BGR
        if data_format == "channels_first":
            x = x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]
        else:
            x = x[..., ::-1]
    mean, std = _mode_constants(mode)
    shape = [1] * x.ndim
    shape[(0 if x.ndim == 3 else 1) if data_format == "channels_first" else -1] = 3
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def _preprocess_tensor(x, data_format, mode):
    from tenfold.keras import ops
    x = ops.convert_to_tensor(x)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        x = x / 255.0
    ndim = len(x.shape)
    if mode == "caffe":
        if data_format == "channels_first":
            if ndim == 3:
                x = ops.stack([x[i, ...] for i in (2, 1, 0)], axis=0)
            else:
                x = ops.stack([x[:, i] for i in (2, 1, 0)], axis=1)
        else:
            x = ops.stack([x[..., i] for i in (2, 1, 0)], axis=-1)
    mean, std = _mode_constants(mode)
    shape = [1] * ndim
    shape[(0 if ndim == 3 else 1) if data_format == "channels_first" else -1] = 3
    x = x - ops.cast(ops.reshape(ops.convert_to_tensor(np.asarray(mean)), shape), x.dtype)
    if std is not None:
        x = x / ops.cast(ops.reshape(ops.convert_to_tensor(np.asarray(std)), shape), x.dtype)
    return x


def _find_class_index(path):
    candidates = [path, os.environ.get(CLASS_INDEX_ENV),
                  os.path.join(keras_cache_dir(), CLASS_INDEX_FILE)]
    for cand in candidates:
        if cand and os.path.isfile(cand):
            return cand
    if path:
        raise FileNotFoundError(f"decode_predictions: class index file {path!r} does not exist.")
    raise FileNotFoundError(
        "decode_predictions needs the ImageNet class index, which Keras downloads from "
        f"{CLASS_INDEX_URL}; tenfold does not download. Put `{CLASS_INDEX_FILE}` in "
        f"{keras_cache_dir()}, set ${CLASS_INDEX_ENV} to its path, or pass "
        "`class_index_path=...`.")


def decode_predictions(preds, top=5, class_index_path=None):
    """Decodes a (samples, 1000) batch of ImageNet predictions into lists of
    `(class_name, class_description, score)`, best first."""
    global CLASS_INDEX
    from tenfold.keras import ops
    preds = np.asarray(ops.convert_to_numpy(preds))
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array "
                         f"of shape (samples, 1000)). Received array with shape: {preds.shape}")
    if class_index_path is not None or CLASS_INDEX is None:
        fpath = _find_class_index(class_index_path)
        try:
            with open(fpath, encoding="utf-8") as f:
                index = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"decode_predictions: could not read the class index {fpath!r} "
                             f"(expected Keras's imagenet_class_index.json): {e}") from None
        if class_index_path is not None:
            return _decode(preds, top, index)
        CLASS_INDEX = index
    return _decode(preds, top, CLASS_INDEX)


def _decode(preds, top, index):
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """Computes/validates a model's input shape (Keras's rules, messages included)."""
    channels_first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        ch = input_shape[0] if channels_first else input_shape[-1]
        if ch not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {ch} input channels.", stacklevel=3)
        default_shape = ((input_shape[0], default_size, default_size) if channels_first
                         else (default_size, default_size, input_shape[-1]))
    else:
        default_shape = ((3, default_size, default_size) if channels_first
                         else (default_size, default_size, 3))
    if weights == "imagenet" and require_flatten and input_shape is not None:
        if tuple(input_shape) != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, "
                             f"`input_shape` should be {default_shape}.  Received: "
                             f"input_shape={input_shape}")
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        ch = input_shape[0] if channels_first else input_shape[-1]
        spatial = input_shape[1:] if channels_first else input_shape[:2]
        if ch != 3 and weights == "imagenet":
            raise ValueError("The input must have 3 channels; Received "
                             f"`input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in spatial):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """Zero padding for a strided 'valid' convolution to mimic TF's 'same' on even inputs."""
    from tenfold.keras import backend
    img_dim = 2 if backend.image_data_format() == "channels_first" else 1
    input_size = tuple(inputs.shape[img_dim:img_dim + 2])
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if input_size[0] is None else (1 - input_size[0] % 2, 1 - input_size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained weights allow only a softmax or linear (None) classifier."""
    if weights is None:
        return
    from tenfold.keras import activations
    act = activations.get(classifier_activation)
    if act not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained weights, "
                         f"with `include_top=True`; Received: {classifier_activation}")
