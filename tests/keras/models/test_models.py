"""Sequential, functional and subclassed models: building, layers, weights, configs."""
import json
import pathlib

import numpy as np
import pytest

from tenfold import keras
from tenfold.keras import layers as L

CONFIGS = json.loads((pathlib.Path(__file__).resolve().parents[2] / "fixtures" /
                      "keras_model_configs.json").read_text())


def _np_mlp(x, weights):
    h = np.maximum(x @ weights[0] + weights[1], 0)
    return h @ weights[2] + weights[3]


# ------------------------------------------------------------------------- Sequential
def test_sequential_list_with_input_shape_is_built():
    model = keras.Sequential([L.Dense(64, activation="relu", input_shape=(100,)), L.Dense(10)])
    assert model.built
    assert model.count_params() == 100 * 64 + 64 + 64 * 10 + 10
    assert [l.name for l in model.layers] == ["dense", "dense_1"]
    assert model.input_shape == (None, 100)
    assert model.output_shape == (None, 10)
    x = np.random.rand(5, 100).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), _np_mlp(x, model.get_weights()),
                               rtol=1e-5, atol=1e-5)


def test_sequential_add_input_dim():
    model = keras.Sequential()
    model.add(L.Dense(8, activation="relu", input_dim=4))
    model.add(L.Dense(3))
    assert model.built and model.output_shape == (None, 3)
    assert len(model.weights) == 4


def test_sequential_builds_on_first_data_with_unknown_batch():
    model = keras.Sequential([L.Dense(6, activation="relu"), L.Dense(2)])
    assert not model.built
    text = "\n".join(_summary_lines(model))  # as Keras 3: no error, layers shown unbuilt
    assert "0 (unbuilt)" in text and " Total params: 0 (0.00 B)" in text
    out = model(np.ones((7, 3), "float32"))
    assert tuple(out.shape) == (7, 2)
    assert model.input_shape == (7, 3)  # as Keras 3: the batch size it was built with
    out = model(np.ones((2, 3), "float32"))  # another batch size works
    assert tuple(out.shape) == (2, 2)


def test_sequential_input_tensor_first_and_pop():
    model = keras.Sequential([keras.Input(shape=(4,)), L.Dense(5), L.Dense(6)])
    assert len(model.layers) == 2
    last = model.pop()
    assert last.name == "dense_1"
    assert model.output_shape == (None, 5)
    assert len(model.layers) == 1


def test_sequential_rejects_non_layers_and_duplicate_names():
    model = keras.Sequential()
    with pytest.raises(ValueError, match="parentheses"):
        model.add(L.Dense)
    model.add(L.Dense(2, name="a", input_shape=(3,)))
    with pytest.raises(ValueError, match="unique"):
        model.add(L.Dense(2, name="a"))


# ------------------------------------------------------------------------- functional
def test_functional_forward_matches_numpy():
    inputs = keras.Input(shape=(4,))
    h = L.Dense(8, activation="relu")(inputs)
    outputs = L.Dense(3)(h)
    model = keras.Model(inputs=inputs, outputs=outputs)
    assert type(model).__name__ == "Functional"
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense"]
    x = np.random.rand(6, 4).astype("float32")
    np.testing.assert_allclose(model(x).numpy(), _np_mlp(x, model.get_weights()), rtol=1e-5,
                               atol=1e-5)


