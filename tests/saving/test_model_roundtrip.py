"""Save/load round trips of the three model kinds: predictions, weights, optimizer state,
compile arguments, and training that continues exactly as if it had never stopped."""
import json
import os

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras


@keras.saving.register_keras_serializable(package="roundtrip_test")
class TwoLayer(keras.Model):
    def __init__(self, units=5, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="tanh")
        self.norm = keras.layers.BatchNormalization()
        self.out = keras.layers.Dense(2)

    def call(self, x, training=False):
        return self.out(self.norm(self.hidden(x), training=training))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def make(kind):
    keras.utils.set_random_seed(7)
    if kind == "sequential":
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                                  keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    elif kind == "functional":
        inp = keras.Input((4,))
        h = keras.layers.Dense(5, activation="tanh")(inp)
        h = keras.layers.BatchNormalization()(h)
        model = keras.Model(inp, keras.layers.Dense(2)(h))
    else:
        model = TwoLayer()
        model(np.zeros((1, 4), "float32"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01, beta_1=0.85), loss="mse",
                  metrics=["mae"])
    return model


def data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = np.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5], axis=1).astype("float32")
    return x, y


def weights(model):
    return [v.numpy() for v in model.weights]


KINDS = ["sequential", "functional", "subclassed"]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_then_continue_training_matches_uninterrupted(kind, tmp_path):
    x, y = data()
    model = make(kind)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded).__name__ == type(model).__name__
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(weights(loaded), weights(model)):
        np.testing.assert_array_equal(a, b)
    mine = [v.numpy() for v in model.optimizer.variables]
    theirs = [v.numpy() for v in loaded.optimizer.variables]
    assert len(mine) == len(theirs) and len(mine) > 2
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(a, b)
    assert abs(float(np.asarray(loaded.optimizer.beta_1)) - 0.85) < 1e-7
    # both continue: same updates, same results
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(weights(loaded), weights(model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert loaded.evaluate(x, y, verbose=0, return_dict=True).keys() == \
        model.evaluate(x, y, verbose=0, return_dict=True).keys()


@pytest.mark.parametrize("kind", KINDS)
def test_weights_file_roundtrip_with_optimizer_state(kind, tmp_path):
    x, y = data()
    model = make(kind)
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    other = make(kind)
    other.fit(x[:8], y[:8], epochs=1, verbose=0)   # built, different state
    other.load_weights(path)
    for a, b in zip(weights(other), weights(model)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(other.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kind", KINDS)
def test_config_json_roundtrip(kind):
    model = make(kind)
    text = model.to_json()
    cfg = json.loads(text)
    assert {"module", "class_name", "config"} <= set(cfg)
    clone = keras.models.model_from_json(text)
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
    clone2 = type(model).from_config(model.get_config())
    assert len(clone2.layers) == len(model.layers)
    serialized = keras.saving.serialize_keras_object(model)
    again = keras.saving.deserialize_keras_object(serialized)
    assert type(again) is type(model)


def test_unzipped_folder_and_extensionless_path(tmp_path, monkeypatch):
    x, y = data()
    model = make("functional")
    model.fit(x, y, epochs=1, verbose=0)
    folder = str(tmp_path / "saved")
    with pytest.raises(ValueError, match="Invalid filepath extension.*zipped=False"):
        model.save(folder)                 # Keras 3 refuses a path without extension
    assert not os.path.exists(folder)
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    model.save(folder)                     # tf.keras 2 style: no extension
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "model.weights.h5"]
    loaded = keras.models.load_model(folder)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save(str(tmp_path / "zipless"), zipped=False)
    with pytest.raises(ValueError, match="zipped=False"):
        model.save(str(tmp_path / "x.keras"), zipped=False)


def test_tf_keras_style_weight_checkpoint(tmp_path, monkeypatch):
    """tf.keras 2 code saves weights to a prefix ("training/cp.ckpt") and loads them back,
    when TF_USE_LEGACY_KERAS=1 (as TensorFlow's tf_keras does); Keras 3 refuses the name."""
    x, y = data()
    model = make("sequential")
    model.fit(x, y, epochs=1, verbose=0)
    prefix = str(tmp_path / "training" / "cp.ckpt")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`.*cp\.weights\.h5"):
        model.save_weights(prefix)
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    model.save_weights(prefix)
    assert tf.train.latest_checkpoint(str(tmp_path / "training")) == prefix
    other = make("sequential")
    other.load_weights(prefix)
    for a, b in zip(weights(other), weights(model)):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_roundtrip(tmp_path):
    x, y = data()
    model = make("functional")
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "m.h5")
    with pytest.warns(UserWarning, match="legacy"):
        model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other = make("functional")
    other.load_weights(path)
    for a, b in zip(weights(other), weights(model)):
        np.testing.assert_array_equal(a, b)


def test_keras_legacy_h5_loads(tmp_path):
    from _helpers import randomize, real_keras
    K = real_keras()
    km = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="relu"),
                       K.layers.BatchNormalization(), K.layers.Dense(2)])
    randomize(km)
    km.compile(optimizer="adam", loss="mse")
    path = str(tmp_path / "k.h5")
    km.save(path)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    ours = keras.models.load_model(path)
    np.testing.assert_allclose(ours.predict(x, verbose=0), km.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_register_and_custom_objects(tmp_path):
    @keras.saving.register_keras_serializable(package="pkg", name="Doubler")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    assert keras.saving.get_registered_name(Doubler) == "pkg>Doubler"
    assert keras.saving.get_registered_object("pkg>Doubler") is Doubler
    model = keras.Sequential([keras.Input((3,)), Doubler(), keras.layers.Dense(2)])
    path = str(tmp_path / "c.keras")
    model.save(path)
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))

    class Unregistered(keras.layers.Layer):
        def call(self, x):
            return x + 1.0

    model = keras.Sequential([keras.Input((3,)), Unregistered()])
    path = str(tmp_path / "u.keras")
    model.save(path)
    with pytest.raises(TypeError, match="Unregistered"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, custom_objects={"Unregistered": Unregistered})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), x + 1)
    with keras.saving.CustomObjectScope({"Unregistered": Unregistered}):
        keras.models.load_model(path)


def test_compile_false_and_untrained_optimizer(tmp_path):
    import warnings
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    path = str(tmp_path / "u.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # an optimizer saved before training: no warning
        loaded = keras.models.load_model(path)
    assert abs(float(np.asarray(loaded.optimizer.learning_rate)) - 0.02) < 1e-7
    bare = keras.models.load_model(path, compile=False)
    assert getattr(bare, "optimizer", None) is None
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(bare.predict(x, verbose=0), model.predict(x, verbose=0))
