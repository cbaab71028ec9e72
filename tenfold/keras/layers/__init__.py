"""`keras.layers`: every built-in layer, plus `serialize` / `deserialize` of layer configs."""
from tenfold.keras.layers.layer import Layer, InputSpec  # noqa: F401
from tenfold.keras.layers.core import (  # noqa: F401
    Dense, Activation, Dropout, Flatten, Reshape, Permute, RepeatVector, Lambda, Identity,
    Masking, Embedding)
from tenfold.keras.layers.activation_layers import ReLU, LeakyReLU, Softmax, ELU, PReLU  # noqa
from tenfold.keras.layers.merging import (  # noqa: F401
    Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, add, subtract,
    multiply, average, maximum, minimum, concatenate, dot)
from tenfold.keras.layers.reshaping import (  # noqa: F401
    ZeroPadding1D, ZeroPadding2D, UpSampling1D, UpSampling2D, Cropping1D, Cropping2D)
from tenfold.keras.layers.pooling import (  # noqa: F401
    MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPool1D, MaxPool2D,
    AvgPool1D, AvgPool2D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D)
from tenfold.keras.layers.conv import (  # noqa: F401
    Conv1D, Conv2D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D,
    SeparableConv1D, SeparableConv2D, Convolution1D, Convolution2D, Convolution1DTranspose,
    Convolution2DTranspose, SeparableConvolution1D, SeparableConvolution2D)
from tenfold.keras.layers.conv3d import (  # noqa: F401
    Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D, GlobalAveragePooling3D,
    GlobalMaxPooling3D, Convolution3D, Convolution3DTranspose, MaxPool3D, AvgPool3D,
    GlobalAvgPool3D, GlobalMaxPool3D)
from tenfold.keras.layers.einsum_dense import EinsumDense  # noqa: F401
from tenfold.keras.layers.tfsm_layer import TFSMLayer  # noqa: F401
from tenfold.keras.layers.index_lookup import StringLookup, IntegerLookup, Hashing  # noqa
from tenfold.keras.layers.text_vectorization import TextVectorization  # noqa: F401
from tenfold.keras.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D  # noqa: F401
from tenfold.keras.layers.normalization import (  # noqa: F401
    BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization)
from tenfold.keras.layers.preprocessing import Rescaling, Normalization  # noqa: F401
from tenfold.keras.layers.image_preprocessing import (  # noqa: F401
    Resizing, CenterCrop, RandomCrop, RandomFlip, RandomRotation, RandomZoom,
    RandomTranslation, RandomContrast, RandomBrightness)
from tenfold.keras.layers.encoding import CategoryEncoding, Discretization  # noqa: F401
from tenfold.keras.layers.regularization import (  # noqa: F401
    GaussianNoise, GaussianDropout, SpatialDropout1D, SpatialDropout2D, AlphaDropout,
    ActivityRegularization)
from tenfold.keras.layers.rnn import (  # noqa: F401
    RNN, SimpleRNN, LSTM, GRU, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)
from tenfold.keras.layers.wrappers import Bidirectional, TimeDistributed  # noqa: F401
from tenfold.keras.layers.attention import (  # noqa: F401
    Attention, AdditiveAttention, MultiHeadAttention)

try:  # written by the functional-API engineer
    from tenfold.keras.layers.input_layer import Input, InputLayer  # noqa: F401
except ImportError:  # pragma: no cover
    pass


def _all_layer_classes():
    out = {}
    for name, obj in globals().items():
        if isinstance(obj, type) and issubclass(obj, Layer):
            out[name] = obj
    return out


def _registered_name(cls):
    from tenfold.keras.saving.object_registration import get_registered_name
    return get_registered_name(cls)


def serialize(layer):
    """Keras 3's serialized form of a layer: {'module', 'class_name', 'config', ...}."""
    cls = type(layer)
    builtin = _all_layer_classes().get(cls.__name__) is cls
    out = {"module": "keras.layers" if builtin else cls.__module__,
           "class_name": cls.__name__, "config": layer.get_config(),
           "registered_name": None if builtin else _registered_name(cls)}
    build = layer.get_build_config() if getattr(layer, "built", False) else None
    if build is not None:
        out["build_config"] = build
    return out


def deserialize(config, custom_objects=None):
    """A layer from its serialized form (class looked up among built-in layers, then
    `custom_objects`, then registered classes)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize a layer from {config!r}: expected a dict with "
                         "'class_name' and 'config'.")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _all_layer_classes().get(name)
    if cls is None:
        try:
            from tenfold.keras.saving import get_registered_object
            cls = get_registered_object(config.get("registered_name") or name)
        except Exception:
            cls = None
    if cls is None:
        raise ValueError(f"Unknown layer: {name!r}. If it is a custom layer, pass it in "
                         "custom_objects or decorate it with "
                         "@keras.saving.register_keras_serializable().")
    cfg = config.get("config") or {}
    import inspect
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        layer = cls.from_config(cfg, custom_objects=custom_objects)
    else:
        layer = cls.from_config(cfg)
    build = config.get("build_config")
    if build and hasattr(layer, "build_from_config"):
        layer.build_from_config(build)
    return layer


def get(identifier, custom_objects=None):
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if isinstance(identifier, str):
        cls = _all_layer_classes().get(identifier)
        if cls is not None:
            return cls()
    raise ValueError(f"Could not interpret layer identifier: {identifier!r}")


def _experimental():  # tf.keras.layers.experimental (tf.keras 2)
    import types
    from tenfold.keras.layers.normalization import SyncBatchNormalization
    return types.SimpleNamespace(SyncBatchNormalization=SyncBatchNormalization)


experimental = _experimental()
