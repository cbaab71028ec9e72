"""Xception (Keras 3's keras.applications.xception). The residual 1x1 convolutions and their
BatchNorms are unnamed in Keras too; weights still line up because both formats address layers
by position/class, not by those generated names."""
from tenfold.keras.applications import _base
from tenfold.keras.applications import imagenet_utils

WEIGHTS_PATH = _base.WEIGHTS_URL_BASE + "xception/"


def _sep_bn(x, filters, name, channel_axis, act_first=True):
    from tenfold.keras import layers
    if act_first:
        x = layers.Activation("relu", name=f"{name}_act")(x)
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(axis=channel_axis, name=f"{name}_bn")(x)
    if not act_first:
        x = layers.Activation("relu", name=f"{name}_act")(x)
    return x


def _residual(x, filters, channel_axis):
    from tenfold.keras import layers
    r = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return layers.BatchNormalization(axis=channel_axis)(r)


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    from tenfold.keras import backend, layers
    _base.check_weights_arg(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=71, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _base.image_input(input_tensor, input_shape)
    ch = 1 if backend.image_data_format() == "channels_first" else -1

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=ch, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=ch, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)

    # Entry flow: blocks 2-4 (block 2 starts without an activation).
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        residual = _residual(x, filters, ch)
        if block == 2:
            x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False,
                                       name="block2_sepconv1")(x)
            x = layers.BatchNormalization(axis=ch, name="block2_sepconv1_bn")(x)
            x = _sep_bn(x, filters, "block2_sepconv2", ch)
        else:
            x = _sep_bn(x, filters, f"block{block}_sepconv1", ch)
            x = _sep_bn(x, filters, f"block{block}_sepconv2", ch)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same",
                                name=f"block{block}_pool")(x)
        x = layers.add([x, residual])

    # Middle flow: 8 identity blocks.
    for i in range(8):
        residual = x
        prefix = f"block{i + 5}"
        for j in (1, 2, 3):
            x = _sep_bn(x, 728, f"{prefix}_sepconv{j}", ch)
        x = layers.add([x, residual])

    # Exit flow.
    residual = _residual(x, 1024, ch)
    x = _sep_bn(x, 728, "block13_sepconv1", ch)
    x = _sep_bn(x, 1024, "block13_sepconv2", ch)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block13_pool")(x)
    x = layers.add([x, residual])
    x = _sep_bn(x, 1536, "block14_sepconv1", ch, act_first=False)
    x = _sep_bn(x, 2048, "block14_sepconv2", ch, act_first=False)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = _base.make_model(img_input, input_tensor, x, name)
    fname = f"xception_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return _base.load_weights(model, weights, fname, WEIGHTS_PATH + fname)


def preprocess_input(x, data_format=None):
    """Scales pixels to [-1, 1] ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5, class_index_path=None):
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
