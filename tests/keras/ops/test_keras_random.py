"""`keras.random`: Keras 3's seeding model (int seeds are stateless, SeedGenerators are
streams, None uses the global generator) and the distributions' moments and dtypes."""
import random

import numpy as np
import pytest

import tenfold as tf
from tenfold.keras import random as kr


def test_int_seed_is_stateless():
    a = kr.normal((4, 3), seed=7)
    b = kr.normal((4, 3), seed=7)
    c = kr.normal((4, 3), seed=8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    assert a.dtype == tf.float32


def test_seed_generator_is_a_reproducible_stream():
    g1, g2 = kr.SeedGenerator(42), kr.SeedGenerator(42)
    a1, a2 = kr.uniform((5,), seed=g1), kr.uniform((5,), seed=g1)
    b1, b2 = kr.uniform((5,), seed=g2), kr.uniform((5,), seed=g2)
    assert not np.array_equal(a1.numpy(), a2.numpy())
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    np.testing.assert_array_equal(a2.numpy(), b2.numpy())
    assert g1.state.numpy().tolist() == [42, 2]
    assert g1.state.dtype == tf.uint32 and not g1.state.trainable
    assert g1.get_config()["seed"] == 42


def test_unseeded_draws_follow_python_random_after_reset():
    random.seed(3)
    kr._reset_global_seed_generator()
    a = kr.normal((3,))
    b = kr.normal((3,))
    random.seed(3)
    kr._reset_global_seed_generator()
    np.testing.assert_array_equal(kr.normal((3,)).numpy(), a.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())


def test_distributions():
    n = 20000
    x = kr.normal((n,), mean=2.0, stddev=3.0, seed=1).numpy()
    assert abs(x.mean() - 2.0) < 0.1 and abs(x.std() - 3.0) < 0.1
    u = kr.uniform((n,), minval=-1.0, maxval=3.0, seed=1).numpy()
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 0.05
    t = kr.truncated_normal((n,), stddev=2.0, seed=1).numpy()
    assert np.abs(t).max() <= 4.0
    r = kr.randint((n,), 0, 5, seed=1)
    assert r.dtype == tf.int32 and set(np.unique(r.numpy())) == {0, 1, 2, 3, 4}
    g = kr.gamma((n,), alpha=2.0, seed=1).numpy()
    assert abs(g.mean() - 2.0) < 0.1
    bn = kr.binomial((n,), counts=10, probabilities=0.3, seed=1).numpy()
    assert abs(bn.mean() - 3.0) < 0.1
    be = kr.beta((n,), alpha=2.0, beta=2.0, seed=1).numpy()
    assert abs(be.mean() - 0.5) < 0.02
    c = kr.categorical(np.log([[0.1, 0.9]]), 5000, seed=1).numpy()
    assert c.dtype == np.int32 and abs(c.mean() - 0.9) < 0.03
    assert kr.normal((2,), dtype="float16", seed=1).dtype == tf.float16


def test_dropout_and_shuffle():
    x = np.ones((1000,), "float32")
    d = kr.dropout(x, 0.25, seed=3).numpy()
    kept = d != 0
    assert abs(kept.mean() - 0.75) < 0.05
    np.testing.assert_allclose(d[kept], 1 / 0.75, rtol=1e-6)
    d2 = kr.dropout(np.ones((4, 6), "float32"), 0.5, noise_shape=(4, 1), seed=3).numpy()
    assert all(len(set(row)) == 1 for row in d2)
    v = tf.Variable(np.arange(10.0, dtype="float32"))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(kr.dropout(v, 0.5, seed=2) * 1.0)
    gv = tape.gradient(y, v).numpy()
    assert set(np.unique(gv)) <= {0.0, 2.0}
    s = kr.shuffle(np.arange(10), seed=4).numpy()
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))


def test_errors():
    with pytest.raises(ValueError, match="seed"):
        kr.normal((2,), seed="abc")
    with pytest.raises(ValueError, match="floating point"):
        kr.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="integer"):
        kr.SeedGenerator(1.5)


def test_reset_with_seed_makes_unseeded_draws_reproducible():
    kr._reset_global_seed_generator(5)
    a = kr.uniform((4,))
    kr._reset_global_seed_generator(5)
    np.testing.assert_array_equal(kr.uniform((4,)).numpy(), a.numpy())


@pytest.mark.parametrize("draw", [
    lambda g: kr.normal((3,), seed=g), lambda g: kr.uniform((3,), 1.0, 2.0, seed=g),
    lambda g: kr.truncated_normal((3,), seed=g), lambda g: kr.randint((3,), 0, 100, seed=g),
    lambda g: kr.dropout(tf.ones((4,)), 0.5, seed=g),
    lambda g: kr.shuffle(tf.range(6), seed=g),
    lambda g: kr.categorical(tf.zeros((2, 5)), 3, seed=g),
    lambda g: kr.gamma((3,), 2.0, seed=g), lambda g: kr.binomial((3,), 10, 0.3, seed=g),
    lambda g: kr.beta((3,), 2.0, 3.0, seed=g)])
def test_seed_generator_streams_inside_tf_function_match_eager(draw):
    """A traced draw advances the generator on every call (nothing fixed at trace time)."""
    graph_gen, eager_gen = kr.SeedGenerator(5), kr.SeedGenerator(5)
    step = tf.function(lambda: draw(graph_gen))
    got = [step().numpy() for _ in range(3)]
    want = [draw(eager_gen).numpy() for _ in range(3)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert graph_gen.state.numpy().tolist() == eager_gen.state.numpy().tolist() == [5, 3]
