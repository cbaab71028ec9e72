"""Losses against Keras 3 (NumPy backend) on random inputs: every class, reduction, sample
weights, from_logits, label smoothing; the per-sample functions; `get`; gradients; errors."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras as tk

keras = pytest.importorskip("keras")

rng = np.random.default_rng(0)
N, C = 6, 4
LOGITS = rng.standard_normal((N, C)).astype("float32")
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
LABELS = rng.integers(0, C, N)
ONEHOT = np.eye(C, dtype="float32")[LABELS]
SW = rng.random(N).astype("float32")
YR = rng.standard_normal((N, 3)).astype("float32")
PR = rng.standard_normal((N, 3)).astype("float32")
PB = rng.random((N, 3)).astype("float32")
YB = (rng.random((N, 3)) > 0.5).astype("float32")
SEQ_LOGITS = rng.standard_normal((N, 5, C)).astype("float32")
SEQ_LABELS = rng.integers(0, C, (N, 5))

CASES = [
    ("MeanSquaredError", {}, YR, PR), ("MeanAbsoluteError", {}, YR, PR),
    ("MeanAbsolutePercentageError", {}, YR, PR),
    ("MeanSquaredLogarithmicError", {}, np.abs(YR), np.abs(PR)),
    ("CosineSimilarity", {}, YR, PR),
    ("Huber", {}, YR, PR), ("Huber", {"delta": 0.3}, YR, PR), ("LogCosh", {}, YR, PR),
    ("Hinge", {}, YB, PR), ("Hinge", {}, YB * 2 - 1, PR), ("SquaredHinge", {}, YB, PR),
    ("CategoricalHinge", {}, ONEHOT, PROBS), ("KLDivergence", {}, ONEHOT * 0.9 + 0.025, PROBS),
    ("Poisson", {}, np.abs(YR), np.abs(PR)),
    ("BinaryCrossentropy", {}, YB, PB),
    ("BinaryCrossentropy", {"from_logits": True}, YB, PR),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, YB, PB),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": 0}, YB, PR),
    ("BinaryFocalCrossentropy", {}, YB, PB),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "gamma": 1.5}, YB, PB),
    ("BinaryFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, YB, PR),
    ("CategoricalCrossentropy", {}, ONEHOT, PROBS),
    ("CategoricalCrossentropy", {"from_logits": True}, ONEHOT, LOGITS),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, ONEHOT, PROBS),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, ONEHOT, LOGITS),
    ("CategoricalCrossentropy", {"from_logits": True, "axis": 0}, ONEHOT, LOGITS),
    ("CategoricalFocalCrossentropy", {}, ONEHOT, PROBS),
    ("CategoricalFocalCrossentropy", {"from_logits": True}, ONEHOT, LOGITS),
    ("SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    ("SparseCategoricalCrossentropy", {}, LABELS[:, None], PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, LABELS, LOGITS),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, SEQ_LABELS, SEQ_LOGITS),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, LABELS, LOGITS),
    ("Dice", {}, YB, PB), ("Tversky", {"alpha": 0.3, "beta": 0.7}, YB, PB),
]
REDUCTIONS = ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight", "mean"]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_classes_match_keras(name, kwargs, y_true, y_pred, reduction):
    for w in (None, SW):
        if w is not None and name in ("Dice", "Tversky"):
            continue
        ours = getattr(tk.losses, name)(reduction=reduction, **kwargs)
        try:
            want = np.asarray(getattr(keras.losses, name)(reduction=reduction, **kwargs)(
                y_true, y_pred, sample_weight=w))
        except ValueError:  # Keras refuses these shapes: so must we
            with pytest.raises(ValueError):
                ours(y_true, y_pred, sample_weight=w)
            continue
        got = ours(y_true, y_pred, sample_weight=w)
        assert isinstance(got, tf.Tensor)
        assert got.dtype == tf.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-6)


FUNCS = [("mean_squared_error", YR, PR, {}), ("mean_absolute_error", YR, PR, {}),
         ("mean_absolute_percentage_error", YR, PR, {}),
         ("mean_squared_logarithmic_error", np.abs(YR), np.abs(PR), {}),
         ("cosine_similarity", YR, PR, {}), ("huber", YR, PR, {"delta": 0.5}),
         ("log_cosh", YR, PR, {}), ("kl_divergence", ONEHOT, PROBS, {}),
         ("poisson", np.abs(YR), np.abs(PR), {}), ("hinge", YB, PR, {}),
         ("squared_hinge", YB, PR, {}), ("categorical_hinge", ONEHOT, PROBS, {}),
         ("binary_crossentropy", YB, PB, {}),
         ("binary_crossentropy", YB, PR, {"from_logits": True}),
         ("categorical_crossentropy", ONEHOT, PROBS, {}),
         ("categorical_crossentropy", ONEHOT, LOGITS, {"from_logits": True}),
         ("sparse_categorical_crossentropy", LABELS, PROBS, {}),
         ("sparse_categorical_crossentropy", LABELS, LOGITS, {"from_logits": True}),
         ("binary_focal_crossentropy", YB, PB, {}),
         ("categorical_focal_crossentropy", ONEHOT, PROBS, {})]


@pytest.mark.parametrize("fn,y_true,y_pred,kwargs", FUNCS, ids=[f[0] for f in FUNCS])
def test_loss_functions_match_keras(fn, y_true, y_pred, kwargs):
    want = np.asarray(getattr(keras.losses, fn)(y_true, y_pred, **kwargs))
    got = getattr(tk.losses, fn)(y_true, y_pred, **kwargs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-6)


def test_float64_inputs_stay_float64_in_functions_like_tf_keras():
    # Keras on TensorFlow keeps float64 NumPy inputs float64 (its NumPy backend does not).
    got = tk.losses.mean_squared_error(YR.astype("float64"), PR.astype("float64"))
    assert got.dtype == tf.float64
    np.testing.assert_allclose(got.numpy(), ((YR - PR).astype("float64") ** 2).mean(-1),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["mse", "mae", "mape", "msle", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy", "binary_crossentropy",
                                  "huber", "kld", "cosine_similarity", "hinge", "squared_hinge",
                                  "log_cosh", "poisson", "categorical_hinge",
                                  "binary_focal_crossentropy", "MeanSquaredError", "Huber"])
def test_get_by_name(name):
    fn = tk.losses.get(name)
    kfn = keras.losses.get(name)
    assert callable(fn)
    assert (fn.__name__ if not isinstance(fn, tk.losses.Loss) else type(fn).__name__) == \
        (kfn.__name__ if not isinstance(kfn, keras.losses.Loss) else type(kfn).__name__)


def test_configs_match_keras_and_round_trip():
    for name, kwargs, _, _ in CASES:
        kc = getattr(keras.losses, name)(**kwargs).get_config()
        t = getattr(tk.losses, name)(**kwargs)
        tc = t.get_config()
        assert tc == kc, name
        ser = tk.losses.serialize(t)
        assert ser["class_name"] == name and ser["module"] == "keras.losses"
        again = tk.losses.deserialize(ser)
        assert type(again) is type(t) and again.get_config() == tc


def test_gradient_of_crossentropy_from_logits():
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        loss = tk.losses.CategoricalCrossentropy(from_logits=True)(ONEHOT, logits)
    g = tape.gradient(loss, logits).numpy()
    np.testing.assert_allclose(g, (PROBS - ONEHOT) / N, rtol=1e-5, atol=1e-7)
    with tf.GradientTape() as tape:
        loss = tk.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, logits)
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), (PROBS - ONEHOT) / N,
                               rtol=1e-5, atol=1e-7)


def test_gradient_of_mse_and_bce_by_finite_differences():
    p = PB.astype("float64")
    for loss in (tk.losses.MeanSquaredError(dtype="float64"),
                 tk.losses.BinaryCrossentropy(dtype="float64")):
        v = tf.Variable(p)
        with tf.GradientTape() as tape:
            out = loss(YB, v)
        g = tape.gradient(out, v).numpy()
        eps = 1e-6
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            hi, lo = p.copy(), p.copy()
            hi[idx] += eps
            lo[idx] -= eps
            num[idx] = (float(loss(YB, hi)) - float(loss(YB, lo))) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-8)


def test_mixed_precision_inputs_compute_in_float32():
    from tenfold.keras import mixed_precision
    mixed_precision.set_global_policy("mixed_float16")
    try:
        loss = tk.losses.CategoricalCrossentropy(from_logits=True)
        assert loss.dtype == "float32"
        out = loss(ONEHOT, tf.constant(LOGITS.astype("float16")))
        assert out.dtype == tf.float32
        want = keras.losses.CategoricalCrossentropy(from_logits=True)(
            ONEHOT, LOGITS.astype("float16").astype("float32"))
        np.testing.assert_allclose(float(out), float(np.asarray(want)), rtol=1e-5)
    finally:
        mixed_precision.set_global_policy(None)


def test_keras_mask_on_predictions_is_used():
    y_pred = tf.constant(PR)
    mask = tf.constant(np.array([True, True, False, True, False, True]))
    y_pred._keras_mask = mask
    got = tk.losses.MeanSquaredError()(YR, y_pred)
    per = ((YR - PR) ** 2).mean(-1)
    m = mask.numpy()
    np.testing.assert_allclose(float(got), per[m].sum() / m.sum(), rtol=1e-5)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(6, 3\).*\(6, 2\)"):
        tk.losses.MeanSquaredError()(YR, PR[:, :2])
    with pytest.raises(ValueError, match=r"\(6, 4\).*\(6, 3\)"):
        tk.losses.CategoricalCrossentropy()(ONEHOT, PB)


def test_integer_labels_to_categorical_crossentropy_get_a_hint():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy.*to_categorical"):
        tk.losses.CategoricalCrossentropy()(LABELS, PROBS)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        tk.losses.CategoricalCrossentropy()(LABELS[:, None], PROBS)


def test_sparse_label_out_of_range_and_one_hot_labels():
    with pytest.raises(ValueError, match=r"label value of 7.*\[0, 4\)"):
        tk.losses.SparseCategoricalCrossentropy()(np.array([0, 7, 1, 2, 3, 0]), PROBS)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        tk.losses.SparseCategoricalCrossentropy()(ONEHOT, PROBS)


def test_unknown_loss_name_suggests():
    with pytest.raises(ValueError, match="Did you mean 'categorical_crossentropy'"):
        tk.losses.get("categorical_crossentropi")


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        tk.losses.MeanSquaredError(reduction="avg")


def test_custom_loss_subclass():
    class MyLoss(tk.losses.Loss):
        def call(self, y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)

    got = MyLoss()(YR, PR, sample_weight=SW)
    want = keras.losses.MeanAbsoluteError()(YR, PR, sample_weight=SW)
    np.testing.assert_allclose(float(got), float(np.asarray(want)), rtol=1e-5)
