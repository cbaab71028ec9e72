"""Objects registered with `keras.saving.register_keras_serializable` (activation, loss, metric,
layer) are written under Keras 3's names ("package>name") and found again on load, with or
without `custom_objects`, in .keras, .h5 and get_config/from_config; files move both ways
between tenfold and Keras 3 (KERAS_BACKEND=numpy). An unknown name lists the close ones."""
import json
import os
import zipfile

import numpy as np
import pytest

from tenfold import keras as tk
from tenfold.keras.saving import object_registration as tk_registry

PACKAGE = "tenfold_test_reg"


def _define(keras, package=PACKAGE, register=True):
    """The same custom objects for either library; registered (as the decorator does) or not."""
    ops = keras.ops
    reg = (lambda **kw: keras.saving.register_keras_serializable(**kw)) if register else \
        (lambda **kw: (lambda obj: obj))

    @reg(package=package)
    def doubled_tanh(x):
        return ops.tanh(x) * 2.0

    @reg(package=package, name="half_mse")
    def half_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1) * 0.5

    @reg(package=package)
    class MeanAbsGap(keras.metrics.Mean):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(ops.abs(y_true - y_pred), sample_weight)

    @reg(package=package)
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return {"act": doubled_tanh, "loss": half_mean_squared_error, "metric": MeanAbsGap,
            "layer": Scale}


def _model(keras, objs):
    inp = keras.Input((3,))
    h = keras.layers.Dense(4, activation=objs["act"], kernel_initializer="ones",
                           name="dense")(inp)
    out = objs["layer"](3.0, name="scale")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer="sgd", loss=objs["loss"], metrics=[objs["metric"](name="gap")])
    return model


X = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
Y = np.zeros((2, 4), "float32")


def _unregister(objs):
    for key in [k for k, v in tk_registry.GLOBAL_CUSTOM_OBJECTS.items()
                if any(v is o for o in objs.values())]:
        del tk_registry.GLOBAL_CUSTOM_OBJECTS[key]


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras")


def test_configs_name_objects_as_keras_does(keras):
    ours, theirs = _model(tk, _define(tk)), _model(keras, _define(keras))
    for i in (1, 2):
        a, b = ours.get_config()["layers"][i], theirs.get_config()["layers"][i]
        if i == 1:
            assert a["config"]["activation"] == b["config"]["activation"] == {
                "module": "builtins", "class_name": "function",
                "config": f"{PACKAGE}>doubled_tanh", "registered_name": "function"}
        assert a["registered_name"] == b["registered_name"]
    assert b["registered_name"] == f"{PACKAGE}>Scale"
    oc, kc = ours.get_compile_config(), theirs.get_compile_config()
    assert oc["loss"] == kc["loss"]
    assert oc["metrics"][0]["registered_name"] == kc["metrics"][0]["registered_name"] == \
        f"{PACKAGE}>MeanAbsGap"
    assert tk.saving.get_registered_name(_define(tk)["loss"]) == f"{PACKAGE}>half_mse"


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_registered_objects_round_trip(tmp_path, ext):
    objs = _define(tk)
    model = _model(tk, objs)
    want = model.predict(X, verbose=0)
    want_eval = model.evaluate(X, Y, verbose=0, return_dict=True)
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    loaded = tk.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), want, rtol=1e-6)
    got_eval = loaded.evaluate(X, Y, verbose=0, return_dict=True)
    assert sorted(got_eval) == sorted(want_eval) == ["gap", "loss"]
    for k in want_eval:
        np.testing.assert_allclose(got_eval[k], want_eval[k], rtol=1e-6)
    assert isinstance(loaded.get_layer("scale"), objs["layer"])
    assert loaded.get_layer("dense").activation is objs["act"]


