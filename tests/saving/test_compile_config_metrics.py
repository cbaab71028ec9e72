"""A model compiled with metric and loss objects, saved and loaded, compiles again from its saved
compile config (as Keras 3's `compile_from_config`), in .keras and .h5, and a .keras file that
Keras 3 wrote with metric objects loads compiled."""
import os

import numpy as np
import pytest

from tenfold import keras as tk


def _model(lib):
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3)])
    model.compile(optimizer="adam",
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[lib.metrics.SparseCategoricalAccuracy(), "accuracy",
                           lib.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.random((8, 4)).astype("float32"), np.arange(8) % 3


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_metric_objects_survive_save_and_load(tmp_path, ext):
    x, y = _data()
    model = _model(tk)
    model.fit(x, y, epochs=1, verbose=0)
    want = model.evaluate(x, y, verbose=0, return_dict=True)
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    loaded = tk.models.load_model(path)
    got = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want) == ["accuracy", "loss", "sparse_categorical_accuracy",
                                           "top2"]
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, err_msg=k)
    loaded.fit(x, y, epochs=1, verbose=0)   # trains on from the restored compile


def test_per_output_metric_dicts_round_trip(tmp_path):
    inp = tk.Input((4,))
    model = tk.Model(inp, {"a": tk.layers.Dense(2, name="a")(inp),
                           "b": tk.layers.Dense(1, name="b")(inp)})
    model.compile(optimizer="sgd",
                  loss={"a": tk.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "b": "mse"},
                  metrics={"a": [tk.metrics.SparseCategoricalAccuracy()],
                           "b": [tk.metrics.MeanAbsoluteError(name="mae_b")]})
    x = np.random.default_rng(1).random((6, 4)).astype("float32")
    ys = {"a": np.arange(6) % 2, "b": np.ones((6, 1), "float32")}
    want = model.evaluate(x, ys, verbose=0, return_dict=True)
    path = str(tmp_path / "m.keras")
    model.save(path)
    got = tk.models.load_model(path).evaluate(x, ys, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, err_msg=k)


def test_keras_written_file_with_metric_objects_loads_compiled(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    keras = pytest.importorskip("keras")
    x, y = _data()
    theirs = _model(keras)
    path = str(tmp_path / "k.keras")
    theirs.save(path)
    want = theirs.evaluate(x, y, verbose=0, return_dict=True)
    got = tk.models.load_model(path).evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, err_msg=k)
