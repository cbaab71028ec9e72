"""Mixed precision: policies, float16/bfloat16 compute with float32 variables, float32
outputs where asked, dynamic loss scaling (skipping non-finite steps, halving and growing the
scale), and a small model converging under 'mixed_float16', compiled and eager."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.keras import mixed_precision as mp


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    mp.set_global_policy("float32")


def test_policies():
    p = mp.Policy("mixed_float16")
    assert (p.compute_dtype, p.variable_dtype, p.name) == ("float16", "float32", "mixed_float16")
    p = mp.Policy("mixed_bfloat16")
    assert (p.compute_dtype, p.variable_dtype) == ("bfloat16", "float32")
    assert mp.Policy("float32").compute_dtype == "float32"
    mp.set_global_policy("mixed_float16")
    assert mp.global_policy().name == "mixed_float16"
    layer = keras.layers.Dense(3)
    assert layer.compute_dtype == "float16" and layer.dtype == "float32"
    assert keras.layers.Dense(3, dtype="float32").compute_dtype == "float32"
    with pytest.raises(ValueError):
        mp.Policy("mixed_float17")


@pytest.mark.parametrize("policy,np_dtype", [("mixed_float16", np.float16),
                                             ("mixed_bfloat16", "bfloat16")])
def test_layer_computes_in_low_precision_with_float32_variables(policy, np_dtype):
    mp.set_global_policy(policy)
    layer = keras.layers.Dense(4, activation="relu")
    out = layer(np.ones((2, 3), np.float32))
    assert out.dtype.name == mp.Policy(policy).compute_dtype
    assert layer.kernel.dtype == "float32"
    soft = keras.layers.Activation("softmax", dtype="float32")
    assert soft(out).dtype == tf.float32


def test_loss_scale_optimizer_skips_non_finite_steps_and_adjusts_scale():
    w = tf.Variable([1.0, 2.0])
    opt = mp.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=8.0,
                                dynamic_growth_steps=2)
    assert float(opt.scale_loss(tf.constant(2.0))) == 16.0
    opt.apply_gradients([(tf.constant([8.0, 16.0]), w)])     # unscaled: [1, 2]
    np.testing.assert_allclose(w.numpy(), [0.9, 1.8], rtol=1e-6)
    assert float(opt.dynamic_scale.numpy()) == 8.0
    opt.apply_gradients([(tf.constant([np.inf, 1.0]), w)])   # skipped, scale halved
    np.testing.assert_allclose(w.numpy(), [0.9, 1.8], rtol=1e-6)
    assert float(opt.dynamic_scale.numpy()) == 4.0
    assert int(opt.iterations.numpy()) == 1
    opt.apply_gradients([(tf.constant([np.nan, 1.0]), w)])
    assert float(opt.dynamic_scale.numpy()) == 2.0
    for _ in range(2):                                       # two finite steps: doubled
        opt.apply_gradients([(tf.constant([0.0, 0.0]), w)])
    assert float(opt.dynamic_scale.numpy()) == 4.0
    assert int(opt.iterations.numpy()) == 3


def test_loss_scale_optimizer_inside_tf_function_matches_eager():
    def run(compiled):
        w = tf.Variable([1.0, -1.0])
        opt = mp.LossScaleOptimizer(keras.optimizers.Adam(0.1), initial_scale=4.0,
                                    dynamic_growth_steps=3)

        def step(g):
            opt.apply_gradients([(g, w)])
            return opt.dynamic_scale.read_value()
        fn = tf.function(step) if compiled else step
        scales = [float(fn(tf.constant(g, tf.float32))) for g in
                  ([1.0, 2.0], [np.inf, 0.0], [3.0, 1.0], [1.0, 1.0], [2.0, 2.0], [1.0, 0.5])]
        return scales, w.numpy()
    s1, w1 = run(False)
    s2, w2 = run(True)
    assert s1 == s2 == [4.0, 2.0, 2.0, 2.0, 4.0, 4.0]
    np.testing.assert_array_equal(w1, w2)


def test_compile_wraps_optimizer_under_mixed_float16():
    mp.set_global_policy("mixed_float16")
    model = keras.Sequential([keras.layers.Dense(4), keras.layers.Activation("softmax",
                                                                             dtype="float32")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.optimizer, mp.LossScaleOptimizer)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_mixed_float16_model_converges_with_dynamic_loss_scaling(run_eagerly):
    mp.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.random((512, 20)).astype(np.float32)
    y = (x[:, 0] * 4).astype(np.int64) % 4
    model = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(4),
                              keras.layers.Activation("softmax", dtype="float32")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], run_eagerly=run_eagerly)
    # the initial scale 2**15 overflows float16 gradients at first: those steps are skipped
    hist = model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    opt = model.optimizer
    assert float(opt.dynamic_scale.numpy()) < 2.0 ** 15 or int(opt.iterations.numpy()) == 120
    assert hist.history["loss"][-1] < hist.history["loss"][0] * 0.6
    assert hist.history["accuracy"][-1] > 0.8
    assert model.layers[0].kernel.dtype == "float32"
    assert model.predict(x[:4], verbose=0).dtype == np.float32


def test_mixed_float16_graph_and_eager_fit_identical():
    results = []
    for eager in (True, False):
        mp.set_global_policy("mixed_float16")
        keras.utils.set_random_seed(5)
        rng = np.random.default_rng(1)
        x = rng.random((128, 10)).astype(np.float32)
        y = (x[:, 1] * 3).astype(np.int64) % 3
        model = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(3),
                                  keras.layers.Activation("softmax", dtype="float32")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      run_eagerly=eager)
        h = model.fit(x, y, epochs=3, batch_size=32, verbose=0, shuffle=False)
        results.append((h.history, [w.copy() for w in model.get_weights()],
                        float(model.optimizer.dynamic_scale.numpy())))
    assert results[0][0] == results[1][0]
    assert results[0][2] == results[1][2]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_seed_snippet_style_program():
    policy = keras.mixed_precision.Policy("mixed_float16")
    keras.mixed_precision.set_global_policy(policy)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3),
                              keras.layers.Activation("softmax", dtype="float32")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = np.random.rand(64, 5).astype("float32")
    y = (x[:, 0] * 3).astype("int64") % 3
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model.layers[0].compute_dtype == "float16"
    assert model.layers[0].kernel.dtype == "float32"
    assert model.predict(x[:4], verbose=0).dtype == np.float32
