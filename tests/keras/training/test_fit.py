"""compile / fit / evaluate / predict on the data kinds Keras accepts, and their semantics."""
import numpy as np

import tenfold as tf
from tenfold import keras
from tenfold.keras import layers as L


def _data(n=64, d=5, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, d).astype("float32")
    y = rng.randint(0, classes, n)
    return x, y


def _model(d=5, classes=3, seed=0, loss="sparse_categorical_crossentropy", opt=None):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input(shape=(d,)), L.Dense(8, activation="relu"),
                          L.Dense(classes, activation="softmax")])
    m.compile(optimizer=opt or keras.optimizers.SGD(learning_rate=0.1), loss=loss,
              metrics=["accuracy"])
    return m


def _same_init(a, b):
    b.set_weights(a.get_weights())


def test_fit_returns_history_with_keras_names():
    x, y = _data()
    m = _model()
    h = m.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert isinstance(h, keras.callbacks.History)
    assert m.history is h
    assert sorted(h.history) == ["accuracy", "loss"]
    assert len(h.history["loss"]) == 3 and h.epoch == [0, 1, 2]
    assert all(isinstance(v, float) for v in h.history["loss"])


def test_reported_loss_is_batch_size_weighted_mean_of_batch_losses():
    x, y = _data(n=50)
    m = _model()
    w0 = m.get_weights()
    h = m.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    # replay the epoch by hand with train_on_batch (same optimizer state evolution)
    m2 = _model()
    m2.set_weights(w0)
    losses, sizes = [], []
    for i in range(0, 50, 16):
        losses.append(m2.train_on_batch(x[i:i + 16], y[i:i + 16])[0])
        sizes.append(len(x[i:i + 16]))
    np.testing.assert_allclose(h.history["loss"][0], np.average(losses, weights=sizes),
                               rtol=1e-5)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_tensors_lists_generators_datasets_give_same_training():
    x, y = _data(n=48)
    ref = _model()
    w0 = ref.get_weights()
    ref.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)

    def check(fit_data, **kw):
        m = _model()
        m.set_weights(w0)
        m.fit(*fit_data, epochs=2, shuffle=False, verbose=0, **kw)
        for a, b in zip(m.get_weights(), ref.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    check((tf.constant(x), tf.constant(y)), batch_size=16)

    class Seq(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]
    check((Seq(),))

    class Reiterable:
        def __iter__(self):
            for i in range(0, 48, 16):
                yield x[i:i + 16], y[i:i + 16]
    check((Reiterable(),))

    def gen():
        while True:
            for i in range(0, 48, 16):
                yield x[i:i + 16], y[i:i + 16]
    check((gen(),), steps_per_epoch=3)

    try:
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    except Exception:  # the data package may not be there yet
        ds = None
    if ds is not None:
        check((ds,))


def test_validation_split_takes_last_fraction_before_shuffling():
    x, y = _data(n=40)
    m1 = _model()
    w0 = m1.get_weights()
    h1 = m1.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, shuffle=False, verbose=0)
    m2 = _model()
    m2.set_weights(w0)
    h2 = m2.fit(x[:30], y[:30], epochs=2, batch_size=8, validation_data=(x[30:], y[30:]),
                shuffle=False, verbose=0)
    for k in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h1.history[k], h2.history[k], rtol=1e-6)
    # with shuffling, validation rows are still the last ones: val metrics of epoch 1 equal
    m3 = _model()
    m3.set_weights(w0)
    h3 = m3.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, shuffle=True, verbose=0)
    m4 = _model()
    m4.set_weights(m3.get_weights())
    np.testing.assert_allclose(h3.history["val_loss"][0],
                               m4.evaluate(x[30:], y[30:], verbose=0)[0], rtol=1e-5)


def test_validation_freq_and_batch_size():
    x, y = _data(n=32)
    m = _model()
    h = m.fit(x, y, epochs=4, batch_size=8, validation_data=(x, y), validation_freq=2,
              validation_batch_size=5, verbose=0)
    assert len(h.history["val_loss"]) == 2
    assert len(h.history["loss"]) == 4


