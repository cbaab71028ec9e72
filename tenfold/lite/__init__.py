"""`tf.lite`: TensorFlow Lite conversion (`TFLiteConverter`) and an interpreter that runs
`.tflite` files in NumPy (`Interpreter`, LiteRT's API). Needs `pip install "tenfold[lite]"`
(the `flatbuffers` and `tflite` packages); run the files on devices with LiteRT
(`ai-edge-litert`).
"""
from tenfold.lite._lower import UnsupportedLayerError
from tenfold.lite.converter import (ConverterError, Optimize, OpsSet, RepresentativeDataset,
                                    TargetSpec, TFLiteConverter)
from tenfold.lite.interpreter import Interpreter

__all__ = ["TFLiteConverter", "Optimize", "OpsSet", "TargetSpec", "RepresentativeDataset",
           "Interpreter", "ConverterError", "UnsupportedLayerError"]
