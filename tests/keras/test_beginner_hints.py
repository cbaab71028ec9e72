"""The mistakes new users make first are explained where they happen, with the fix."""
import warnings

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.framework.errors import InvalidArgumentError
from tenfold.keras.engine.beginner_hints import InputRankWarning, LossExplosionWarning


def _mlp():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])


# --- a single sample without its batch axis ----------------------------------------------

def test_predict_single_sample_says_add_batch_axis():
    model = _mlp()
    x = np.zeros(784, "float32")
    with pytest.raises(ValueError, match=r"single sample of shape \(784,\).*x\[None\].*"
                                         r"np\.expand_dims\(x, 0\)"):
        model.predict(x, verbose=0)
    assert model.predict(x[None], verbose=0).shape == (1, 10)  # the fix works


def test_predict_single_image_functional():
    inp = keras.Input((28, 28))
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    with pytest.raises(ValueError, match=r"\(28, 28\).*batches of shape \(None, 28, 28\)"):
        model.predict(np.zeros((28, 28), "float32"), verbose=0)
    assert model.predict(np.zeros((5, 28, 28), "float32"), verbose=0).shape == (5, 3)


def test_one_feature_batch_is_not_mistaken_for_a_sample():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputRankWarning)
        assert model.predict(np.zeros(6, "float32"), verbose=0).shape == (6, 1)


# --- images without the channel axis ---------------------------------------------------------

def _convnet():
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3),
                             keras.layers.Flatten(), keras.layers.Dense(3)])


def test_missing_channel_axis_accepted_and_said_once():
    # Keras 3 adds the trailing axis of size 1 (Functional._adjust_input_rank); same numbers
    model = _convnet()
    x = np.random.default_rng(0).random((4, 28, 28)).astype("float32")
    with pytest.warns(InputRankWarning, match=r"\(4, 28, 28\).*channel axis.*x\[\.\.\., None\]"):
        a = model.predict(x, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRankWarning)  # said once: no second warning
        b = model.predict(x, verbose=0)
        c = model.predict(x[..., None], verbose=0)
    np.testing.assert_allclose(a, c)
    np.testing.assert_allclose(b, c)


def test_keras3_also_accepts_missing_channel_axis():
    import keras as real_keras  # the oracle (numpy backend): same acceptance, same numbers
    ref = real_keras.Sequential([real_keras.Input((28, 28, 1)), real_keras.layers.Conv2D(2, 3),
                                 real_keras.layers.Flatten(), real_keras.layers.Dense(3)])
    model = _convnet()
    model.set_weights(ref.get_weights())
    x = np.random.default_rng(1).random((2, 28, 28)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputRankWarning)
        np.testing.assert_allclose(model.predict(x, verbose=0), ref.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-5)


