"""Keras compiles fit / evaluate / predict steps with tf.function by default; run_eagerly=True
turns it off; the results are identical either way."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras


def _data(n=96, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (x[:, :k].argmax(1)).astype(np.int64)
    return x, y


def _model(kind):
    keras.utils.set_random_seed(1)
    if kind == "mlp":
        return keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(4, activation="softmax")])
    if kind == "dropout":
        return keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dropout(0.3),
                                 keras.layers.Dense(4)])
    inp = keras.Input((12,))
    h = keras.layers.Dense(8, activation="tanh")(inp)
    h2 = keras.layers.Dense(8, activation="relu")(inp)
    out = keras.layers.Dense(4, activation="softmax")(keras.layers.Concatenate()([h, h2]))
    return keras.Model(inp, out)


CASES = [("mlp", "rmsprop", "sparse_categorical_crossentropy"),
         ("functional", "adam", "sparse_categorical_crossentropy"),
         ("mlp", keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")]


@pytest.mark.parametrize("kind,opt,loss", CASES)
def test_fit_evaluate_predict_identical_to_eager(kind, opt, loss):
    x, y = _data()
    results = []
    for eager in (True, False):
        model = _model(kind)
        o = opt if isinstance(opt, str) else opt.__class__.from_config(opt.get_config())
        model.compile(optimizer=o, loss=loss, metrics=["accuracy"], run_eagerly=eager)
        hist = model.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
        ev = model.evaluate(x, y, batch_size=40, verbose=0)
        pred = model.predict(x[:10], verbose=0)
        results.append((hist.history, ev, pred, [w.copy() for w in model.get_weights()]))
        if not eager:
            assert model.train_function.experimental_get_tracing_count() >= 1
            assert model.train_function.experimental_get_tracing_count() <= 2  # last batch
    (h1, e1, p1, w1), (h2, e2, p2, w2) = results
    assert h1 == h2
    assert e1 == e2
    np.testing.assert_array_equal(p1, p2)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_run_eagerly_uses_the_plain_step():
    model = _model("mlp")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True)
    x, y = _data(32)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.train_function == model.train_step
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.train_function.experimental_get_tracing_count() == 1


def test_dropout_draws_new_masks_inside_the_graph():
    model = _model("dropout")
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    x, y = _data(32)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    w0 = [w.copy() for w in model.get_weights()]
    losses = []
    for _ in range(3):
        model.set_weights(w0)
        losses.append(model.train_on_batch(x, y))
    assert len(set(losses)) > 1, "the same dropout mask each step"


def test_custom_train_step_with_tf_function_loop():
    """The seed's TensorFlow-style loop, with the step in tf.function."""
    x, y = _data(64)
    model = _model("mlp")
    model.compile(optimizer=keras.optimizers.RMSprop(), loss=keras.losses.SparseCategoricalCrossentropy())
    model(x[:2])

    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = model.loss(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    ref = _model("mlp")
    ref.compile(optimizer=keras.optimizers.RMSprop(), loss=keras.losses.SparseCategoricalCrossentropy())
    ref(x[:2])
    ref.set_weights(model.get_weights())

    def ref_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = ref.loss(yb, ref(xb, training=True))
        grads = tape.gradient(loss, ref.trainable_variables)
        ref.optimizer.apply_gradients(zip(grads, ref.trainable_variables))
        return loss

    gstep = tf.function(step)
    for i in range(0, 64, 16):
        xb, yb = tf.constant(x[i:i + 16]), tf.constant(y[i:i + 16])
        assert float(gstep(xb, yb)) == float(ref_step(xb, yb))
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
