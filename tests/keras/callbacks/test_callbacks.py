"""Callbacks with Keras 3 defaults and semantics."""
import csv
import math

import numpy as np
import pytest

from tenfold import keras
from tenfold.keras import layers as L


def _setup(lr=0.1, n=32):
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = rng.rand(n, 4).astype("float32")
    y = (x.sum(1, keepdims=True)).astype("float32")
    m = keras.Sequential([keras.Input(shape=(4,)), L.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return m, x, y


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin{epoch}")

    def on_train_batch_end(self, batch, logs=None):
        assert isinstance(logs["loss"], float)
        self.events.append(f"batch{batch}")

    def on_test_begin(self, logs=None):
        self.events.append("test_begin")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end{epoch}:{sorted(logs)}")

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_hook_order_and_logs():
    m, x, y = _setup()
    r = Recorder()
    m.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y), callbacks=[r], verbose=0)
    assert r.events[:4] == ["train_begin", "epoch_begin0", "batch0", "batch1"]
    assert r.events[4] == "test_begin"
    assert r.events[5] == "epoch_end0:['loss', 'mae', 'val_loss', 'val_mae']"
    assert r.events[-1] == "train_end"
    assert r.model is m and r.params["epochs"] == 2 and r.params["steps"] == 2


def test_early_stopping_patience_and_restore_best_weights():
    m, x, y = _setup(lr=0.1)
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    snapshots = []

    class Fake(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(losses)
            snapshots.append([w.copy() for w in self.model.get_weights()])
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                       restore_best_weights=True)
    h = m.fit(x, y, epochs=6, callbacks=[Fake(), es], verbose=0)
    assert len(h.history["loss"]) == 4  # best at epoch 1, stops after 2 more
    assert es.stopped_epoch == 3 and es.best_epoch == 1
    for a, b in zip(m.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_baseline_start_from_epoch_min_delta_and_mode():
    class Flat(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = 1.0
    es = keras.callbacks.EarlyStopping(monitor="val_loss", baseline=0.5, patience=1)
    m, x, y = _setup()
    h = m.fit(x, y, epochs=5, callbacks=[Flat(), es], verbose=0)
    assert len(h.history["loss"]) == 2  # never beats the baseline
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=0, start_from_epoch=3,
                                       min_delta=100.0)
    m, x, y = _setup()
    h = m.fit(x, y, epochs=6, callbacks=[es], verbose=0)
    assert len(h.history["loss"]) == 5
    es = keras.callbacks.EarlyStopping(monitor="mae")
    m, x, y = _setup()
    m.fit(x, y, epochs=1, callbacks=[es], verbose=0)
    assert es.monitor_op(0, 1)  # mae is minimised
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy")
    es.set_model(m)
    es._set_monitor_op()
    assert es.monitor_op(1, 0)  # accuracy is maximised


def test_reduce_lr_on_plateau_defaults_and_cooldown():
    rl = keras.callbacks.ReduceLROnPlateau()
    assert (rl.factor, rl.patience, rl.min_delta, rl.cooldown, rl.min_lr) == \
        (0.1, 10, 1e-4, 0, 0.0)
    m, x, y = _setup(lr=1.0)
    vals = iter([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])

    class Flat(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(vals)
    rl = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    h = m.fit(x, y, epochs=6, callbacks=[Flat(), rl], verbose=0)
    lrs = h.history["learning_rate"]
    # logged before that epoch's reduction (as Keras): reduce at 1, cooldown, 2, 3 (min_lr)
    np.testing.assert_allclose(lrs, [1.0, 1.0, 0.5, 0.25, 0.2, 0.2], rtol=1e-6)
    with pytest.raises(ValueError):
        keras.callbacks.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler():
    m, x, y = _setup(lr=0.1)
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    h = m.fit(x, y, epochs=3, callbacks=[sched], verbose=0)
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.05, 0.025], rtol=1e-6)
    m, x, y = _setup(lr=0.1)
    sched = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    m.fit(x, y, epochs=2, callbacks=[sched], verbose=0)
    assert math.isclose(float(np.asarray(m.optimizer.learning_rate)), 0.02, rel_tol=1e-6)


def test_terminate_on_nan():
    m, x, y = _setup(lr=1e6)
    y = y * 1e20
    h = m.fit(x, y, epochs=5, batch_size=4, callbacks=[keras.callbacks.TerminateOnNaN()],
              verbose=0)
    assert len(h.history["loss"]) == 1
    assert m.stop_training


def test_lambda_callback_and_stop_training():
    m, x, y = _setup()
    seen = []

    def stop(epoch, logs):
        seen.append(epoch)
        if epoch == 1:
            m.stop_training = True
    cb = keras.callbacks.LambdaCallback(on_epoch_end=stop,
                                        on_batch_end=lambda b, logs: seen.append("b"))
    h = m.fit(x, y, epochs=5, batch_size=32, callbacks=[cb], verbose=0)
    assert seen == ["b", 0, "b", 1]
    assert len(h.history["loss"]) == 2


def test_csv_logger(tmp_path):
    m, x, y = _setup()
    path = tmp_path / "log.csv"
    m.fit(x, y, epochs=2, validation_data=(x, y),
          callbacks=[keras.callbacks.CSVLogger(str(path))], verbose=0)
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert set(rows[0]) == {"epoch", "loss", "mae", "val_loss", "val_mae"}
    m.fit(x, y, epochs=1, callbacks=[keras.callbacks.CSVLogger(str(path), append=True)],
          verbose=0)
    assert len(list(csv.DictReader(open(path)))) == 3


def test_callback_class_instead_of_instance_is_explained():
    m, x, y = _setup()
    with pytest.raises(TypeError, match="instance"):
        m.fit(x, y, callbacks=[keras.callbacks.EarlyStopping], verbose=0)


def test_evaluate_and_predict_callbacks():
    m, x, y = _setup()
    events = []
    cb = keras.callbacks.LambdaCallback(
        on_test_begin=lambda logs: events.append("tb"),
        on_test_end=lambda logs: events.append(("te", sorted(logs))),
        on_predict_end=lambda logs: events.append("pe"))
    m.evaluate(x, y, callbacks=[cb], verbose=0)
    m.predict(x, callbacks=[cb], verbose=0)
    assert events == ["tb", ("te", ["loss", "mae"]), "pe"]
