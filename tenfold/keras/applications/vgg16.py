"""VGG16 (Keras 3's keras.applications.vgg16); the builder is shared with VGG19."""
from tenfold.keras.applications import _base
from tenfold.keras.applications import imagenet_utils

_URL = _base.WEIGHTS_URL_BASE + "{0}/{0}_weights_tf_dim_ordering_tf_kernels{1}.h5"


def build_vgg(convs_per_block, include_top, weights, input_tensor, input_shape, pooling,
              classes, classifier_activation, name, weights_name):
    from tenfold.keras import backend, layers
    _base.check_weights_arg(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _base.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, n) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), 1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = _base.make_model(img_input, input_tensor, x, name)
    url = _URL.format(weights_name, "" if include_top else "_notop")
    return _base.load_weights(model, weights, url.rsplit("/", 1)[1], url)


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    return build_vgg((2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name, "vgg16")


def preprocess_input(x, data_format=None):
    """Caffe-style: RGB->BGR, then subtract the ImageNet channel means."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5, class_index_path=None):
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