def test_from_config_round_trip():
    objs = _define(tk)
    model = _model(tk, objs)
    again = tk.Model.from_config(json.loads(json.dumps(model.get_config())))
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again(X), model(X), rtol=1e-6)
    assert again.get_layer("dense").activation is objs["act"]


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("keys", ["registered", "bare"])
def test_custom_objects_without_registration(tmp_path, ext, keys):
    objs = _define(tk, package=PACKAGE + "_gone")
    model = _model(tk, objs)
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    _unregister(objs)           # as in a new process where the decorators never ran
    names = {"act": "doubled_tanh", "loss": "half_mse", "metric": "MeanAbsGap",
             "layer": "Scale"}
    prefix = f"{PACKAGE}_gone>" if keys == "registered" else ""
    custom = {prefix + names[k]: objs[k] for k in names}
    loaded = tk.models.load_model(path, custom_objects=custom)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    loaded.evaluate(X, Y, verbose=0)


def test_unknown_registered_name_lists_close_names():
    _define(tk)
    config = {"module": None, "class_name": "Scal", "config": {},
              "registered_name": f"{PACKAGE}>Scal"}
    with pytest.raises(TypeError, match=f"close to it: {PACKAGE}>Scale"):
        tk.saving.deserialize_keras_object(config)
    with pytest.raises(ValueError, match=f"close to it: {PACKAGE}>doubled_tanh"):
        tk.activations.get(f"{PACKAGE}>doubled_tan")


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_files_move_between_keras_and_tenfold(tmp_path, keras, ext):
    ours_objs, their_objs = _define(tk), _define(keras)
    theirs = _model(keras, their_objs)
    path = str(tmp_path / f"k.{ext}")
    theirs.save(path)
    loaded = tk.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), theirs.predict(X, verbose=0),
                               rtol=1e-6)
    assert loaded.get_layer("dense").activation is ours_objs["act"]
    want = theirs.evaluate(X, Y, verbose=0, return_dict=True)
    got = loaded.evaluate(X, Y, verbose=0, return_dict=True)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5)

    ours = _model(tk, ours_objs)
    path2 = str(tmp_path / f"t.{ext}")
    ours.save(path2)
    back = keras.models.load_model(path2)
    np.testing.assert_allclose(back.predict(X, verbose=0), ours.predict(X, verbose=0),
                               rtol=1e-6)
    assert back.get_layer("dense").activation is their_objs["act"]
    if ext == "keras":
        with zipfile.ZipFile(path2) as z:
            cfg = json.loads(z.read("config.json"))
        assert cfg["compile_config"]["loss"]["config"] == f"{PACKAGE}>half_mse"


def test_lambda_layer_with_a_registered_function_moves_between_keras_and_tenfold(tmp_path,
                                                                                  keras):
    def define(lib):
        @lib.saving.register_keras_serializable(package=PACKAGE)
        def plus_one(x):
            return x + 1.0
        return lib.Sequential([lib.Input((2,)), lib.layers.Lambda(plus_one)])

    ours, theirs = define(tk), define(keras)
    assert ours.get_config()["layers"][1]["config"]["function"] == \
        theirs.get_config()["layers"][1]["config"]["function"]
    x = np.ones((1, 2), "float32")
    for model, loader, name in ((ours, keras.models.load_model, "t.keras"),
                                (theirs, tk.models.load_model, "k.keras")):
        path = str(tmp_path / name)
        model.save(path)
        np.testing.assert_allclose(np.asarray(loader(path)(x)), [[2.0, 2.0]])


def test_h5_files_name_objects_as_kerass_legacy_writer(tmp_path, keras):
    import h5py
    ours, theirs = _model(tk, _define(tk)), _model(keras, _define(keras))
    configs = []
    for model, name in ((ours, "t.h5"), (theirs, "k.h5")):
        path = str(tmp_path / name)
        model.save(path)
        with h5py.File(path, "r") as f:
            configs.append((json.loads(f.attrs["model_config"]),
                            json.loads(f.attrs["training_config"])))
    (om, ot), (km, kt) = configs
    def entries(model_config):   # layer names depend on what the session made before
        return [(e["class_name"], sorted(e),
                 {k: v for k, v in e["config"].items() if k != "name"})
                for e in model_config["config"]["layers"]]
    assert entries(om) == entries(km)
    assert km["config"]["layers"][2]["class_name"] == f"{PACKAGE}>Scale"
    for key in ("loss", "metrics", "weighted_metrics", "loss_weights"):
        assert ot[key] == kt[key], key
    assert kt["loss"] == f"{PACKAGE}>half_mse"
