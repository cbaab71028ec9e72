"""tenfold's tf.lite.Interpreter on .tflite files made by TensorFlow's own converter
(tests/fixtures/tflite/make_tf_tflite.py): the same outputs as LiteRT."""
import os

import numpy as np
import pytest

import tenfold as tf

from ai_edge_litert.interpreter import Interpreter as LiteRT

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                    "tflite")


def _run(cls, path, x):
    it = cls(model_path=path)
    d = it.get_input_details()[0]
    if d["dtype"] != np.float32:
        s, z = d["quantization"]
        x = np.clip(np.rint(x / s) + z, -128, 127).astype(d["dtype"])
    it.resize_tensor_input(d["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("form", ["float32", "float16", "dynamic", "int8"])
def test_tensorflow_converted_files(form):
    path = os.path.join(HERE, f"tf_vision_{form}.tflite")
    x = np.load(os.path.join(HERE, "tf_inputs.npy"))
    a = _run(LiteRT, path, x).astype(np.float64)
    b = _run(tf.lite.Interpreter, path, x).astype(np.float64)
    if form == "int8":
        assert np.abs(a - b).max() <= 2
        assert np.mean(np.abs(a - b) <= 1) > 0.97
    elif form == "dynamic":  # LiteRT's hybrid kernels quantize activations on the fly
        np.testing.assert_allclose(b, a, atol=0.02)
    else:
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
