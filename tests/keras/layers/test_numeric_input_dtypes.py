"""Layers given bool or integer inputs (issue 18): the layers whose computation mixes inputs
with float weights take them as their compute dtype, as Keras 3's op promotion does (a boolean
one-hot into Dense works); the others keep the input dtype. Checked against the Keras oracle
(dtype and, with the same weights, values)."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras as tk

from tests.keras.layers.layers_oracle import keras_module, to_np, assert_close

ONE_HOT = np.eye(4, dtype=bool)[[[0, 1, 2], [1, 2, 3]]]          # (2, 3, 4) bool
INTS = (np.arange(24, dtype=np.int32).reshape(2, 3, 4) % 5)      # (2, 3, 4) int32


def _dtype_name(t):
    d = t.dtype
    return d.name if hasattr(d, "name") and not isinstance(d, np.dtype) else str(d)


# (layer factory on a layers module, input, Keras output dtype)
CASES = {
    "Dense-bool": (lambda L: L.Dense(3), ONE_HOT),
    "Dense-int": (lambda L: L.Dense(3), INTS),
    "LSTM-bool": (lambda L: L.LSTM(2), ONE_HOT),
    "GRU-int": (lambda L: L.GRU(2), INTS),
    "SimpleRNN-bool": (lambda L: L.SimpleRNN(2), ONE_HOT),
    "BatchNormalization-bool": (lambda L: L.BatchNormalization(), ONE_HOT),
    "MultiHeadAttention-bool": (lambda L: L.MultiHeadAttention(2, 2), ONE_HOT),
    "Conv1D-int": (lambda L: L.Conv1D(2, 2), INTS),
    "GlobalAveragePooling1D-bool": (lambda L: L.GlobalAveragePooling1D(), ONE_HOT),
    "GlobalMaxPooling1D-bool": (lambda L: L.GlobalMaxPooling1D(), ONE_HOT),
    "Dropout-bool": (lambda L: L.Dropout(0.5), ONE_HOT),
    "Flatten-bool": (lambda L: L.Flatten(), ONE_HOT),
    "Activation-int": (lambda L: L.Activation("relu"), INTS),
    "Embedding-int": (lambda L: L.Embedding(5, 2), INTS[:, :, 0]),
}
# Keras's numpy backend refuses an integer convolution (lax.conv); tenfold, like
# Keras-on-TensorFlow's float kernels, takes it as float32
KERAS_FAILS = {"Conv1D-int": "float32"}


def _call(layer, x):
    if isinstance(layer, (tk.layers.MultiHeadAttention,)) or \
            type(layer).__name__ == "MultiHeadAttention":
        return layer(x, x)
    return layer(x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_dtype_and_values_match_keras(name):
    keras = keras_module()
    make, x = CASES[name]
    ours = make(tk.layers)
    out = _call(ours, x)
    if name in KERAS_FAILS:
        assert _dtype_name(out) == KERAS_FAILS[name]
        return
    theirs = make(keras.layers)
    ref = _call(theirs, x)
    assert _dtype_name(out) == keras.backend.standardize_dtype(ref.dtype), name
    if theirs.weights:
        theirs.set_weights([to_np(w) for w in ours.weights])
        ref = _call(theirs, x)
    if name.startswith("Dropout"):
        return  # random in training only; inference is the identity either way
    assert_close(out, ref, atol=1e-5, what=name)


def test_boolean_one_hot_into_a_functional_model_and_fit():
    inp = tk.Input((4,), dtype="bool")
    model = tk.Model(inp, tk.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x = np.eye(4, dtype=bool)[np.arange(8) % 4]
    y = np.arange(8, dtype=np.float32)[:, None] % 4
    hist = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    pred = model.predict(x, verbose=0)
    assert pred.dtype == np.float32 and pred.shape == (8, 1)
    kernel, bias = (to_np(w) for w in model.layers[-1].weights)
    np.testing.assert_allclose(pred, x.astype(np.float32) @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_tensor_inputs_are_cast_too():
    d = tk.layers.Dense(2)
    out = d(tf.constant(ONE_HOT[0]))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(to_np(out), ONE_HOT[0].astype(np.float32) @ to_np(d.kernel)
                               + to_np(d.bias), rtol=1e-6)
