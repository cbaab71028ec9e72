"""Every loss (class and function form) and every metric (update_state / result) gives the
eager result inside `tf.function`, also on a second call with new values (nothing computed on
the first call's concrete values may be baked into the graph).

The public names are enumerated: a new loss or metric without an entry here fails
`test_every_loss_and_metric_has_an_entry`.
"""
import inspect

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

B, C = 6, 4


def _probs(rng):
    p = rng.uniform(0.1, 1.0, (B, C)).astype(np.float32)
    return p / p.sum(-1, keepdims=True)


def _onehot(rng):
    return np.eye(C, dtype=np.float32)[rng.randint(0, C, B)]


# kind -> rng -> (y_true, y_pred)
KINDS = {
    "binary": lambda r: ((r.uniform(size=(B, C)) > 0.5).astype(np.float32),
                         r.uniform(0.05, 0.95, (B, C)).astype(np.float32)),
    "categorical": lambda r: (_onehot(r), _probs(r)),
    "sparse": lambda r: (r.randint(0, C, (B,)).astype(np.int32), _probs(r)),
    "regression": lambda r: (r.uniform(0.5, 2.0, (B, C)).astype(np.float32),
                             r.uniform(0.5, 2.0, (B, C)).astype(np.float32)),
    "labels": lambda r: (r.randint(0, C, (B,)).astype(np.int32),
                         r.randint(0, C, (B,)).astype(np.int32)),
    "values": lambda r: (r.uniform(-1, 1, (B,)).astype(np.float32),),
}

LOSS_KINDS = {
    "BinaryCrossentropy": "binary", "BinaryFocalCrossentropy": "binary",
    "CategoricalCrossentropy": "categorical", "CategoricalFocalCrossentropy": "categorical",
    "CategoricalHinge": "categorical", "CosineSimilarity": "regression", "Dice": "binary",
    "Hinge": "binary", "Huber": "regression", "KLDivergence": "categorical",
    "LogCosh": "regression", "MeanAbsoluteError": "regression",
    "MeanAbsolutePercentageError": "regression", "MeanSquaredError": "regression",
    "MeanSquaredLogarithmicError": "regression", "Poisson": "regression",
    "SparseCategoricalCrossentropy": "sparse", "SquaredHinge": "binary", "Tversky": "binary",
    "binary_crossentropy": "binary", "binary_focal_crossentropy": "binary",
    "categorical_crossentropy": "categorical", "categorical_focal_crossentropy": "categorical",
    "categorical_hinge": "categorical", "cosine_similarity": "regression", "dice": "binary",
    "hinge": "binary", "huber": "regression", "kl_divergence": "categorical",
    "log_cosh": "regression", "mean_absolute_error": "regression",
    "mean_absolute_percentage_error": "regression", "mean_squared_error": "regression",
    "mean_squared_logarithmic_error": "regression", "poisson": "regression",
    "sparse_categorical_crossentropy": "sparse", "squared_hinge": "binary",
    "tversky": "binary",
}
# aliases of the names above (same object); checked to be aliases, not run twice
LOSS_ALIASES = {"KLD": "kl_divergence", "MAE": "mean_absolute_error",  # functions, as Keras
                "MAPE": "mean_absolute_percentage_error", "MSE": "mean_squared_error",
                "MSLE": "mean_squared_logarithmic_error", "huber_loss": "huber", "kld":
                "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
                "logcosh": "log_cosh", "mae": "mean_absolute_error",
                "mape": "mean_absolute_percentage_error", "mse": "mean_squared_error",
                "msle": "mean_squared_logarithmic_error"}
LOSS_NOT_LOSSES = {"ALL_OBJECTS", "ALL_OBJECTS_DICT", "Loss", "LossFunctionWrapper",
                   "Reduction", "deserialize", "get", "serialize", "reduce_weighted_values",
                   "loss", "losses"}

