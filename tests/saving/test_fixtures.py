"""Files written by the real Keras 3 (committed, made by tests/fixtures/saving/make_fixtures.py)
load in tenfold with Keras's predictions and optimizer state; no Keras install needed."""
import os

import numpy as np
import pytest

from tenfold import keras

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                    "saving")


@pytest.fixture(scope="module")
def expected():
    return np.load(os.path.join(HERE, "expected.npz"))


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_keras3_files(name, expected):
    model = keras.models.load_model(os.path.join(HERE, f"keras3_{name}.keras"))
    np.testing.assert_allclose(model.predict(expected[f"{name}_x"], verbose=0),
                               expected[f"{name}_y"], rtol=1e-4, atol=1e-6)
    want = [expected[k] for k in sorted((k for k in expected.files
                                         if k.startswith(f"{name}_opt_")),
                                        key=lambda k: int(k.rsplit("_", 1)[1]))]
    got = [v.numpy() for v in model.optimizer.variables]
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_keras3_legacy_h5(expected):
    model = keras.models.load_model(os.path.join(HERE, "keras3_mlp.h5"))
    np.testing.assert_allclose(model.predict(expected["mlp_x"], verbose=0), expected["mlp_y"],
                               rtol=1e-5, atol=1e-6)


def test_keras3_weights_into_a_tenfold_model(expected):
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4),
                              keras.layers.LSTM(5), keras.layers.Dense(2)])
    model.load_weights(os.path.join(HERE, "keras3_rnn.keras"))
    np.testing.assert_allclose(model.predict(expected["rnn_x"], verbose=0), expected["rnn_y"],
                               rtol=1e-4, atol=1e-6)


def test_tf_keras2_style_h5(tmp_path):
    """The layout tf.keras 2 (TensorFlow <= 2.15) wrote: Keras 2 configs (no `module`, list
    inbound nodes, `batch_input_shape`) and `layer/kernel:0` weight names."""
    import json
    h5py = pytest.importorskip("h5py")

    def dense(name, units, act, inbound):
        return {"class_name": "Dense", "name": name, "inbound_nodes": [[[inbound, 0, 0, {}]]],
                "config": {"name": name, "trainable": True, "dtype": "float32", "units": units,
                           "activation": act, "use_bias": True,
                           "kernel_initializer": {"class_name": "GlorotUniform",
                                                  "config": {"seed": None}},
                           "bias_initializer": {"class_name": "Zeros", "config": {}},
                           "kernel_regularizer": None, "bias_regularizer": None,
                           "activity_regularizer": None, "kernel_constraint": None,
                           "bias_constraint": None}}
    config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
                    "ragged": False, "name": "input_1"}},
        dense("dense", 4, "relu", "input_1"), dense("dense_1", 2, "linear", "dense")],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_1", 0, 0]]}}
    rng = np.random.default_rng(0)
    weights = {"dense": [rng.normal(size=(3, 4)), rng.normal(size=4)],
               "dense_1": [rng.normal(size=(4, 2)), rng.normal(size=2)]}
    path = str(tmp_path / "tfkeras2.h5")
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["training_config"] = json.dumps({
            "loss": "mse", "metrics": None, "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "learning_rate": 0.005, "beta_1": 0.9, "beta_2": 0.999,
                "epsilon": 1e-07, "amsgrad": False}}})
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"input_1", b"dense", b"dense_1"],
                                          dtype=h5py.string_dtype())
        g.create_group("input_1").attrs["weight_names"] = np.zeros((0,))
        for name, (k, b) in weights.items():
            lg = g.create_group(name)
            lg.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(),
                                                 f"{name}/bias:0".encode()],
                                                dtype=h5py.string_dtype())
            lg.create_dataset(f"{name}/kernel:0", data=k.astype("float32"))
            lg.create_dataset(f"{name}/bias:0", data=b.astype("float32"))
    model = keras.models.load_model(path)
    x = rng.normal(size=(5, 3)).astype("float32")
    w = {k: [a.astype("float32") for a in v] for k, v in weights.items()}
    want = np.maximum(x @ w["dense"][0] + w["dense"][1], 0) @ w["dense_1"][0] + w["dense_1"][1]
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert abs(float(np.asarray(model.optimizer.learning_rate)) - 0.005) < 1e-7
