"""VGG19 (Keras 3's keras.applications.vgg19)."""
from tenfold.keras.applications.vgg16 import (build_vgg, decode_predictions,  # noqa: F401
                                              preprocess_input)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    return build_vgg((2, 2, 4, 4, 4), include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name, "vgg19")

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
