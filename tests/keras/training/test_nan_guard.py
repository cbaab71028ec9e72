"""fit reports the first batch whose loss is NaN/inf, naming the cause (issue 14,
"Training"), then trains on as Keras does (or stops, with TENFOLD_CHECK_NUMERICS=raise);
NumPy's RuntimeWarnings from tenfold's code never reach the user."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold import keras
from tenfold.keras.engine.nan_guard import NonFiniteLossError, NonFiniteLossWarning


def fit_report(model, *args, **kwargs):
    """Runs fit recording every warning: exactly one NonFiniteLossWarning and no other
    RuntimeWarning (NumPy's included) may come out. Returns (message, history)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(*args, **kwargs)
    ours = [w for w in caught if issubclass(w.category, NonFiniteLossWarning)]
    other = [w for w in caught if issubclass(w.category, RuntimeWarning) and w not in ours]
    assert other == [], [str(w.message) for w in other]
    assert len(ours) == 1, [str(w.message) for w in caught]
    return str(ours[0].message), history


def mlp(lr=0.01, inputs=3):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(lr), "mse")
    return m


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 3), dtype=np.float32), rng.random((n, 1), dtype=np.float32)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(row=st.integers(0, 63), col=st.integers(0, 2), bad=st.sampled_from(
    [np.nan, np.inf, -np.inf]), where=st.sampled_from(["x", "y"]),
    batch_size=st.sampled_from([4, 8, 16]))
def test_bad_value_in_data_reported_at_its_batch(row, col, bad, where, batch_size):
    x, y = data()
    if where == "x":
        x[row, col] = bad
    else:
        y[row, 0] = bad
    model = mlp()
    msg, _ = fit_report(model, x, y, batch_size=batch_size, epochs=2, shuffle=False,
                        verbose=0)
    batch = row // batch_size + 1
    # the batch itself, or (when its own loss stayed finite, e.g. relu(-inf) = 0) the next
    # batch, naming this one as the cause
    assert f"epoch 1, batch {batch} " in msg or (
        f"epoch 1, batch {batch + 1} " in msg and f"(epoch 1, batch {batch})" in msg), msg
    assert ("input 'input_layer" if where == "x" else "target y") in msg
    assert f"rows {row % batch_size})" in msg
    assert "Clean the data" in msg


def test_named_inputs_of_a_functional_model():
    keras.utils.set_random_seed(0)
    a = keras.Input((2,), name="age")
    b = keras.Input((2,), name="income")
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    model = keras.Model([a, b], out)
    model.compile("sgd", "mse")
    xa, xb = np.ones((16, 2), "float32"), np.ones((16, 2), "float32")
    xb[9, 1] = np.nan
    msg, _ = fit_report(model, [xa, xb], np.ones((16, 1), "float32"), batch_size=8,
                        shuffle=False, verbose=0)
    assert "input 'income'" in msg and "rows 1)" in msg


@pytest.mark.parametrize("lr", [1e4, 1e6, 1e9])
def test_divergence_suggests_a_lower_learning_rate(lr):
    x, y = data()
    model = mlp(lr)
    msg, _ = fit_report(model, x * 100, y, batch_size=8, epochs=5, shuffle=False, verbose=0)
    assert "diverged" in msg
    assert f"learning rate (now {lr:g})" in msg


@pytest.mark.parametrize("fn", ["log", "sqrt_neg", "div0"])
def test_layer_producing_nan_is_named(fn):
    ops = keras.ops
    f = {"log": lambda t: ops.log(t), "sqrt_neg": lambda t: ops.sqrt(t - 10.0),
         "div0": lambda t: t / (t - t)}[fn]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                              keras.layers.Lambda(f, name="my_math"), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = data()
    msg, _ = fit_report(model, x, y, batch_size=8, shuffle=False, verbose=0)
    assert "batch 1 " in msg and "Layer 'my_math' (Lambda)" in msg


def test_loss_function_producing_nan():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    def bad_loss(y_true, y_pred):          # log of values that are mostly negative
        return keras.ops.mean(keras.ops.log(y_pred - 100.0))
    model.compile("sgd", bad_loss)
    x, y = data()
    msg, _ = fit_report(model, x, np.zeros((64, 2), "float32"), batch_size=8, shuffle=False,
                        verbose=0)
    assert "batch 1 " in msg and "the loss function produced it" in msg


def test_terminate_on_nan_keeps_keras_behaviour():
    x, y = data()
    x[20, 0] = np.nan
    model = mlp()
    msg, history = fit_report(model, x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                              callbacks=[keras.callbacks.TerminateOnNaN()])
    assert "Clean the data" in msg
    assert len(history.history["loss"]) == 1


def test_check_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("TENFOLD_CHECK_NUMERICS", "0")
    x, y = data()
    x[0, 0] = np.nan
    model = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert np.isnan(history.history["loss"]).all()


def test_clean_training_unaffected():
    x, y = data()
    model = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_run_eagerly_and_compiled_both_checked():
    x, y = data()
    x[33, 2] = np.inf
    for eager in (True, False):
        model = mlp()
        model.compile(keras.optimizers.SGD(0.01), "mse", run_eagerly=eager)
        msg, _ = fit_report(model, x, y, batch_size=8, shuffle=False, verbose=0)
        assert "batch 5 " in msg and "inf" in msg


def test_trains_on_like_keras_by_default_and_raise_mode_stops(monkeypatch):
    """Default: one warning, then training goes on with the same numbers as Keras (NaN
    history); TENFOLD_CHECK_NUMERICS=raise stops at that batch."""
    x, y = data()
    x[9, 1] = np.nan
    model = mlp()
    msg, history = fit_report(model, x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 3 and np.isnan(history.history["loss"]).all()
    assert "epoch 1, batch 2 " in msg
    monkeypatch.setenv("TENFOLD_CHECK_NUMERICS", "raise")
    model = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteLossError, match="epoch 1, batch 2 .*Clean the data"):
            model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)


def test_evaluate_and_predict_on_nan_data_raise_no_numpy_warning():
    x, y = data()
    x[3, 0] = np.nan
    x[5, 1] = np.inf
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                              keras.layers.Lambda(lambda t: keras.ops.log(t)),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.predict(x, batch_size=8, verbose=0)
        model.evaluate(x, (y > 0.5).astype("float32"), batch_size=8, verbose=0)
    assert np.isnan(out[3]).all()
