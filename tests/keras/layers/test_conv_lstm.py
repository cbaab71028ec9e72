"""ConvLSTM1D/2D/3D against Keras 3 (KERAS_BACKEND=numpy): outputs and states with the same
weights, gradients by finite differences, config parity and round trips, errors that teach."""
import numpy as np
import pytest

from layers_oracle import compare_with_keras, grad_check, keras_module, normalize_config
from tenfold.keras import layers as L

CASES = [
    ("ConvLSTM1D", dict(filters=2, kernel_size=3), (2, 4, 7, 2)),
    ("ConvLSTM1D", dict(filters=2, kernel_size=3, strides=2, return_state=True), (2, 4, 7, 2)),
    ("ConvLSTM2D", dict(filters=3, kernel_size=3, padding="same", return_sequences=True),
     (2, 3, 6, 5, 2)),
    ("ConvLSTM2D", dict(filters=2, kernel_size=(2, 3), go_backwards=True, use_bias=False),
     (2, 3, 5, 5, 2)),
    ("ConvLSTM2D", dict(filters=2, kernel_size=2, dilation_rate=2, unit_forget_bias=False,
                        activation="relu"), (2, 3, 6, 6, 1)),
    ("ConvLSTM2D", dict(filters=2, kernel_size=3, data_format="channels_first",
                        return_sequences=True), (2, 3, 2, 5, 5)),
    ("ConvLSTM3D", dict(filters=2, kernel_size=2, padding="same"), (1, 2, 3, 4, 3, 2)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def _x(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_matches_keras(name, kwargs, shape):
    theirs, ours = compare_with_keras(name, kwargs, _x(shape), atol=3e-5, rtol=3e-5)
    out = ours(_x(shape))
    want = ours.compute_output_shape(shape)
    got = [tuple(o.shape) for o in out] if isinstance(out, list) else tuple(out.shape)
    assert (list(want) if isinstance(out, list) else want) == got
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]


@pytest.mark.parametrize("name,kwargs,shape", CASES[::2], ids=IDS[::2])
def test_gradients(name, kwargs, shape):
    grad_check(name, kwargs, _x(shape, seed=2))


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_config_parity_and_round_trip(name, kwargs, shape):
    keras = keras_module()
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    cfg = ours.get_config()
    assert list(normalize_config(cfg)) == list(normalize_config(theirs.get_config()))
    assert normalize_config(cfg) == normalize_config(theirs.get_config())
    assert normalize_config(type(ours).from_config(cfg).get_config()) == normalize_config(cfg)
    assert normalize_config(type(theirs).from_config(cfg).get_config()) == \
        normalize_config(theirs.get_config())
    assert ours.filters == kwargs["filters"]


def test_unit_forget_bias_starts_the_forget_gate_at_one():
    layer = L.ConvLSTM2D(3, 3)
    layer(_x((1, 2, 5, 5, 1)))
    np.testing.assert_array_equal(layer.cell.bias.numpy(), [0] * 3 + [1] * 3 + [0] * 6)


def test_in_a_model_trained_saved_and_loaded(tmp_path):
    from tenfold import keras
    model = keras.Sequential([keras.Input((3, 6, 6, 1)),
                              L.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
                              L.ConvLSTM2D(2, 3), L.Flatten(), L.Dense(1)])
    x = _x((2, 3, 6, 6, 1))
    model.compile("adam", "mse")
    model.fit(x, np.ones((2, 1), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5)


def test_errors_name_the_layer_and_the_fix():
    with pytest.raises(ValueError, match=r'ConvLSTM2D layer "clstm" expects inputs of rank 5.*'
                                         r"channel axis"):
        L.ConvLSTM2D(2, 3, name="clstm")(_x((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="strides > 1.*dilation_rate > 1"):
        L.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="filters"):
        L.ConvLSTM1D(0, 3)
