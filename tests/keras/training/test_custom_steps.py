"""Overriding train_step / test_step as keras.io's "Customizing what happens in fit()"
(TensorFlow backend) does, and the error messages a beginner meets."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.keras import layers as L


def _xy(n=64, seed=0):
    rng = np.random.RandomState(seed)
    return rng.random((n, 32)).astype("float32"), rng.random((n, 1)).astype("float32")


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_keras_io_custom_train_step():
    inputs = keras.Input(shape=(32,))
    outputs = L.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = _xy()
    h = model.fit(x, y, epochs=3, verbose=0)
    assert set(h.history) == {"loss", "mae"}
    assert h.history["loss"][-1] < h.history["loss"][0]


loss_tracker = None


def test_keras_io_lower_level_with_metrics_property():
    loss_tracker = keras.metrics.Mean(name="loss")
    mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    class LowLevel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = keras.losses.mean_squared_error(y, y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))
            loss_tracker.update_state(loss)
            mae_metric.update_state(y, y_pred)
            return {"loss": loss_tracker.result(), "mae": mae_metric.result()}

        @property
        def metrics(self):
            return [loss_tracker, mae_metric]

    inputs = keras.Input(shape=(32,))
    model = LowLevel(inputs, L.Dense(1)(inputs))
    model.compile(optimizer="adam")
    x, y = _xy()
    h = model.fit(x, y, epochs=2, verbose=0)
    assert set(h.history) == {"loss", "mae"}
    # metrics are reset at each epoch start: epoch-2 values are not a running mean over both
    assert h.history["loss"][1] < h.history["loss"][0]


def test_keras_io_sample_weight_and_test_step():
    class SW(keras.Model):
        def train_step(self, data):
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                sample_weight = None
                x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name != "loss":
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    model = SW(inputs, L.Dense(1)(inputs))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = _xy()
    sw = np.random.random((64, 1))
    model.fit(x, y, sample_weight=sw, epochs=2, verbose=0)
    r = model.evaluate(x, y, verbose=0)
    assert len(r) == 2


def test_older_compiled_loss_and_compiled_metrics():
    class Old(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    model = Old(inputs, L.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = _xy()
    h = model.fit(x, y, epochs=1, verbose=0)
    assert "mae" in h.history


def test_gan_style_compile_override():
    class TwoOpt(keras.Model):
        def __init__(self, a, b):
            super().__init__()
            self.a, self.b = a, b
            self.a_loss = keras.metrics.Mean(name="a_loss")

        def compile(self, opt_a, opt_b):
            super().compile()
            self.opt_a, self.opt_b = opt_a, opt_b

        @property
        def metrics(self):
            return [self.a_loss]

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(self.a(x) - y))
            grads = tape.gradient(loss, self.a.trainable_weights)
            self.opt_a.apply_gradients(zip(grads, self.a.trainable_weights))
            self.a_loss.update_state(loss)
            return {"a_loss": self.a_loss.result()}

    a = keras.Sequential([keras.Input(shape=(32,)), L.Dense(1)])
    b = keras.Sequential([keras.Input(shape=(1,)), L.Dense(1)])
    m = TwoOpt(a, b)
    m.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01))
    x, y = _xy()
    h = m.fit(x, y, epochs=2, verbose=0)
    assert list(h.history) == ["a_loss"]


# ----------------------------------------------------------------------- errors
def test_fit_before_compile():
    m = keras.Sequential([keras.Input(shape=(3,)), L.Dense(1)])
    with pytest.raises(ValueError, match=r"compile\(\)"):
        m.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0)


def test_x_y_length_mismatch():
    m = keras.Sequential([keras.Input(shape=(3,)), L.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="cardinality") as e:
        m.fit(np.zeros((10, 3)), np.zeros((9, 1)), verbose=0)
    assert "10" in str(e.value) and "9" in str(e.value)


def test_integer_labels_with_categorical_crossentropy():
    m = keras.Sequential([keras.Input(shape=(3,)), L.Dense(4, activation="softmax")])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError) as e:
        m.fit(np.zeros((8, 3), "float32"), np.arange(8) % 4, verbose=0)
    msg = str(e.value)
    assert "sparse_categorical_crossentropy" in msg and "to_categorical" in msg


def test_one_hot_labels_with_sparse_crossentropy():
    m = keras.Sequential([keras.Input(shape=(3,)), L.Dense(4, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        m.fit(np.zeros((8, 3), "float32"), np.eye(4)[np.arange(8) % 4], verbose=0)


def test_wrong_input_shape_names_layer_and_shapes():
    m = keras.Sequential([keras.Input(shape=(784,)), L.Dense(10)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError) as e:
        m.fit(np.zeros((8, 28, 28), "float32"), np.zeros((8, 10)), verbose=0)
    msg = str(e.value)
    assert "784" in msg and "28, 28" in msg


def test_unknown_names_list_what_exists():
    m = keras.Sequential([keras.Input(shape=(3,)), L.Dense(1)])
    with pytest.raises(ValueError) as e:
        m.compile(optimizer="adamm", loss="mse")
    assert "adam" in str(e.value).lower()
    # unknown loss / metric names are reported by compile (issue 16), not later by fit
    with pytest.raises(ValueError) as e:
        m.compile(optimizer="sgd", loss="msee")
    assert "mse" in str(e.value).lower() or "mean_squared_error" in str(e.value)
    with pytest.raises(ValueError, match="accuracy"):
        m.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])


def test_metrics_must_be_a_list():
    m = keras.Sequential([keras.Input(shape=(3,)), L.Dense(1)])
    with pytest.raises(ValueError, match=r"\['accuracy'\]"):
        m.compile(optimizer="sgd", loss="mse", metrics="accuracy")