def test_functional_multi_io_lists_and_dicts():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(5,), name="b")
    pa = L.Dense(4, name="pa")(a)
    pb = L.Dense(4, name="pb")(b)
    s = L.Add(name="add")([pa, pb]) if hasattr(L, "Add") else pa
    o1 = L.Dense(1, name="o1")(s)
    o2 = L.Dense(2, name="o2")(s)
    model = keras.Model([a, b], [o1, o2])
    xa, xb = np.random.rand(7, 3).astype("float32"), np.random.rand(7, 5).astype("float32")
    r1, r2 = model.predict([xa, xb], verbose=0)
    assert r1.shape == (7, 1) and r2.shape == (7, 2)
    d1, d2 = model.predict({"a": xa, "b": xb}, verbose=0)
    np.testing.assert_allclose(d1, r1, rtol=1e-6)
    assert model.output_names == ["o1", "o2"]
    dm = keras.Model({"a": a, "b": b}, {"y1": o1, "y2": o2})
    out = dm.predict({"a": xa, "b": xb}, verbose=0)
    assert set(out) == {"y1", "y2"}
    np.testing.assert_allclose(out["y2"], r2, rtol=1e-6)


def test_shared_layer_and_nested_model():
    x = keras.Input(shape=(4,), name="x")
    d = L.Dense(4, name="d")
    model = keras.Model(x, d(d(x)))
    w, b = d.get_weights()
    v = np.random.rand(3, 4).astype("float32")
    np.testing.assert_allclose(model(v).numpy(), (v @ w + b) @ w + b, rtol=1e-5)
    assert len(model.weights) == 2
    inner_in = keras.Input(shape=(4,))
    inner = keras.Model(inner_in, L.Dense(3)(inner_in), name="inner")
    y = keras.Input(shape=(4,))
    outer = keras.Model(y, L.Dense(1)(inner(y)), name="outer")
    assert [l.name for l in outer.layers][1] == "inner"
    assert outer.predict(v, verbose=0).shape == (3, 1)
    assert len(outer.trainable_weights) == 4


def test_model_called_on_new_symbolic_input():
    inp = keras.Input(shape=(4,))
    base = keras.Model(inp, L.Dense(2)(inp))
    new_in = keras.Input(shape=(4,))
    wrapped = keras.Model(new_in, base(new_in) * 2.0 if False else base(new_in))
    v = np.ones((2, 4), "float32")
    np.testing.assert_allclose(wrapped(v).numpy(), base(v).numpy())


def test_graph_disconnected_error():
    a = keras.Input(shape=(3,))
    b = keras.Input(shape=(3,))
    out = L.Dense(2)(b)
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)


def test_functional_wrong_input_shape_error_names_model_and_shapes():
    inp = keras.Input(shape=(784,))
    model = keras.Model(inp, L.Dense(10)(inp), name="mnist_mlp")
    with pytest.raises(ValueError) as e:
        model.predict(np.zeros((4, 28, 28), "float32"), verbose=0)
    msg = str(e.value)
    assert "mnist_mlp" in msg and "(None, 784)" in msg and "(4, 28, 28)" in msg
    assert "reshape" in msg.lower() or "flatten" in msg.lower()


def test_model_inputs_must_be_keras_tensors():
    with pytest.raises(ValueError, match="KerasTensor"):
        keras.Model(np.zeros((2, 3)), np.zeros((2, 3)))


# ------------------------------------------------------------------------- subclassed
class MLP(keras.Model):
    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = L.Dense(units, activation="relu")
        self.out = L.Dense(2)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_tracks_layers_and_builds():
    model = MLP()
    assert not model.built
    y = model(np.ones((3, 5), "float32"))
    assert tuple(y.shape) == (3, 2)
    assert [l.name for l in model.layers] == ["dense", "dense_1"]
    assert len(model.trainable_variables) == 4
    model.summary(print_fn=lambda s: None)


def test_subclassed_model_build_with_shape():
    model = MLP()
    model.build((None, 6))
    assert model.built
    assert model.count_params() == 6 * 8 + 8 + 8 * 2 + 2


def test_subclass_with_functional_constructor():
    class Wrapped(keras.Model):
        def __init__(self, **kwargs):
            inp = keras.Input(shape=(3,))
            super().__init__(inp, L.Dense(2)(inp), **kwargs)
    m = Wrapped()
    assert m.predict(np.ones((2, 3), "float32"), verbose=0).shape == (2, 2)
    assert isinstance(m, keras.Model)


