"""Loading never runs code from the file: lambdas (marshalled bytecode) and configs naming
arbitrary modules or functions are refused, on every path (.keras, legacy .h5, model_from_json,
deserialize_keras_object, from_config)."""
import base64
import io
import json
import marshal
import zipfile

import numpy as np
import pytest

from tenfold import keras
from tenfold.keras.saving import serialization_lib


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "PWNED"


def _evil_code(marker):
    """base64 marshalled bytecode of a function that creates `marker` when called."""
    fn = lambda x, p=str(marker): (open(p, "w").write("pwned"), x)[1]  # noqa: E731
    return base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii"), [str(marker)]


def _write_keras_zip(path, config, weights=b""):
    import h5py
    bio = io.BytesIO()
    h5py.File(bio, "w").close()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights or bio.getvalue())


def _seq(layers):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "s", "trainable": True, "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "in"}}
            ] + layers}}


def test_lambda_model_refused_by_default_and_loads_when_unsafe_allowed(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 3.0 + 1.0)])
    path = str(tmp_path / "lam.keras")
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, safe_mode=False)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 3 + 1)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.model_from_json(model.to_json())


def test_keras_lambda_file_refused(tmp_path):
    from _helpers import real_keras
    K = real_keras()
    km = K.Sequential([K.Input((3,)), K.layers.Lambda(lambda x: x * 2.0)])
    path = str(tmp_path / "klam.keras")
    km.save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(path)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(keras.models.load_model(path, safe_mode=False).predict(
        x, verbose=0), x * 2)


@pytest.mark.parametrize("where", ["layer_function", "nested_arguments", "activation",
                                   "compile_config"])
def test_crafted_lambda_bytecode_never_runs(where, tmp_path, marker):
    code, defaults = _evil_code(marker)
    evil = {"class_name": "__lambda__", "config": {"code": code, "defaults": defaults,
                                                    "closure": None}}
    dense = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "d", "units": 2}}
    if where == "layer_function":
        layers = [{"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                   "config": {"name": "l", "function": evil}}]
        cfg = _seq(layers)
    elif where == "nested_arguments":
        layers = [{"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                   "config": {"name": "l", "function": {"module": "builtins",
                                                        "class_name": "function",
                                                        "config": "relu",
                                                        "registered_name": "function"},
                              "arguments": {"deep": [{"x": evil}]}}}]
        cfg = _seq(layers)
    elif where == "activation":
        dense["config"]["activation"] = {"class_name": "__lambda__",
                                         "config": {"value": [code, defaults, None]}}
        cfg = _seq([dense])
    else:
        cfg = _seq([dense])
        cfg["compile_config"] = {"loss": {"class_name": "__lambda__",
                                          "config": {"value": [code, defaults, None]}}}
    path = str(tmp_path / "evil.keras")
    _write_keras_zip(path, cfg)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.model_from_json(json.dumps(cfg))
    with pytest.raises(ValueError):
        keras.saving.deserialize_keras_object(cfg)
    assert not marker.exists()


MALICIOUS = {
    "os_system_class": {"module": "os", "class_name": "system", "registered_name": None,
                        "config": {"command": "touch {marker}"}},
    "subprocess_popen": {"module": "subprocess", "class_name": "Popen", "registered_name": None,
                         "config": {"args": ["touch", "{marker}"]}},
    "builtins_eval": {"module": "builtins", "class_name": "function",
                      "config": "eval", "registered_name": "function"},
    "os_function": {"module": "os", "class_name": "function", "config": "system",
                    "registered_name": "system"},
    "keras_non_modeling": {"module": "keras.utils", "class_name": "get_file",
                           "registered_name": None,
                           "config": {"origin": "file:///etc/passwd", "fname": "{marker}"}},
    "keras_models_load_model": {"module": "keras.models", "class_name": "load_model",
                                "registered_name": None, "config": {"filepath": "{marker}"}},
    "keras_saving_module": {"module": "keras.src.saving.saving_lib",
                            "class_name": "save_weights_only", "registered_name": None,
                            "config": {}},
    "registered_name_spoof": {"module": "os", "class_name": "system",
                              "registered_name": "os>system", "config": {}},
}