def test_class_weight_equals_sample_weight():
    x, y = _data(n=40)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    m1 = _model()
    w0 = m1.get_weights()
    h1 = m1.fit(x, y, epochs=2, batch_size=8, class_weight=cw, shuffle=False, verbose=0)
    m2 = _model()
    m2.set_weights(w0)
    sw = np.array([cw[int(c)] for c in y], "float32")
    h2 = m2.fit(x, y, epochs=2, batch_size=8, sample_weight=sw, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    m3 = _model()
    m3.set_weights(w0)
    h3 = m3.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert not np.allclose(h1.history["loss"], h3.history["loss"])


def test_sample_weight_zero_ignores_samples():
    x, y = _data(n=16)
    m = _model()
    w0 = m.get_weights()
    sw = np.ones(16, "float32")
    sw[8:] = 0
    r_weighted = m.evaluate(x, y, sample_weight=sw, batch_size=16, verbose=0)
    # sum_over_batch_size: weighted sum / batch size
    m2 = _model()
    m2.set_weights(w0)
    r_half = m2.evaluate(x[:8], y[:8], batch_size=8, verbose=0)
    np.testing.assert_allclose(r_weighted[0], r_half[0] / 2, rtol=1e-5)


def test_initial_epoch_and_steps_per_epoch():
    x, y = _data(n=64)
    m = _model()
    h = m.fit(x, y, epochs=5, initial_epoch=3, batch_size=16, verbose=0)
    assert h.epoch == [3, 4]
    seen = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    m.fit(x, y, epochs=2, steps_per_epoch=2, batch_size=16, verbose=0, callbacks=[cb])
    assert seen == [0, 1, 0, 1]


def test_evaluate_return_types():
    x, y = _data()
    m = _model()
    r = m.evaluate(x, y, verbose=0)
    assert isinstance(r, list) and len(r) == 2
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert set(d) == {"loss", "accuracy"}
    np.testing.assert_allclose(r, [d["loss"], d["accuracy"]])
    m2 = keras.Sequential([keras.Input(shape=(5,)), L.Dense(1)])
    m2.compile(optimizer="sgd", loss="mse")
    r2 = m2.evaluate(x, y.astype("float32"), verbose=0)
    assert isinstance(r2, float)


def test_accuracy_resolution_by_shapes():
    x, y = _data(n=20)
    for loss, yy, want in (("sparse_categorical_crossentropy", y, "SparseCategoricalAccuracy"),
                           ("categorical_crossentropy", keras.utils.to_categorical(y, 3),
                            "CategoricalAccuracy")):
        m = _model(loss=loss)
        m.fit(x, yy, epochs=1, verbose=0)
        names = [type(mm).__name__ for mm in m._compile_metrics.metrics]
        assert names == [want]
    b = keras.Sequential([keras.Input(shape=(5,)), L.Dense(1, activation="sigmoid")])
    b.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["acc"])
    h = b.fit(x, (y > 0).astype("float32"), epochs=1, verbose=0)
    assert "acc" in h.history
    assert type(b._compile_metrics.metrics[0]).__name__ == "BinaryAccuracy"


def test_predict_concatenates_and_keeps_structure():
    x, _ = _data(n=70)
    m = _model()
    p = m.predict(x, batch_size=32, verbose=0)
    assert isinstance(p, np.ndarray) and p.shape == (70, 3)
    np.testing.assert_allclose(p, m(x).numpy(), rtol=1e-5, atol=1e-6)
    inp = keras.Input(shape=(5,))
    dm = keras.Model(inp, {"a": L.Dense(2)(inp), "b": L.Dense(1)(inp)})
    out = dm.predict(x, batch_size=16, verbose=0)
    assert out["a"].shape == (70, 2) and out["b"].shape == (70, 1)


