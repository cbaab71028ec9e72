"""initializers, activations, regularizers and constraints against Keras 3."""
import numpy as np
import pytest

from layers_oracle import keras_module, to_np
import tenfold as tf
from tenfold.keras import activations, constraints, initializers, regularizers
from tenfold.keras import layers as L

rng = np.random.default_rng(0)


# ------------------------------------------------------------------------------ initializers
INIT_NAMES = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
              "lecun_normal", "random_uniform", "random_normal", "truncated_normal", "zeros",
              "ones", "orthogonal", "uniform", "normal", "identity", "variance_scaling"]


@pytest.mark.parametrize("name", INIT_NAMES)
def test_initializer_by_name_and_config_match_keras(name):
    keras = keras_module()
    ti, ki = initializers.get(name), keras.initializers.get(name)
    assert type(ti).__name__ == type(ki).__name__ or \
        type(ti).__name__ + "Initializer" == type(ki).__name__
    assert ti.get_config() == ki.get_config() or name == "identity"
    assert initializers.serialize(ti)["class_name"] in (type(ki).__name__,
                                                       type(ki).__name__.replace(
                                                           "Initializer", ""))
    again = initializers.deserialize(keras.initializers.serialize(ki))
    assert again.get_config() == ti.get_config()


@pytest.mark.parametrize("cls, shape, mean, std", [
    ("GlorotUniform", (200, 300), 0.0, np.sqrt(2 / 500)),
    ("GlorotNormal", (200, 300), 0.0, np.sqrt(2 / 500)),
    ("HeNormal", (3, 3, 40, 30), 0.0, np.sqrt(2 / 360)),
    ("HeUniform", (400, 100), 0.0, np.sqrt(2 / 400)),
    ("LecunNormal", (400, 100), 0.0, np.sqrt(1 / 400)),
    ("LecunUniform", (400, 100), 0.0, np.sqrt(1 / 400)),
    ("RandomUniform", (300, 300), 0.0, 0.1 / np.sqrt(12)),
    ("RandomNormal", (300, 300), 0.0, 0.05),
    ("TruncatedNormal", (300, 300), 0.0, 0.05 * 0.8796256610342398),
])
def test_initializer_distributions(cls, shape, mean, std):
    keras = keras_module()
    w = to_np(getattr(initializers, cls)()(shape))
    kw = np.asarray(getattr(keras.initializers, cls)()(shape))
    assert w.shape == shape and w.dtype == np.float32
    assert abs(w.mean() - mean) < 4 * std / np.sqrt(w.size) + 1e-4
    np.testing.assert_allclose(w.std(), std, rtol=0.03)
    np.testing.assert_allclose(w.std(), kw.std(), rtol=0.04)
    if cls != "RandomNormal":  # bounded distributions: same support
        assert np.abs(w).max() <= np.abs(kw).max() * 1.1 + 1e-6


def test_compute_fans_match_keras():
    keras = keras_module()
    from keras.src.initializers.random_initializers import compute_fans as kfans
    for shape in [(), (5,), (3, 4), (3, 3, 2, 8), (2, 5, 6)]:
        assert initializers.compute_fans(shape) == kfans(shape)
    _ = keras


def test_initializers_reproducible_with_global_and_op_seed():
    tf.random.set_seed(3)
    a = to_np(initializers.GlorotUniform()((4, 4)))
    b = to_np(initializers.GlorotUniform()((4, 4)))
    tf.random.set_seed(3)
    a2 = to_np(initializers.GlorotUniform()((4, 4)))
    b2 = to_np(initializers.GlorotUniform()((4, 4)))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, b)
    s1 = to_np(initializers.HeNormal(seed=7)((3, 3)))
    s2 = to_np(initializers.HeNormal(seed=7)((3, 3)))
    np.testing.assert_array_equal(s1, s2)
    # layers built after set_seed start from the same weights
    tf.random.set_seed(11)
    w1 = L.Dense(3)(np.ones((1, 4), "float32")) * 0 + 1
    d1 = L.Dense(3)
    d1.build((None, 4))
    tf.random.set_seed(11)
    _ = L.Dense(3)(np.ones((1, 4), "float32"))
    d2 = L.Dense(3)
    d2.build((None, 4))
    np.testing.assert_array_equal(d1.kernel.numpy(), d2.kernel.numpy())
    _ = w1


def test_orthogonal_identity_constant():
    q = to_np(initializers.Orthogonal(gain=2.0)((6, 4)))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    q = to_np(initializers.Orthogonal()((3, 3, 2, 5)))
    f = q.reshape(-1, 5)
    np.testing.assert_allclose(f.T @ f, np.eye(5), atol=1e-5)
    np.testing.assert_array_equal(to_np(initializers.Identity(3.0)((2, 3))), 3 * np.eye(2, 3))
    np.testing.assert_array_equal(to_np(initializers.Constant(2)((2,), dtype="int32")), [2, 2])
    with pytest.raises(ValueError, match="2-D"):
        initializers.Identity()((2, 2, 2))