# ------------------------------------------------------------------------- weights
def test_get_layer_and_weights_order():
    model = keras.Sequential([keras.Input(shape=(3,)), L.Dense(4, name="first"),
                              L.Dense(2, name="second")])
    assert model.get_layer("second") is model.layers[1]
    assert model.get_layer(index=0).name == "first"
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 4), (4,), (4, 2), (2,)]
    new = [np.full(s, i, "float32") for i, s in enumerate(shapes)]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros((9, 9))] + new[1:])


def test_non_trainable_layer_weights():
    model = keras.Sequential([keras.Input(shape=(3,)), L.Dense(4), L.Dense(2)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2
    assert len(model.non_trainable_weights) == 2


# ------------------------------------------------------------------------- configs
def _structure(cfg):
    """Keys and nesting, not values (layer configs belong to the layer implementations)."""
    if isinstance(cfg, dict):
        if cfg.get("class_name") in ("Dense", "Concatenate", "Add") and "module" in cfg:
            return {k: ("<layer config>" if k == "config" else _structure(v))
                    for k, v in cfg.items()}
        return {k: _structure(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [_structure(v) for v in cfg]
    return cfg


def _serialize(model):
    from tenfold.keras.engine.serialization import serialize_keras_object
    return json.loads(json.dumps(serialize_keras_object(model)))


def _strip(cfg, keys=("compile_config",)):
    if isinstance(cfg, dict):
        return {k: _strip(v, keys) for k, v in cfg.items() if k not in keys}
    if isinstance(cfg, list):
        return [_strip(v, keys) for v in cfg]
    return cfg


def test_sequential_config_is_keras3_structure():
    keras.backend.clear_session()
    m = keras.Sequential([L.Dense(4, input_shape=(8,)), L.Dense(2)])
    mine = _structure(_strip(_serialize(m)))
    theirs = _structure(_strip(CONFIGS["sequential_input_shape"]))
    assert mine == theirs
    keras.backend.clear_session()
    m = keras.Sequential([L.Dense(4), L.Dense(2)])
    assert _structure(_strip(_serialize(m))) == _structure(_strip(CONFIGS["sequential_unbuilt"]))


def test_functional_config_is_keras3_structure():
    keras.backend.clear_session()
    x = keras.Input(shape=(4,), name="x")
    d = L.Dense(4, name="d")
    m = keras.Model(x, d(d(x)), name="twice")
    assert _structure(_strip(_serialize(m))) == \
        _structure(_strip(CONFIGS["functional_shared_twice"]))


def test_nested_functional_config_indices_match_keras():
    keras.backend.clear_session()
    inner_in = keras.Input(shape=(4,))
    inner = keras.Model(inner_in, L.Dense(3, name="inner_dense")(inner_in), name="inner")
    x = keras.Input(shape=(4,), name="x")
    m = keras.Model(x, L.Dense(1, name="head")(inner(x)), name="outer")
    mine = _serialize(m)["config"]
    theirs = CONFIGS["functional_nested"]["config"]
    assert mine["input_layers"] == theirs["input_layers"]
    assert mine["output_layers"] == theirs["output_layers"]
    assert [l["name"] for l in mine["layers"]] == [l["name"] for l in theirs["layers"]]
    hist = [l["inbound_nodes"][0]["args"][0]["config"]["keras_history"]
            for l in mine["layers"][1:]]
    want = [l["inbound_nodes"][0]["args"][0]["config"]["keras_history"]
            for l in theirs["layers"][1:]]
    assert hist == want


@pytest.mark.parametrize("build", ["sequential", "functional", "nested", "shared"])
def test_config_round_trip_same_outputs(build):
    if build == "sequential":
        m = keras.Sequential([keras.Input(shape=(4,)), L.Dense(3, activation="relu"),
                              L.Dense(2)])
    elif build == "functional":
        a = keras.Input(shape=(4,), name="a")
        m = keras.Model(a, L.Dense(2)(L.Dense(3, activation="tanh")(a)))
    elif build == "nested":
        i = keras.Input(shape=(4,))
        inner = keras.Model(i, L.Dense(3)(i), name="inner")
        o = keras.Input(shape=(4,))
        m = keras.Model(o, L.Dense(2)(inner(o)))
    else:
        x = keras.Input(shape=(4,))
        d = L.Dense(4)
        m = keras.Model(x, L.Dense(2)(d(d(x))))
    cls = type(m)
    clone = cls.from_config(m.get_config())
    clone.set_weights(m.get_weights())
    v = np.random.rand(3, 4).astype("float32")
    np.testing.assert_allclose(clone.predict(v, verbose=0), m.predict(v, verbose=0), rtol=1e-6)
    assert [l.name for l in clone.layers] == [l.name for l in m.layers]


def test_clone_model_has_fresh_weights_same_structure():
    m = keras.Sequential([keras.Input(shape=(4,)), L.Dense(3), L.Dense(2)])
    c = keras.models.clone_model(m)
    assert [w.shape for w in c.get_weights()] == [w.shape for w in m.get_weights()]
    assert not np.allclose(c.get_weights()[0], m.get_weights()[0])
    a = keras.Input(shape=(4,))
    f = keras.Model(a, L.Dense(2)(a))
    fc = keras.models.clone_model(f)
    assert fc.predict(np.ones((1, 4), "float32"), verbose=0).shape == (1, 2)


def test_to_json_and_model_from_json():
    m = keras.Sequential([keras.Input(shape=(4,)), L.Dense(2)])
    back = keras.models.model_from_json(m.to_json())
    assert back.output_shape == (None, 2)


# ------------------------------------------------------------------------- summary
def _summary_lines(model, **kw):
    chunks = []
    model.summary(print_fn=chunks.append, **kw)
    assert len(chunks) == 1  # as Keras: print_fn gets the whole text at once
    return chunks[0].splitlines()


def test_summary_contents_like_keras():
    keras.backend.clear_session()
    m = keras.Sequential([L.Dense(64, activation="relu", input_shape=(100,)), L.Dense(10)])
    lines = _summary_lines(m, show_flops=False)  # exactly Keras's table
    text = "\n".join(lines)
    assert lines[0] == 'Model: "sequential"'
    for s in ("Layer (type)", "Output Shape", "Param #", "dense (Dense)", "dense_1 (Dense)",
              "(None, 64)", "(None, 10)", "6,464", "650"):
        assert s in text
    assert " Total params: 7,114 (27.79 KB)" in lines
    assert " Trainable params: 7,114 (27.79 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines
    assert "Connected to" not in text and "FLOPs" not in text
    assert all(len(l) <= 88 for l in lines[1:9])
    narrow = _summary_lines(m, line_length=70, show_flops=False)
    assert all(len(l) == 70 for l in narrow[1:5])
    # beyond Keras, by default: FLOPs per sample (matmul 2*M*N*K + bias + relu) and memory
    lines = _summary_lines(m)
    assert "FLOPs" in lines[2]
    flops = 2 * 100 * 64 + 64 + 64 + 2 * 64 * 10 + 10
    assert f" FLOPs per sample (forward): {flops:,}" in lines
    assert any(l.startswith(" Memory: parameters 27.79 KB") for l in lines)


def test_summary_functional_connected_to_and_non_trainable():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(3,), name="b")
    shared = L.Dense(2, name="shared")
    s = L.Dense(1, name="head")(shared(a))
    t = shared(b)
    m = keras.Model([a, b], [s, t])
    m.get_layer("head").trainable = False
    text = "\n".join(_summary_lines(m))
    assert "Connected to" in text and "a[0][0]" in text and "shared[0][0]" in text
    assert "input_layer" not in text or "InputLayer" in text
    assert "Non-trainable params: 3 (12.00 B)" in text
