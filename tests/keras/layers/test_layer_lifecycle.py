"""Layer lifecycle edge cases, checked against Keras 3 (KERAS_BACKEND=numpy): a layer built by
hand is not built again by its first call; build() takes a tuple, a list or a TensorShape;
add_weight works before build (in __init__)."""
import numpy as np
import pytest

from layers_oracle import keras_module

import tenfold as tf
from tenfold import keras as tk


def _custom_layer_class(keras):
    class Projection(keras.layers.Layer):
        def build(self, input_shape):
            self.builds = getattr(self, "builds", 0) + 1
            self.w = self.add_weight(shape=(input_shape[-1], 3), initializer="ones", name="w")

        def call(self, x):
            return keras.ops.matmul(x, self.w)
    return Projection


@pytest.mark.parametrize("shape", [(None, 4), [None, 4], "TensorShape"])
def test_custom_layer_built_by_hand_is_not_built_again(shape):
    keras = keras_module()
    x = np.arange(8, dtype="float32").reshape(2, 4)
    results = {}
    for name, lib in (("keras", keras), ("tenfold", tk)):
        layer = _custom_layer_class(lib)()
        given = (tf.TensorShape([None, 4]) if name == "tenfold" else (None, 4)) \
            if shape == "TensorShape" else shape
        layer.build(given)
        after_build = (layer.built, len(layer.weights))
        y = layer(x)
        layer.set_weights([np.full((4, 3), 2.0, "float32")])
        y2 = layer(x)
        results[name] = (after_build, layer.builds, len(layer.weights),
                         np.asarray(y), np.asarray(y2), layer.get_build_config())
    k, t = results["keras"], results["tenfold"]
    assert t[0] == k[0] == (True, 1)
    assert t[1] == k[1] == 1
    assert t[2] == k[2] == 1
    np.testing.assert_allclose(t[3], k[3])
    np.testing.assert_allclose(t[4], k[4])
    assert list(t[5]["input_shape"]) == list(k[5]["input_shape"]) == [None, 4]


@pytest.mark.parametrize("make,shape", [
    (lambda L: L.Dense(3), (2, 4)),
    (lambda L: L.Conv2D(2, 3), (1, 5, 5, 3)),
    (lambda L: L.LSTM(3), (2, 4, 5)),
    (lambda L: L.BatchNormalization(), (2, 4)),
    (lambda L: L.LayerNormalization(), (2, 4)),
    (lambda L: L.Embedding(10, 3), (2, 4)),
])
@pytest.mark.parametrize("kind", ["tuple", "list", "TensorShape"])
def test_builtin_layers_built_by_hand(make, shape, kind):
    keras = keras_module()
    given = {"tuple": (None,) + shape[1:], "list": [None] + list(shape[1:]),
             "TensorShape": tf.TensorShape((None,) + shape[1:])}[kind]
    ours = make(tk.layers)
    theirs = make(keras.layers)
    ours.build(given)
    theirs.build(tuple(given) if kind == "TensorShape" else given)
    assert ours.built and theirs.built
    assert [tuple(v.shape) for v in ours.weights] == [tuple(v.shape) for v in theirs.weights]
    x = (np.ones(shape, "int32") if isinstance(ours, tk.layers.Embedding)
         else np.random.default_rng(0).random(shape).astype("float32"))
    ours.set_weights(theirs.get_weights())
    out = ours(x)
    assert len(ours.weights) == len(theirs.weights)   # the call did not build again
    np.testing.assert_allclose(np.asarray(out), np.asarray(theirs(x)), rtol=2e-5, atol=2e-5)
    assert list(ours.get_build_config()["input_shape"]) == [None] + list(shape[1:])


def test_add_weight_before_build():
    keras = keras_module()
    out = {}
    for name, lib in (("keras", keras), ("tenfold", tk)):
        class Scale(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")

            def call(self, x):
                return x * self.scale

        layer = Scale(name="scale_layer")
        before = (layer.built, [v.path for v in layer.weights])
        layer.set_weights([np.array([2.0, 3.0], "float32")])
        y = layer(np.ones((1, 2), "float32"))
        out[name] = (before, np.asarray(y), layer.built, len(layer.weights))
    assert out["tenfold"][0] == out["keras"][0]
    np.testing.assert_allclose(out["tenfold"][1], out["keras"][1])
    assert out["tenfold"][2:] == out["keras"][2:]


def test_model_of_hand_built_layers_saves_and_loads(tmp_path):
    layer = tk.layers.Dense(2)
    layer.build([None, 3])
    model = tk.Sequential([tk.Input((3,)), layer])
    assert len(model.weights) == 2
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = tk.models.load_model(path)
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)))
