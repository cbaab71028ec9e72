"""Plumbing every application shares: the `weights` argument, the input tensor, the
classifier/pooling head and loading a weight file."""
import os

from tenfold.keras.applications import imagenet_utils

WEIGHTS_URL_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"


def check_weights_arg(weights, include_top, classes, model_name):
    if not (weights in {"imagenet", None} or
            (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the path "
                         f"to the weights file to be loaded.  Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` "
                         f"should be 1000.  Received classes={classes}")


def image_input(input_tensor, input_shape):
    from tenfold.keras import layers
    from tenfold.keras.utils import is_keras_tensor
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def source_inputs(tensor):
    """The Input tensors a symbolic tensor was computed from (Keras's get_source_inputs)."""
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        hist = getattr(t, "_keras_history", None)
        if hist is None:
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            continue
        node = hist[0]._inbound_nodes[hist[1]]
        if node.is_input:
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
        else:
            stack.extend(reversed(node.input_tensors))
    return found[0] if len(found) == 1 else found


def bn_axis():
    from tenfold.keras import backend
    return 3 if backend.image_data_format() == "channels_last" else 1


def top_or_pooling(x, include_top, pooling, classes, classifier_activation, weights,
                   dropout=None, pool_name="avg_pool", max_name="max_pool"):
    """The usual head: global average pooling + softmax Dense `predictions`, or optional
    pooling of the feature map."""
    from tenfold.keras import layers
    if include_top:
        x = layers.GlobalAveragePooling2D(name=pool_name)(x)
        if dropout:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=pool_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def make_model(img_input, input_tensor, outputs, name):
    from tenfold.keras.models import Functional
    inputs = source_inputs(input_tensor) if input_tensor is not None else img_input
    return Functional(inputs, outputs, name=name)


def load_weights(model, weights, file_name=None, url=None):
    """`weights=None`: nothing; a path: load it; "imagenet": the published file if Keras
    already cached it, else a clear error (tenfold does not download)."""
    if weights is None:
        return model
    if weights == "imagenet":
        cached = os.path.join(imagenet_utils.keras_cache_dir(), file_name) if file_name else None
        if cached is None or not os.path.isfile(cached):
            where = (f"Download Keras's published file {url or file_name} "
                     f"and pass its path as `weights=`, or place it in "
                     f"{imagenet_utils.keras_cache_dir()}." if file_name else
                     "Pass the path of a weight file as `weights=`.")
            raise ValueError(f"{model.name}: weights='imagenet' needs a download, and tenfold "
                             f"runs offline. {where}")
        weights = cached
    model.load_weights(os.fspath(weights))
    return model
