"""Metrics against Keras 3 (NumPy backend): several batches, with and without sample
weights, results, reset, configs, variables; `get`, accuracy resolution; errors."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras as tk

keras = pytest.importorskip("keras")

rng = np.random.default_rng(1)
N, C = 16, 5
LOGITS = rng.standard_normal((N, C)).astype("float32")
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
LABELS = rng.integers(0, C, N)
ONEHOT = np.eye(C, dtype="float32")[LABELS]
SW = rng.random(N).astype("float32")
YB = (rng.random((N, 1)) > 0.5).astype("float32")
PB = rng.random((N, 1)).astype("float32")
YBM = (rng.random((N, 3)) > 0.5).astype("float32")
PBM = rng.random((N, 3)).astype("float32")
YR = rng.standard_normal((N, 3)).astype("float32")
PR = rng.standard_normal((N, 3)).astype("float32")

CASES = [
    ("Accuracy", {}, LABELS, PROBS.argmax(-1)), ("BinaryAccuracy", {}, YB, PB),
    ("BinaryAccuracy", {"threshold": 0.7}, YBM, PBM), ("CategoricalAccuracy", {}, ONEHOT, PROBS),
    ("SparseCategoricalAccuracy", {}, LABELS, PROBS),
    ("SparseCategoricalAccuracy", {}, LABELS[:, None], PROBS),
    ("TopKCategoricalAccuracy", {"k": 2}, ONEHOT, PROBS),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, LABELS, PROBS),
    ("MeanSquaredError", {}, YR, PR), ("MeanAbsoluteError", {}, YR, PR),
    ("RootMeanSquaredError", {}, YR, PR), ("CosineSimilarity", {}, YR, PR),
    ("LogCoshError", {}, YR, PR), ("MeanAbsolutePercentageError", {}, YR, PR),
    ("MeanSquaredLogarithmicError", {}, np.abs(YR), np.abs(PR)),
    ("KLDivergence", {}, ONEHOT * 0.9 + 0.02, PROBS), ("Poisson", {}, np.abs(YR), np.abs(PR)),
    ("Hinge", {}, YBM, PR), ("SquaredHinge", {}, YBM, PR), ("CategoricalHinge", {}, ONEHOT, PROBS),
    ("BinaryCrossentropy", {}, YBM, PBM),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, YBM, PR),
    ("CategoricalCrossentropy", {}, ONEHOT, PROBS),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, ONEHOT, LOGITS),
    ("SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, LABELS, LOGITS),
    ("TruePositives", {}, YB, PB), ("FalsePositives", {"thresholds": [0.2, 0.5, 0.8]}, YBM, PBM),
    ("TrueNegatives", {}, YBM, PBM), ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, YBM, PBM),
    ("Precision", {}, YBM, PBM), ("Recall", {}, YBM, PBM),
    ("Precision", {"thresholds": [0.3, 0.6]}, YBM, PBM), ("Recall", {"top_k": 2}, ONEHOT, PROBS),
    ("Precision", {"class_id": 2}, ONEHOT, PROBS),
    ("Precision", {"top_k": 1, "class_id": 1}, ONEHOT, PROBS),
    ("AUC", {}, YBM, PBM), ("AUC", {"curve": "PR"}, YBM, PBM),
    ("AUC", {"num_thresholds": 50, "summation_method": "minoring"}, YBM, PBM),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, YBM, PBM),
    ("AUC", {"multi_label": True}, YBM, PBM),
    ("AUC", {"multi_label": True, "curve": "PR", "label_weights": [1, 2, 3]}, YBM, PBM),
    ("AUC", {"thresholds": [0.1, 0.4, 0.45, 0.9]}, YBM, PBM),
    ("AUC", {"from_logits": True}, YBM, PR),
    ("F1Score", {}, ONEHOT, PROBS), ("F1Score", {"average": "macro", "threshold": 0.3}, YBM, PBM),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}, ONEHOT, PROBS),
    ("F1Score", {"average": "micro"}, ONEHOT, PROBS),
]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_match_keras(name, kwargs, y_true, y_pred, weighted):
    w = SW if weighted else None
    km, tm = getattr(keras.metrics, name)(**kwargs), getattr(tk.metrics, name)(**kwargs)
    for half in (slice(0, N // 2), slice(N // 2, N)):
        ww = None if w is None else w[half]
        km.update_state(y_true[half], y_pred[half], sample_weight=ww)
        tm.update_state(y_true[half], y_pred[half], sample_weight=ww)
    want, got = np.asarray(km.result()), tm.result()
    assert isinstance(got, tf.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert [v.name for v in tm.variables] == [v.name for v in km.variables]
    assert all(not v.trainable for v in tm.variables)
    kc, tc = km.get_config(), tm.get_config()
    assert tc.keys() == kc.keys()
    tm.reset_state()
    km.reset_state()
    np.testing.assert_allclose(tm.result().numpy(), np.asarray(km.result()), atol=1e-7)
    again = type(tm).from_config(tc)
    again.update_state(y_true, y_pred)
    fresh = getattr(tk.metrics, name)(**kwargs)
    fresh.update_state(y_true, y_pred)
    np.testing.assert_allclose(again.result().numpy(), fresh.result().numpy())


def test_mean_and_sum():
    for name in ("Mean", "Sum"):
        km, tm = getattr(keras.metrics, name)(), getattr(tk.metrics, name)()
        for vals, w in ((YR, None), (YR[:, 0], SW), (YR, SW[:, None]), (3.0, None)):
            km.update_state(vals, sample_weight=w)
            tm.update_state(vals, sample_weight=w)
        np.testing.assert_allclose(tm.result().numpy(), np.asarray(km.result()), rtol=1e-5)


def test_call_updates_and_returns_result():
    m = tk.metrics.SparseCategoricalAccuracy()
    r = m(LABELS, PROBS)
    assert float(r) == pytest.approx(float((PROBS.argmax(-1) == LABELS).mean()))


def test_mean_metric_wrapper_with_custom_fn():
    def fn(y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
    m = tk.metrics.MeanMetricWrapper(fn, name="my_mae")
    m.update_state(YR, PR, sample_weight=SW)
    k = keras.metrics.MeanAbsoluteError()
    k.update_state(YR, PR, sample_weight=SW)
    np.testing.assert_allclose(float(m.result()), float(np.asarray(k.result())), rtol=1e-5)
    assert m.name == "my_mae"


def test_custom_metric_subclass_tf_keras_style():
    class Count(tk.metrics.Metric):
        def __init__(self, name="count", **kwargs):
            super().__init__(name=name, **kwargs)
            self.n = self.add_weight(name="n", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n.assign_add(tf.cast(tf.shape(y_true)[0], tf.float32))

        def result(self):
            return self.n

    c = Count()
    c.update_state(YR, PR)
    c.update_state(YR, PR)
    assert float(c.result()) == 2 * N
    assert [v.name for v in c.variables] == ["n"]
    c.reset_state()
    assert float(c.result()) == 0


@pytest.mark.parametrize("name", ["accuracy", "acc", "mse", "mae", "AUC", "auc", "Precision",
                                  "binary_accuracy", "categorical_accuracy",
                                  "sparse_categorical_accuracy", "top_k_categorical_accuracy",
                                  "categorical_crossentropy", "RootMeanSquaredError"])
def test_get(name):
    obj = tk.metrics.get(name)
    assert callable(obj)
    if isinstance(obj, tk.metrics.Metric):
        assert obj.name


def test_resolve_accuracy_by_loss():
    r = tk.metrics.resolve_accuracy
    assert r("accuracy", "sparse_categorical_crossentropy") is \
        tk.metrics.sparse_categorical_accuracy
    assert r("accuracy", tk.losses.SparseCategoricalCrossentropy(from_logits=True)) is \
        tk.metrics.sparse_categorical_accuracy
    assert r("acc", "binary_crossentropy") is tk.metrics.binary_accuracy
    assert r("accuracy", tk.losses.CategoricalCrossentropy()) is \
        tk.metrics.categorical_accuracy
    assert r("accuracy", "mse", YB, PB) is tk.metrics.binary_accuracy
    assert r("accuracy", "mse", LABELS, PROBS) is tk.metrics.sparse_categorical_accuracy


def test_errors():
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):
        tk.metrics.CategoricalAccuracy().update_state(LABELS[:, None], PROBS)
    with pytest.raises(ValueError, match="Could not interpret metric identifier.*Did you mean"):
        tk.metrics.get("acuracy")
    with pytest.raises(ValueError, match="Threshold values must be in"):
        tk.metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        tk.metrics.AUC(num_thresholds=1)


def test_metric_update_is_few_ops():
    """Per-batch cost: count the primitives one update of common metrics records."""
    from tenfold.ops import registry

    class Counter:
        n = 0

        def record(self, prim, inputs, out, params):
            Counter.n += 1

    metrics = [tk.metrics.SparseCategoricalAccuracy(), tk.metrics.Mean(),
               tk.metrics.BinaryAccuracy(), tk.metrics.AUC()]
    y = tf.constant(PROBS)
    counter = Counter()
    registry.observers.append(counter)
    try:
        metrics[0].update_state(tf.constant(LABELS), y)
        acc_ops, Counter.n = Counter.n, 0
        metrics[1].update_state(tf.constant(SW))
        mean_ops, Counter.n = Counter.n, 0
        metrics[3].update_state(tf.constant(YBM), tf.constant(PBM))
        auc_ops = Counter.n
    finally:
        registry.observers.remove(counter)
    assert acc_ops <= 12 and mean_ops <= 6 and auc_ops <= 40, (acc_ops, mean_ops, auc_ops)