# metric name -> (kind, constructor kwargs)
METRIC_CLASSES = {
    "AUC": ("binary", {}), "Accuracy": ("labels", {}), "BinaryAccuracy": ("binary", {}),
    "BinaryCrossentropy": ("binary", {}), "BinaryIoU": ("binary", {}),
    "CategoricalAccuracy": ("categorical", {}), "CategoricalCrossentropy": ("categorical", {}),
    "CategoricalHinge": ("categorical", {}), "ConcordanceCorrelation": ("regression", {}),
    "CosineSimilarity": ("regression", {}), "F1Score": ("binary", {}),
    "FBetaScore": ("binary", {"beta": 2.0}), "FalseNegatives": ("binary", {}),
    "FalsePositives": ("binary", {}), "Hinge": ("binary", {}),
    "IoU": ("labels", {"num_classes": C, "target_class_ids": [0, 2]}),
    "KLDivergence": ("categorical", {}), "LogCoshError": ("regression", {}),
    "Mean": ("values", {}), "MeanAbsoluteError": ("regression", {}),
    "MeanAbsolutePercentageError": ("regression", {}),
    "MeanIoU": ("labels", {"num_classes": C}),
    "MeanMetricWrapper": ("regression", {"fn": "mean_squared_error"}),
    "MeanSquaredError": ("regression", {}), "MeanSquaredLogarithmicError": ("regression", {}),
    "OneHotIoU": ("categorical", {"num_classes": C, "target_class_ids": [1, 3]}),
    "OneHotMeanIoU": ("categorical", {"num_classes": C}),
    "PearsonCorrelation": ("regression", {}), "Poisson": ("regression", {}),
    "Precision": ("binary", {}), "PrecisionAtRecall": ("binary", {"recall": 0.5}),
    "R2Score": ("regression", {}), "Recall": ("binary", {}),
    "RecallAtPrecision": ("binary", {"precision": 0.5}),
    "RootMeanSquaredError": ("regression", {}),
    "SensitivityAtSpecificity": ("binary", {"specificity": 0.5}),
    "SparseCategoricalAccuracy": ("sparse", {}),
    "SparseCategoricalCrossentropy": ("sparse", {}),
    "SparseTopKCategoricalAccuracy": ("sparse", {"k": 2}),
    "SpecificityAtSensitivity": ("binary", {"sensitivity": 0.5}),
    "SquaredHinge": ("binary", {}), "Sum": ("values", {}),
    "TopKCategoricalAccuracy": ("categorical", {"k": 2}),
    "TrueNegatives": ("binary", {}), "TruePositives": ("binary", {}),
}
METRIC_FUNCTIONS = {
    "accuracy": "labels", "binary_accuracy": "binary", "binary_crossentropy": "binary",
    "binary_focal_crossentropy": "binary", "categorical_accuracy": "categorical",
    "categorical_crossentropy": "categorical", "categorical_hinge": "categorical",
    "concordance_correlation": "regression", "hinge": "binary", "kl_divergence": "categorical",
    "log_cosh": "regression", "mean_absolute_error": "regression",
    "mean_absolute_percentage_error": "regression", "mean_squared_error": "regression",
    "mean_squared_logarithmic_error": "regression", "pearson_correlation": "regression",
    "poisson": "regression", "sparse_categorical_accuracy": "sparse",
    "sparse_categorical_crossentropy": "sparse", "sparse_top_k_categorical_accuracy": "sparse",
    "squared_hinge": "binary", "top_k_categorical_accuracy": "categorical",
}
METRIC_ALIASES = {"KLD": "kl_divergence", "MAE": "mean_absolute_error",
                  "MAPE": "mean_absolute_percentage_error", "MSE": "mean_squared_error",
                  "MSLE": "mean_squared_logarithmic_error", "kld": "kl_divergence",
                  "kullback_leibler_divergence": "kl_divergence", "logcosh": "log_cosh",
                  "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
                  "mse": "mean_squared_error", "msle": "mean_squared_logarithmic_error"}
METRIC_NOT_METRICS = {"ALL_OBJECTS", "ALL_OBJECTS_DICT", "Metric", "confusion", "deserialize",
                      "get", "serialize", "metric", "more_metrics",
                      "reduce_to_samplewise_values", "resolve_accuracy"}


def _public(mod):
    return {n for n in dir(mod) if not n.startswith("_")
            and not inspect.ismodule(getattr(mod, n))} | \
        {n for n in dir(mod) if not n.startswith("_") and inspect.ismodule(getattr(mod, n))}