def test_initializer_errors_and_callables():
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.get("glorot")
    fn = lambda shape, dtype=None: np.full(shape, 0.5, "float32")  # noqa: E731
    assert initializers.get(fn) is fn
    d = L.Dense(2, kernel_initializer=fn)
    d.build((None, 3))
    np.testing.assert_array_equal(d.kernel.numpy(), 0.5)


# ------------------------------------------------------------------------------ activations
ACTS = ["relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "gelu", "silu", "swish",
        "softplus", "softsign", "leaky_relu", "relu6", "exponential", "hard_sigmoid",
        "log_softmax", "mish", "hard_silu", "celu", "log_sigmoid", "hard_tanh", "tanh_shrink",
        "squareplus", "soft_shrink", "hard_shrink", "sparse_plus", "glu"]


@pytest.mark.parametrize("name", ACTS)
def test_activation_values_match_keras(name):
    keras = keras_module()
    x = (rng.standard_normal((4, 6)) * 3).astype("float32")
    ours = to_np(activations.get(name)(tf.constant(x)))
    theirs = np.asarray(keras.activations.get(name)(x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert activations.serialize(activations.get(name)) == \
        keras.activations.serialize(keras.activations.get(name))


@pytest.mark.parametrize("kwargs", [dict(negative_slope=0.1), dict(max_value=2.0),
                                    dict(threshold=0.5), dict(negative_slope=0.2,
                                                              max_value=3.0, threshold=1.0)])
def test_relu_arguments_match_keras(kwargs):
    keras = keras_module()
    x = np.linspace(-4, 4, 17).astype("float32")
    np.testing.assert_allclose(to_np(activations.relu(x, **kwargs)),
                               np.asarray(keras.activations.relu(x, **kwargs)), atol=1e-6)


def test_activation_get_and_errors():
    assert activations.get(None) is activations.linear
    assert activations.deserialize("relu") is activations.relu
    with pytest.raises(ValueError, match="Unknown activation"):
        activations.get("rleu")
    assert activations.serialize(activations.swish) == "silu"


# ------------------------------------------------------------------------------ regularizers
@pytest.mark.parametrize("make", [
    lambda m: m.L1(0.3), lambda m: m.L2(0.2), lambda m: m.L1L2(l1=0.1, l2=0.05),
    lambda m: m.OrthogonalRegularizer(0.5),
])
def test_regularizer_values_and_configs_match_keras(make):
    keras = keras_module()
    w = rng.standard_normal((5, 4)).astype("float32")
    ours, theirs = make(regularizers), make(keras.regularizers)
    np.testing.assert_allclose(float(to_np(ours(tf.constant(w)))), float(theirs(w)),
                               rtol=1e-5)
    assert ours.get_config().keys() == theirs.get_config().keys()
    again = regularizers.deserialize(keras.regularizers.serialize(theirs))
    np.testing.assert_allclose(float(to_np(again(w))), float(theirs(w)), rtol=1e-5)


def test_orthogonal_regularizer_columns():
    w = rng.standard_normal((5, 4))
    n = w / np.linalg.norm(w, axis=0, keepdims=True)
    p = n.T @ n
    expected = 0.5 * np.abs(p - np.diag(np.diag(p))).sum() / (4 * 3)
    got = float(to_np(regularizers.OrthogonalRegularizer(0.5, "columns")(tf.constant(w))))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_regularizers_in_layer_losses():
    d = L.Dense(3, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5),
                activity_regularizer="l1")
    x = np.ones((2, 4), "float32")
    y = d(x)
    losses = [float(to_np(v)) for v in d.losses]
    k, b = d.get_weights()
    # Keras 3 divides the activity regularization by the batch size (here 2).
    expected = sorted([0.01 * np.sum(k ** 2), 0.5 * np.sum(np.abs(b)),
                       0.01 * np.sum(np.abs(to_np(y))) / 2])
    np.testing.assert_allclose(sorted(losses), expected, rtol=1e-5)
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}


# ------------------------------------------------------------------------------ constraints
@pytest.mark.parametrize("make", [
    lambda m: m.MaxNorm(1.5), lambda m: m.MaxNorm(0.5, axis=1), lambda m: m.NonNeg(),
    lambda m: m.UnitNorm(axis=1), lambda m: m.MinMaxNorm(0.5, 1.0, rate=0.7),
])
def test_constraint_values_and_configs_match_keras(make):
    keras = keras_module()
    w = rng.standard_normal((5, 4)).astype("float32")
    ours, theirs = make(constraints), make(keras.constraints)
    np.testing.assert_allclose(to_np(ours(tf.constant(w))), np.asarray(theirs(w)), rtol=1e-5,
                               atol=1e-6)
    assert ours.get_config() == theirs.get_config()
    assert type(constraints.deserialize(keras.constraints.serialize(theirs))) is type(ours)


def test_constraint_names_and_layer_attachment():
    for name in ("max_norm", "non_neg", "unit_norm", "min_max_norm"):
        assert constraints.get(name) is not None
    d = L.Dense(2, kernel_constraint="non_neg")
    d.build((None, 3))
    assert isinstance(d.kernel._constraint, constraints.NonNeg)
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("positive")
