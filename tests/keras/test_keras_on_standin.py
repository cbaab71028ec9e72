"""One Keras round trip (fit / evaluate / predict / save / load) on the CI stand-in backend,
whose arrays refuse implicit host conversion as CuPy's do: any host leak in tenfold.keras
fails here."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.testing.standin_backend import standin_device, StandinArray


def test_sequential_round_trip_on_standin(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32") > 0).astype("float32")[:, None]
    with standin_device(policy="silent"):  # TensorFlow 2's default policy
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        assert all(isinstance(w._value, StandinArray) for w in model.weights)
        hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        assert np.isfinite(hist.history["loss"]).all()
        loss, acc = model.evaluate(x, y, verbose=0)
        pred = model.predict(x, verbose=0)
        path = tmp_path / "m.keras"
        model.save(path)
        again = keras.models.load_model(path)
        np.testing.assert_allclose(again.predict(x, verbose=0), pred, rtol=1e-6)
    assert pred.shape == (64, 1) and 0 <= acc <= 1 and np.isfinite(loss)
