"""Volumetric layers (Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D, the global 3-D
poolings) against Keras 3 (KERAS_BACKEND=numpy): outputs with the same weights, gradients by
finite differences (float64), get_config parity and round trips, and errors that teach."""
import numpy as np
import pytest

from layers_oracle import compare_with_keras, grad_check, keras_module, normalize_config
from tenfold.keras import layers as L

VOL = (2, 5, 6, 4, 3)

CASES = [
    ("Conv3D", dict(filters=4, kernel_size=3, activation="relu"), VOL),
    ("Conv3D", dict(filters=2, kernel_size=(2, 3, 1), strides=(2, 1, 2), padding="same"), VOL),
    ("Conv3D", dict(filters=2, kernel_size=2, dilation_rate=(2, 1, 1), use_bias=False), VOL),
    ("Conv3D", dict(filters=3, kernel_size=2, data_format="channels_first"), (2, 3, 5, 4, 4)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same"), VOL),
    ("Conv3DTranspose", dict(filters=3, kernel_size=(2, 3, 2), strides=(1, 2, 1)), VOL),
    ("Conv3DTranspose", dict(filters=2, kernel_size=3, strides=2, output_padding=1), VOL),
    ("MaxPooling3D", dict(pool_size=2), VOL),
    ("MaxPooling3D", dict(pool_size=(2, 3, 2), strides=1, padding="same"), VOL),
    ("AveragePooling3D", dict(pool_size=2, strides=(1, 2, 1)), VOL),
    ("AveragePooling3D", dict(pool_size=2, padding="same"), VOL),
    ("AveragePooling3D", dict(pool_size=2, data_format="channels_first"), (2, 3, 4, 4, 5)),
    ("GlobalAveragePooling3D", dict(), VOL),
    ("GlobalMaxPooling3D", dict(keepdims=True), VOL),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def _x(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_matches_keras(name, kwargs, shape):
    compare_with_keras(name, kwargs, _x(shape), atol=3e-5, rtol=3e-5)


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_gradients(name, kwargs, shape):
    grad_check(name, kwargs, _x(shape, seed=2))


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_config_parity_and_round_trip(name, kwargs, shape):
    keras = keras_module()
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    cfg = ours.get_config()
    assert normalize_config(cfg) == normalize_config(theirs.get_config())
    assert normalize_config(type(ours).from_config(cfg).get_config()) == normalize_config(cfg)
    back = type(theirs).from_config(cfg)
    assert normalize_config(back.get_config()) == normalize_config(theirs.get_config())


def test_in_a_model_saved_and_loaded(tmp_path):
    from tenfold import keras
    model = keras.Sequential([keras.Input((6, 6, 6, 2)), L.Conv3D(3, 3, activation="relu"),
                              L.MaxPooling3D(2), L.Conv3DTranspose(2, 2, strides=2),
                              L.GlobalAveragePooling3D(), L.Dense(1)])
    x = _x((2, 6, 6, 6, 2))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    model.compile("adam", "mse")
    model.fit(x, np.ones((2, 1), "float32"), epochs=1, verbose=0)


def test_errors_name_the_layer_and_the_fix():
    with pytest.raises(ValueError, match=r'Conv3D layer "vol".*rank 5 \(batch, depth, '
                                         r"height, width, channels\)"):
        L.Conv3D(2, 3, name="vol")(np.zeros((2, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"too small for kernel_size=\(3, 3, 3\)"):
        L.Conv3D(2, 3)(np.zeros((1, 2, 5, 5, 1), "float32"))
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv3D(2, (3, 3))
    with pytest.raises(ValueError, match="smaller than pool_size"):
        L.MaxPooling3D(3)(np.zeros((1, 2, 5, 5, 1), "float32"))
    with pytest.raises(ValueError, match="expected ndim=5"):
        L.AveragePooling3D(2)(np.zeros((1, 4, 4, 1), "float32"))