def test_unbuilt_conv_refuses_with_the_reshape():
    model = keras.Sequential([keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"channel axis.*\(n, 28, 28, 1\).*x\[\.\.\., None\]"):
        model.predict(np.zeros((4, 28, 28), "float32"), verbose=0)


# --- unknown names: "did you mean" at compile ----------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    ({"optimizer": "adamm", "loss": "mse"}, "Did you mean 'adam'"),
    ({"optimizer": "rmsprob", "loss": "mse"}, "Did you mean 'rmsprop'"),
    ({"optimizer": "adam", "loss": "sparse_categorical_crossentropyy"},
     "unknown loss.*Did you mean 'sparse_categorical_crossentropy'"),
    ({"optimizer": "adam", "loss": "mean_squared_eror"},
     "Did you mean 'mean_squared_error'"),
    ({"optimizer": "adam", "loss": "mse", "metrics": ["acuracy"]},
     "unknown metric 'acuracy'.*Did you mean 'accuracy'"),
    ({"optimizer": "adam", "loss": "mse", "metrics": {"dense": ["mae", "precison"]}},
     "Did you mean 'precision'"),
    ({"optimizer": "adam", "loss": "mse", "weighted_metrics": ["categorical_acuracy"]},
     "Did you mean 'categorical_accuracy'"),
])
def test_compile_names_checked_at_compile(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _mlp().compile(**kwargs)


def test_valid_names_still_compile():
    model = _mlp()
    model.compile(optimizer="adam", loss="crossentropy", metrics=["accuracy", "acc", "mae", "AUC"])
    model.compile(optimizer="sgd", loss={"dense": "mse"}, metrics={"dense": ["mse"]})


def test_unknown_activation_did_you_mean():
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        keras.layers.Dense(3, activation="rellu")
    with pytest.raises(ValueError, match="Did you mean 'softmax'"):
        keras.layers.Dense(3, activation="softmaxx")


# --- an exploding loss ---------------------------------------------------------------------

def _regression(lr):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32") * 10
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model, x, y


def test_exploding_loss_warns_once_with_epoch_and_lower_lr():
    model, x, y = _regression(lr=0.05)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    mine = [w for w in caught if issubclass(w.category, LossExplosionWarning)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    msg = str(mine[0].message)
    losses = history.history["loss"]
    first_bad = next(i for i, v in enumerate(losses)
                     if not np.isfinite(v) or v > 100 * min(losses[:i] or [np.inf])) + 1
    assert f"epoch {first_bad}" in msg
    assert "learning rate (0.05)" in msg and "SGD(learning_rate=0.005)" in msg


def test_nan_loss_warns():
    model, x, y = _regression(lr=1e4)  # inf within the first epoch (8 steps)
    with pytest.warns(LossExplosionWarning, match=r"became (nan|inf) at epoch 1\b"):
        with np.errstate(all="ignore"):
            model.fit(x, y, epochs=2, batch_size=8, verbose=0)


def test_healthy_training_does_not_warn():
    model, x, y = _regression(lr=0.001)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LossExplosionWarning)
        model.fit(x, y, epochs=5, batch_size=16, verbose=0)


# --- dtype mismatch at the TF level --------------------------------------------------------

def test_uint8_images_into_float_matmul_names_shapes_cast_and_reshape():
    images = tf.constant(np.zeros((4, 28, 28), "uint8"))
    w = tf.Variable(tf.zeros([784, 10]))
    with pytest.raises(InvalidArgumentError) as info:
        tf.matmul(images, w)
    msg = str(info.value)
    assert "uint8 (shape [4, 28, 28])" in msg and "float32 (shape [784, 10])" in msg
    assert "tf.cast(x, tf.float32) / 255" in msg
    assert "tf.reshape(x, [-1, 784])" in msg
    assert "tf.reshape(tf.cast(x, tf.float32) / 255, [-1, 784])" in msg
    fixed = tf.matmul(tf.reshape(tf.cast(images, tf.float32) / 255, [-1, 784]), w)
    assert fixed.shape == [4, 10]


def test_uint8_right_shape_only_suggests_cast():
    with pytest.raises(InvalidArgumentError) as info:
        tf.constant(np.zeros((4, 784), "uint8")) @ tf.zeros([784, 10])
    msg = str(info.value)
    assert "Cast the first input: tf.cast(x, tf.float32)" in msg and "reshape" not in msg


def test_int_second_operand_named():
    with pytest.raises(InvalidArgumentError, match="Cast the second input: tf.cast\\(y, "
                                                   "tf.float32\\)"):
        tf.add(tf.zeros([2]), tf.constant([1, 2]))


def test_string_labels_say_how_to_map_them():
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    y = np.array(["cat", "dog"] * 4)
    with pytest.raises(ValueError, match=r"strings \(for example 'cat'\).*np\.unique\(y, "
                                         r"return_inverse=True\).*StringLookup"):
        model.fit(np.zeros((8, 784), "float32"), y, verbose=0)
    names, codes = np.unique(y, return_inverse=True)  # the fix works
    model.fit(np.zeros((8, 784), "float32"), codes, verbose=0)
