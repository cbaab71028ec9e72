"""ConvNeXt Tiny/Small/Base/Large/XLarge (Keras 3's keras.applications.convnext): the stem and
downsampling blocks are nested `Sequential` models and the residual scale is a `LayerScale`
layer, as in Keras, so the weight layout matches. Channels-last only, like Keras."""
import numpy as np

from tenfold.keras.applications import _base
from tenfold.keras.applications import imagenet_utils
from tenfold.keras.layers.layer import Layer

BASE_WEIGHTS_PATH = _base.WEIGHTS_URL_BASE + "convnext/"

MODEL_CONFIGS = {
    "tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768]},
    "small": {"depths": [3, 3, 27, 3], "projection_dims": [96, 192, 384, 768]},
    "base": {"depths": [3, 3, 27, 3], "projection_dims": [128, 256, 512, 1024]},
    "large": {"depths": [3, 3, 27, 3], "projection_dims": [192, 384, 768, 1536]},
    "xlarge": {"depths": [3, 3, 27, 3], "projection_dims": [256, 512, 1024, 2048]},
}


class StochasticDepth(Layer):
    """Drops the whole residual branch per sample while training (scaled to keep the mean)."""

    def __init__(self, drop_path_rate, **kwargs):
        super().__init__(**kwargs)
        self.drop_path_rate = drop_path_rate

    def call(self, x, training=None):
        if training:
            from tenfold.keras import ops, random
            keep_prob = 1 - self.drop_path_rate
            shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
            mask = ops.floor(keep_prob + random.uniform(shape, 0, 1))
            return (x / keep_prob) * mask
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"drop_path_rate": self.drop_path_rate})
        return config


class LayerScale(Layer):
    """Multiplies the input by a learned per-channel `gamma` (initialized to `init_values`)."""

    _keras_public_name = ("keras.src.applications.convnext", "LayerScale")  # Keras's class

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, _):
        from tenfold.keras import initializers
        self.gamma = self.add_weight(shape=(self.projection_dim,),
                                     initializer=initializers.Constant(self.init_values),
                                     trainable=True)

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        config = super().get_config()
        config.update({"init_values": self.init_values, "projection_dim": self.projection_dim})
        return config


def ConvNeXtBlock(projection_dim, drop_path_rate=0.0, layer_scale_init_value=1e-6, name=None):
    from tenfold.keras import layers

    def apply(inputs):
        x = layers.Conv2D(filters=projection_dim, kernel_size=7, padding="same",
                          groups=projection_dim, name=f"{name}_depthwise_conv")(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = LayerScale(layer_scale_init_value, projection_dim,
                           name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            layer = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")
        else:
            layer = layers.Activation("linear", name=f"{name}_identity")
        return inputs + layer(x)
    return apply


def PreStem(name):
    """Normalizes [0, 255] inputs with the ImageNet-1k mean and std."""
    from tenfold.keras import layers

    def apply(x):
        return layers.Normalization(
            mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
            variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
            name=f"{name}_prestem_normalization")(x)
    return apply


def Head(num_classes=1000, classifier_activation=None, name=None):
    from tenfold.keras import layers

    def apply(x):
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        return layers.Dense(num_classes, activation=classifier_activation,
                            name=f"{name}_head_dense")(x)
    return apply


def ConvNeXt(depths, projection_dims, drop_path_rate=0.0, layer_scale_init_value=1e-6,
             default_size=224, name="convnext", include_preprocessing=True, include_top=True,
             weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", weights_name=None):
    from tenfold.keras import backend, layers
    from tenfold.keras.models import Sequential
    if backend.image_data_format() == "channels_first":
        raise ValueError("ConvNeXt does not support the `channels_first` image data format. "
                         "Switch to `channels_last` (keras.config.set_image_data_format).")
    _base.check_weights_arg(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=backend.image_data_format(), require_flatten=include_top, weights=weights)
    img_input = _base.image_input(input_tensor, input_shape)
    if input_tensor is not None:
        src = _base.source_inputs(input_tensor)
        inputs = src[0] if isinstance(src, list) else src
        x = input_tensor
    else:
        inputs = x = img_input
    if include_preprocessing and input_shape[2] == 3:
        x = PreStem(name=name)(x)

    stem = Sequential([
        layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
        layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm"),
    ], name=f"{name}_stem")
    downsample_layers = [stem]
    for i in range(3):
        downsample_layers.append(Sequential([
            layers.LayerNormalization(epsilon=1e-6, name=f"{name}_downsampling_layernorm_{i}"),
            layers.Conv2D(projection_dims[i + 1], kernel_size=2, strides=2,
                          name=f"{name}_downsampling_conv_{i}"),
        ], name=f"{name}_downsampling_block_{i}"))

    depth_drop_rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i in range(4):
        x = downsample_layers[i](x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(projection_dim=projection_dims[i],
                              drop_path_rate=depth_drop_rates[cur + j],
                              layer_scale_init_value=layer_scale_init_value,
                              name=f"{name}_stage_{i}_block_{j}")(x)
        cur += depths[i]

    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Head(num_classes=classes, classifier_activation=classifier_activation, name=name)(x)
    else:
        if pooling == "avg":
            x = layers.GlobalAveragePooling2D()(x)
        elif pooling == "max":
            x = layers.GlobalMaxPooling2D()(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
    from tenfold.keras.models import Functional
    model = Functional(inputs=inputs, outputs=x, name=name)

    if weights == "imagenet":
        expected = MODEL_CONFIGS[weights_name.split("convnext_")[-1]]
        if (list(depths) != expected["depths"] or
                list(projection_dims) != expected["projection_dims"]):
            raise ValueError(f"Architecture configuration does not match {weights_name} "
                             f"variant. Expected depths: {expected['depths']}, got: {depths}. "
                             f"Expected projection_dims: {expected['projection_dims']}, got: "
                             f"{projection_dims}.")
        if weights_name not in name:
            raise ValueError(f'Model name "{name}" does not match weights variant '
                             f'"{weights_name}". When using imagenet weights, model name must '
                             "contain the weights variant.")
    fname = f"{weights_name}{'.h5' if include_top else '_notop.h5'}"
    return _base.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname)


def _make_variant(size):
    def ctor(include_top=True, include_preprocessing=True, weights="imagenet",
             input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=f"convnext_{size}"):
        cfg = MODEL_CONFIGS[size]
        return ConvNeXt(weights_name=f"convnext_{size}", depths=cfg["depths"],
                        projection_dims=cfg["projection_dims"], drop_path_rate=0.0,
                        layer_scale_init_value=1e-6, default_size=224, name=name,
                        include_top=include_top, include_preprocessing=include_preprocessing,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation)
    ctor.__name__ = ctor.__qualname__ = f"ConvNeXt{'XLarge' if size == 'xlarge' else size.title()}"
    ctor.__doc__ = f"Instantiates the {ctor.__name__} architecture."
    return ctor


ConvNeXtTiny = _make_variant("tiny")
ConvNeXtSmall = _make_variant("small")
ConvNeXtBase = _make_variant("base")
ConvNeXtLarge = _make_variant("large")
ConvNeXtXLarge = _make_variant("xlarge")


def preprocess_input(x, data_format=None):
    """The identity: ConvNeXt models normalize inside (`include_preprocessing=True`)."""
    return x


def decode_predictions(preds, top=5, class_index_path=None):
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
