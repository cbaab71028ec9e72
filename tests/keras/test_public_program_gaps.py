"""Gaps that public Keras programs (keras.io guides and examples, run through
tools/run_programs.py) exposed, each checked against Keras 3 / TensorFlow 2.21 behaviour."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

TEXTS = np.array([["This is the 1st sample."], ["And here's the 2nd sample."]])


@pytest.mark.parametrize("old, new", [("binary", "multi_hot")])
def test_text_vectorization_accepts_keras2_mode_names(old, new):
    # Keras 3 still accepts "binary" and stores it as "multi_hot".
    legacy = keras.layers.TextVectorization(output_mode=old, ngrams=2)
    legacy.adapt(TEXTS)
    current = keras.layers.TextVectorization(output_mode=new, ngrams=2)
    current.adapt(TEXTS)
    assert legacy.output_mode == new
    assert legacy.get_config()["output_mode"] == new
    np.testing.assert_array_equal(legacy(TEXTS).numpy(), current(TEXTS).numpy())
    # Each sample's unigrams and bigrams are marked once; the OOV slot stays 0.
    out = legacy(TEXTS).numpy()
    assert out.shape == (2, len(legacy.get_vocabulary()))
    assert set(np.unique(out)) <= {0, 1} and out[:, 0].sum() == 0


def test_lookup_accepts_tf_idf_with_a_dash():
    layer = keras.layers.StringLookup(output_mode="tf-idf", vocabulary=["a", "b"],
                                      idf_weights=[1.0, 2.0])
    assert layer.output_mode == "tf_idf"
    np.testing.assert_allclose(layer(["b", "b", "a"]).numpy(),
                               keras.layers.StringLookup(output_mode="tf_idf",
                                                         vocabulary=["a", "b"],
                                                         idf_weights=[1.0, 2.0])(
                                   ["b", "b", "a"]).numpy())


def test_unknown_mode_still_names_the_layer():
    with pytest.raises(ValueError, match="unknown output_mode 'bits'"):
        keras.layers.StringLookup(output_mode="bits")


class _RecordsData(keras.Model):
    """Records what `fit` hands to `train_step`, then does a real update on `x`."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        self.seen.append(data)
        x = data if not isinstance(data, tuple) else data[0]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x)))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"loss": loss}


def _fit_and_record(*args, **kwargs):
    model = _RecordsData()
    model.compile(optimizer="sgd")
    model.fit(*args, epochs=1, verbose=0, **kwargs)
    return model.seen


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_train_step_gets_x_alone_without_targets(run_eagerly):
    # Keras 3 packs a batch without targets as `x` itself (pack_x_y_sample_weight), which the
    # keras.io VAE relies on: `keras.losses.binary_crossentropy(data, reconstruction)`.
    x = np.random.RandomState(0).rand(8, 3).astype("float32")
    model = _RecordsData()
    model.compile(optimizer="sgd", run_eagerly=run_eagerly)
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    assert all(isinstance(d, tf.Tensor) and tuple(d.shape) in ((4, 3), (None, 3))
               for d in model.seen)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    assert all(isinstance(d, tf.Tensor) for d in _fit_and_record(ds))


def test_train_step_keeps_tuples_and_targets():
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 1), "float32")
    seen = _fit_and_record(x, y, batch_size=4)
    assert isinstance(seen[0], tuple) and len(seen[0]) == 2
    # A dataset that yields a 1-tuple keeps it, as tf.data does for Keras.
    ds = tf.data.Dataset.from_tensor_slices((x,)).batch(4)
    seen = _fit_and_record(ds)
    assert isinstance(seen[0], tuple) and len(seen[0]) == 1


def test_loss_on_the_batch_inside_a_compiled_train_step():
    class AutoEncoder(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3, activation="sigmoid")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(keras.losses.binary_crossentropy(data, self(data)))
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"loss": loss}

    x = np.random.RandomState(1).rand(16, 3).astype("float32")
    model = AutoEncoder()
    model.compile(optimizer="adam")
    history = model.fit(x, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_add_metric_raises_what_keras3_raises():
    # tf.keras 2 programs call Layer.add_metric; Keras 3 raises NotImplementedError naming the
    # replacement, and so do we (not an AttributeError).
    class Logs(keras.layers.Layer):
        def call(self, x):
            self.add_metric(tf.reduce_mean(x), name="mean")
            return x

    with pytest.raises(NotImplementedError, match=r"(?s)Logs \"logs.*add_metric\(\)"
                                                  r".*Model.compile\(metrics="):
        Logs()(np.ones((2, 2), "float32"))


@pytest.mark.parametrize("targets, hint", [
    (np.random.random((8,)), "as many units"),            # float targets: not class labels
    (np.arange(8) % 10, "integer class labels"),
])
def test_target_shape_hint_names_labels_only_for_integer_targets(targets, hint):
    # guides/customizing_saving_and_serialization.py: a (8, 10) output against (8,) float
    # targets under MSE fails on TF too (incompatible shapes); tenfold's hint must not call
    # float targets class labels.
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    with pytest.raises(ValueError, match="incompatible with the model output") as err:
        model.fit(np.random.random((8, 10)), targets, verbose=0)
    assert hint in str(err.value)
    other = "integer class labels" if hint == "as many units" else "as many units"
    assert other not in str(err.value)


def _standardized_conv_classes(keras):
    """Weight-standardized convolutions written the two ways keras.io's recipe writes them:
    overriding Keras 3's `convolution_op`, and a `call()` that calls it."""
    ops = keras.ops

    def standardize(kernel):
        mean, var = ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
        return (kernel - mean) / ops.sqrt(var + 1e-10)

    class ByOp(keras.layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            return super().convolution_op(inputs, standardize(kernel))

    class ByCall(keras.layers.Conv2D):
        def call(self, inputs):
            out = self.convolution_op(inputs, standardize(self.kernel))
            return out + self.bias if self.use_bias else out

    return ByOp, ByCall


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_convolution_op_is_the_hook_keras_documents(data_format):
    import os
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    import keras as real_keras
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 7)).astype("float32")
    if data_format == "channels_last":
        x = x.transpose(0, 2, 3, 1)
    pairs = list(zip(_standardized_conv_classes(keras), _standardized_conv_classes(real_keras)))
    if data_format == "channels_first":
        pairs = pairs[:1]   # the call() variant adds its bias channels-last, as the recipe does
    for ours, theirs in pairs:
        kw = dict(filters=4, kernel_size=3, strides=2, activation="relu",
                  data_format=data_format)
        a, b = ours(**kw), theirs(**kw)
        a(x), b(x)
        w = [np.random.default_rng(1).normal(size=v.shape).astype("float32")
             for v in b.get_weights()]
        a.set_weights(w), b.set_weights(w)
        np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), rtol=1e-4, atol=1e-5)


def test_convolution_op_on_a_layer_without_it_names_the_layer():
    layer = keras.layers.DepthwiseConv2D(3, name="dw")
    layer.build((None, 5, 5, 2))
    with pytest.raises(NotImplementedError, match="DepthwiseConv2D 'dw'"):
        layer.convolution_op(np.zeros((1, 5, 5, 2), "float32"), layer.kernel)
