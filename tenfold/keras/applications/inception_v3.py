"""InceptionV3 (Keras 3's keras.applications.inception_v3). Branch layers are unnamed, as in
Keras; the call order below is Keras's, which fixes the weight order."""
from tenfold.keras.applications import _base
from tenfold.keras.applications import imagenet_utils

WEIGHTS_PATH = _base.WEIGHTS_URL_BASE + "inception_v3/"


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv2D (no bias) + BatchNorm (no scale) + ReLU; `name` gives `name_conv`/`name_bn`."""
    from tenfold.keras import layers
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding,
                      use_bias=False, name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=_base.bn_axis(), scale=False,
                                  name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def _avg_pool_same(x):
    from tenfold.keras import layers
    return layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)


def _block_35(x, pool_filters, name, axis):  # mixed0..2
    from tenfold.keras import layers
    b1 = conv2d_bn(x, 64, 1, 1)
    b5 = conv2d_bn(x, 48, 1, 1)
    b5 = conv2d_bn(b5, 64, 5, 5)
    b3 = conv2d_bn(x, 64, 1, 1)
    b3 = conv2d_bn(b3, 96, 3, 3)
    b3 = conv2d_bn(b3, 96, 3, 3)
    bp = conv2d_bn(_avg_pool_same(x), pool_filters, 1, 1)
    return layers.concatenate([b1, b5, b3, bp], axis=axis, name=name)


def _block_17(x, c7, name, axis):  # mixed4..7
    from tenfold.keras import layers
    b1 = conv2d_bn(x, 192, 1, 1)
    b7 = conv2d_bn(x, c7, 1, 1)
    b7 = conv2d_bn(b7, c7, 1, 7)
    b7 = conv2d_bn(b7, 192, 7, 1)
    bd = conv2d_bn(x, c7, 1, 1)
    bd = conv2d_bn(bd, c7, 7, 1)
    bd = conv2d_bn(bd, c7, 1, 7)
    bd = conv2d_bn(bd, c7, 7, 1)
    bd = conv2d_bn(bd, 192, 1, 7)
    bp = conv2d_bn(_avg_pool_same(x), 192, 1, 1)
    return layers.concatenate([b1, b7, bd, bp], axis=axis, name=name)


def _block_8(x, i, axis):  # mixed9, mixed10
    from tenfold.keras import layers
    b1 = conv2d_bn(x, 320, 1, 1)
    b3 = conv2d_bn(x, 384, 1, 1)
    b3 = layers.concatenate([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)], axis=axis,
                            name=f"mixed9_{i}")
    bd = conv2d_bn(x, 448, 1, 1)
    bd = conv2d_bn(bd, 384, 3, 3)
    bd = layers.concatenate([conv2d_bn(bd, 384, 1, 3), conv2d_bn(bd, 384, 3, 1)], axis=axis)
    bp = conv2d_bn(_avg_pool_same(x), 192, 1, 1)
    return layers.concatenate([b1, b3, bd, bp], axis=axis, name=f"mixed{9 + i}")


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    from tenfold.keras import backend, layers
    _base.check_weights_arg(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=75, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _base.image_input(input_tensor, input_shape)
    axis = _base.bn_axis()

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

    x = _block_35(x, 32, "mixed0", axis)
    x = _block_35(x, 64, "mixed1", axis)
    x = _block_35(x, 64, "mixed2", axis)

    # mixed3: reduction to 17x17
    b3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    bd = conv2d_bn(x, 64, 1, 1)
    bd = conv2d_bn(bd, 96, 3, 3)
    bd = conv2d_bn(bd, 96, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.concatenate([b3, bd, bp], axis=axis, name="mixed3")

    for c7, name_i in ((128, "mixed4"), (160, "mixed5"), (160, "mixed6"), (192, "mixed7")):
        x = _block_17(x, c7, name_i, axis)

    # mixed8: reduction to 8x8
    b3 = conv2d_bn(x, 192, 1, 1)
    b3 = conv2d_bn(b3, 320, 3, 3, strides=(2, 2), padding="valid")
    b7 = conv2d_bn(x, 192, 1, 1)
    b7 = conv2d_bn(b7, 192, 1, 7)
    b7 = conv2d_bn(b7, 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.concatenate([b3, b7, bp], axis=axis, name="mixed8")

    for i in range(2):
        x = _block_8(x, i, axis)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = _base.make_model(img_input, input_tensor, x, name)
    fname = (f"inception_v3_weights_tf_dim_ordering_tf_kernels"
             f"{'' if include_top else '_notop'}.h5")
    return _base.load_weights(model, weights, fname, WEIGHTS_PATH + fname)


def preprocess_input(x, data_format=None):
    """Scales pixels to [-1, 1] ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5, class_index_path=None):
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