def test_on_batch_methods():
    x, y = _data(n=8)
    m = _model()
    r = m.train_on_batch(x, y)
    assert isinstance(r, list) and len(r) == 2
    d = m.test_on_batch(x, y, return_dict=True)
    assert set(d) == {"loss", "accuracy"}
    p = m.predict_on_batch(x)
    assert isinstance(p, np.ndarray) and p.shape == (8, 3)


def test_multi_input_multi_output_dicts():
    rng = np.random.RandomState(0)
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2,), name="b")
    h = L.Dense(4, activation="relu")(L.Concatenate()([a, b])) if hasattr(L, "Concatenate") \
        else L.Dense(4, activation="relu")(a)
    out1 = L.Dense(1, name="score")(h)
    out2 = L.Dense(3, activation="softmax", name="cls")(h)
    m = keras.Model([a, b], [out1, out2])
    m.compile(optimizer="adam", loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
              loss_weights={"score": 0.5, "cls": 1.0}, metrics={"cls": ["accuracy"]})
    xa, xb = rng.rand(30, 3).astype("float32"), rng.rand(30, 2).astype("float32")
    ys, yc = rng.rand(30, 1).astype("float32"), rng.randint(0, 3, 30)
    h = m.fit({"a": xa, "b": xb}, {"score": ys, "cls": yc}, epochs=2, batch_size=10,
              verbose=0)
    assert set(h.history) == {"loss", "score_loss", "cls_loss", "cls_accuracy"}
    np.testing.assert_allclose(h.history["loss"][-1] * 0 + 1, 1)
    ev = m.evaluate([xa, xb], [ys, yc], verbose=0, return_dict=True)
    np.testing.assert_allclose(ev["loss"], 0.5 * ev["score_loss"] + ev["cls_loss"], rtol=1e-5)


def test_regularization_loss_is_included():
    x, y = _data(n=20)
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input(shape=(5,)),
                          L.Dense(3, kernel_regularizer=keras.regularizers.L2(0.1))])
    m.compile(optimizer="sgd", loss="mse")
    yy = np.random.rand(20, 3).astype("float32")
    got = m.evaluate(x, yy, batch_size=20, verbose=0)
    k, b = m.get_weights()
    want = np.mean((x @ k + b - yy) ** 2) + 0.1 * np.sum(k ** 2)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_run_eagerly_and_step_functions_are_plain_callables():
    x, y = _data(n=16)
    m = _model()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True,
              steps_per_execution=4, jit_compile=False)
    assert m.run_eagerly
    m.fit(x, y, epochs=1, verbose=0)
    fn = m.make_train_function()
    logs = fn((tf.constant(x), tf.constant(y)))
    assert "loss" in logs
    assert callable(m.make_test_function()) and callable(m.make_predict_function())


def test_model_loss_and_optimizer_are_usable_in_a_custom_loop():
    x, y = _data(n=16)
    m = _model(loss=keras.losses.SparseCategoricalCrossentropy())
    yv = tf.constant(y)
    with tf.GradientTape() as tape:
        loss = m.loss(yv, m(x))
    grads = tape.gradient(loss, m.trainable_variables)
    before = m.get_weights()[0].copy()
    m.optimizer.apply_gradients(zip(grads, m.trainable_variables))
    assert not np.allclose(before, m.get_weights()[0])
    m2 = _model(loss="sparse_categorical_crossentropy")
    assert m2.loss == "sparse_categorical_crossentropy"
    assert float(m2.loss(yv, m2(x))) > 0


def test_verbose_output(capsys):
    x, y = _data(n=32)
    m = _model()
    m.fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines[0] == "Epoch 1/2"
    assert lines[1].startswith("2/2 ") and "accuracy:" in lines[1] and "loss:" in lines[1]
    assert len(lines) == 4  # not a terminal: one line per epoch
    m.fit(x, y, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out
    assert out.count("2/2 - ") == 2
    m.fit(x, y, epochs=1, verbose=0)
    m.evaluate(x, y, verbose=0)
    m.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
