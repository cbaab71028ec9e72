"""`keras.applications`: ImageNet architectures with Keras 3's constructors, layer names and
weight order (Keras's published `.h5` files and Keras-saved weights load unchanged).

Family modules (`resnet`, `mobilenet_v2`, ...) load on first use.
"""
import importlib as _importlib

_FAMILIES = {
    "resnet": ("ResNet50", "ResNet101", "ResNet152"),
    "resnet_v2": ("ResNet50V2", "ResNet101V2", "ResNet152V2"),
    "mobilenet_v2": ("MobileNetV2",),
    "mobilenet_v3": ("MobileNetV3Small", "MobileNetV3Large"),
    "efficientnet": tuple(f"EfficientNetB{i}" for i in range(8)),
    "vgg16": ("VGG16",),
    "vgg19": ("VGG19",),
    "densenet": ("DenseNet121", "DenseNet169", "DenseNet201"),
    "xception": ("Xception",),
    "inception_v3": ("InceptionV3",),
    "convnext": ("ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge",
                 "ConvNeXtXLarge"),
}
_MODULES = set(_FAMILIES) | {"imagenet_utils", "resnet50"}
_ATTRS = {name: mod for mod, names in _FAMILIES.items() for name in names}


def __getattr__(name):
    if name in _MODULES:
        mod = _importlib.import_module(f"tenfold.keras.applications.{name}")
        globals()[name] = mod
        return mod
    if name in _ATTRS:
        val = getattr(_importlib.import_module(f"tenfold.keras.applications.{_ATTRS[name]}"),
                      name)
        globals()[name] = val
        return val
    raise AttributeError(f"module 'tenfold.keras.applications' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _MODULES | set(_ATTRS))