@pytest.mark.parametrize("name", sorted(MALICIOUS))
@pytest.mark.parametrize("placement", ["top", "as_layer", "as_activation"])
def test_configs_naming_arbitrary_code_are_refused(name, placement, tmp_path, marker):
    evil = json.loads(json.dumps(MALICIOUS[name]).replace("{marker}", str(marker)))
    if placement == "top":
        cfg = evil
    elif placement == "as_layer":
        cfg = _seq([evil])
    else:
        cfg = _seq([{"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                     "config": {"name": "d", "units": 2, "activation": evil}}])
    path = str(tmp_path / "evil.keras")
    _write_keras_zip(path, cfg)
    for attempt in (lambda: keras.models.load_model(path),
                    lambda: keras.models.load_model(path, safe_mode=False),
                    lambda: keras.models.model_from_json(json.dumps(cfg)),
                    lambda: keras.saving.deserialize_keras_object(cfg),
                    lambda: keras.saving.deserialize_keras_object(cfg, safe_mode=False)):
        with pytest.raises((TypeError, ValueError)):
            attempt()
    assert not marker.exists()


def test_error_names_the_unknown_class(tmp_path):
    cfg = _seq([{"module": "my_project.layers", "class_name": "FancyLayer",
                 "registered_name": "my_project>FancyLayer", "config": {"name": "f"}}])
    path = str(tmp_path / "u.keras")
    _write_keras_zip(path, cfg)
    with pytest.raises(TypeError) as e:
        keras.models.load_model(path)
    msg = str(e.value)
    assert "FancyLayer" in msg and "register_keras_serializable" in msg
    assert "never imports" in msg


def test_legacy_h5_lambda_bytecode_refused(tmp_path, marker):
    """tf.keras 2 saved Lambda layers as marshalled bytecode in model_config (CVE-2024-3660)."""
    import h5py
    code, defaults = _evil_code(marker)
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3],
                                                "dtype": "float32", "name": "input_1"}},
        {"class_name": "Lambda", "config": {"name": "lambda", "trainable": True,
                                            "dtype": "float32",
                                            "function": [code, defaults, None],
                                            "function_type": "lambda", "module": "__main__",
                                            "output_shape": None, "output_shape_type": "raw",
                                            "output_shape_module": None, "arguments": {}}}]}}
    path = str(tmp_path / "legacy.h5")
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"lambda"], dtype=h5py.string_dtype())
        g.create_group("lambda").attrs["weight_names"] = np.zeros((0,))
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    assert not marker.exists()
    # a tf.keras 2 lambda "function" layer naming a module function is not imported either
    config["config"]["layers"][1]["config"].update(
        {"function": "system", "function_type": "function", "module": "os"})
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises((TypeError, ValueError)):
        keras.models.load_model(path)
    assert not marker.exists()


def test_direct_from_config_of_lambda_refuses_outside_unsafe_scope(marker):
    code, defaults = _evil_code(marker)
    cfg = {"name": "l", "function": {"class_name": "__lambda__",
                                     "config": {"code": code, "defaults": defaults,
                                                "closure": None}}}
    with pytest.raises(ValueError):
        keras.layers.Lambda.from_config(cfg)
    with pytest.raises(ValueError):
        serialization_lib.func_load(code, defaults)
    assert not marker.exists()


def test_h5_links_out_of_the_file_are_refused(tmp_path):
    import h5py
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    good = str(tmp_path / "good.weights.h5")
    model.save_weights(good)
    bad = str(tmp_path / "bad.weights.h5")
    with h5py.File(bad, "w") as f:
        f.create_group("layers/dense")
        f["layers/dense/vars"] = h5py.ExternalLink(good, "/layers/dense/vars")
    with pytest.raises(ValueError, match="ExternalLink"):
        model.load_weights(bad)
    with h5py.File(bad, "w") as f:
        g = f.create_group("store")
        g.create_dataset("0", data=np.zeros((3, 2), "float32"))
        g.create_dataset("1", data=np.zeros((2,), "float32"))
        f.create_group("layers/dense")
        f["layers/dense/vars"] = h5py.SoftLink("/store")
    with pytest.raises(ValueError, match="SoftLink"):
        model.load_weights(bad)
