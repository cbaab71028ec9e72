"""`keras.applications.resnet50`: ResNet50 with its preprocessing."""
from tenfold.keras.applications.resnet import (ResNet50, decode_predictions,  # noqa: F401
                                               preprocess_input)

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