def test_every_loss_and_metric_has_an_entry():
    missing = _public(keras.losses) - set(LOSS_KINDS) - set(LOSS_ALIASES) - LOSS_NOT_LOSSES
    assert not missing, f"keras.losses names without an entry in {__file__}: {sorted(missing)}"
    missing = (_public(keras.metrics) - set(METRIC_CLASSES) - set(METRIC_FUNCTIONS)
               - set(METRIC_ALIASES) - METRIC_NOT_METRICS)
    assert not missing, f"keras.metrics names without an entry in {__file__}: {sorted(missing)}"
    for mod, aliases in ((keras.losses, LOSS_ALIASES), (keras.metrics, METRIC_ALIASES)):
        for alias, name in aliases.items():
            assert getattr(mod, alias) is getattr(mod, name), f"{alias} is not {name}"


def _inputs(kind, seed):
    rng = np.random.RandomState(seed)
    return [tf.constant(v) for v in KINDS[kind](rng)]


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _check(got, want, name):
    got, want = _np(got), _np(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} vs eager {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", sorted(LOSS_KINDS))
def test_loss_in_tf_function_matches_eager(name):
    obj = getattr(keras.losses, name)
    loss = obj() if inspect.isclass(obj) else obj
    first, second = _inputs(LOSS_KINDS[name], 1), _inputs(LOSS_KINDS[name], 2)
    step = tf.function(lambda yt, yp: loss(yt, yp))
    step(*first)
    got = step(*second)
    assert step.experimental_get_tracing_count() == 1
    _check(got, loss(*second), name)


def _metric(name):
    kind, kwargs = METRIC_CLASSES[name]
    kwargs = dict(kwargs)
    if name == "MeanMetricWrapper":
        kwargs["fn"] = keras.metrics.mean_squared_error
    return getattr(keras.metrics, name)(**kwargs), kind


@pytest.mark.parametrize("name", sorted(METRIC_CLASSES))
def test_metric_update_and_result_in_tf_function_match_eager(name):
    graph_metric, kind = _metric(name)
    eager_metric, _ = _metric(name)
    first, second = _inputs(kind, 1), _inputs(kind, 2)

    @tf.function
    def step(*args):
        graph_metric.update_state(*args)
        return graph_metric.result()

    step(*first)
    got = step(*second)
    assert step.experimental_get_tracing_count() == 1
    eager_metric.update_state(*first)
    eager_metric.update_state(*second)
    _check(got, eager_metric.result(), name)
    _check(graph_metric.result(), eager_metric.result(), name)


@pytest.mark.parametrize("name", sorted(METRIC_FUNCTIONS))
def test_metric_function_in_tf_function_matches_eager(name):
    fn = getattr(keras.metrics, name)
    first, second = _inputs(METRIC_FUNCTIONS[name], 1), _inputs(METRIC_FUNCTIONS[name], 2)
    step = tf.function(lambda yt, yp: fn(yt, yp))
    step(*first)
    got = step(*second)
    _check(got, fn(*second), name)


def test_binary_crossentropy_in_a_custom_train_step():
    """issue 18: `keras.losses.binary_crossentropy` inside a custom train_step."""
    class Model(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.losses.binary_crossentropy(y, self(x)))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return {"loss": loss}

    inp = keras.Input((3,))
    model = Model(inp, keras.layers.Dense(1, activation="sigmoid")(inp))
    model.compile(optimizer="sgd")
    rng = np.random.RandomState(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    hist = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    losses = hist.history["loss"]
    assert len(losses) == 2 and all(np.isfinite(losses))


def test_adjusted_r2_score_in_tf_function_matches_eager():
    """R2Score(num_regressors=...) adjusts with the sample count held in a variable."""
    graph_metric = keras.metrics.R2Score(num_regressors=2)
    eager_metric = keras.metrics.R2Score(num_regressors=2)
    first, second = _inputs("regression", 1), _inputs("regression", 2)

    @tf.function
    def step(yt, yp):
        graph_metric.update_state(yt, yp)
        return graph_metric.result()

    step(*first)
    got = step(*second)
    eager_metric.update_state(*first)
    eager_metric.update_state(*second)
    _check(got, eager_metric.result(), "R2Score(num_regressors=2)")
