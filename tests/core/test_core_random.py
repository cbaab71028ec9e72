"""tf.random: TensorFlow's seed rules (global and op seeds), stateless ops, Generator, and
the distributions themselves (checked statistically, with loose bounds)."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tenfold as tf


def test_global_seed_makes_sequences_repeat():
    tf.random.set_seed(1234)
    a, b = tf.random.uniform([3]), tf.random.uniform([3])
    tf.random.set_seed(1234)
    a2, b2 = tf.random.uniform([3]), tf.random.uniform([3])
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())


def test_op_seed_with_global_seed_continues_a_stream():
    tf.random.set_seed(7)
    a, b = tf.random.normal([4], seed=3), tf.random.normal([4], seed=3)
    assert not np.array_equal(a.numpy(), b.numpy())  # same op, same seeds: next numbers
    tf.random.set_seed(7)
    np.testing.assert_array_equal(tf.random.normal([4], seed=3).numpy(), a.numpy())
    tf.random.set_seed(8)
    assert not np.array_equal(tf.random.normal([4], seed=3).numpy(), a.numpy())


def test_different_ops_with_one_op_seed_have_separate_streams():
    tf.random.set_seed(5)
    n1 = tf.random.normal([3], seed=1)
    tf.random.set_seed(5)
    tf.random.uniform([3], seed=1)
    n2 = tf.random.normal([3], seed=1)
    np.testing.assert_array_equal(n1.numpy(), n2.numpy())


def test_no_seed_gives_different_numbers():
    a, b = tf.random.uniform([5]), tf.random.uniform([5])
    assert not np.array_equal(a.numpy(), b.numpy())


_PROGRAM = textwrap.dedent("""
    import tenfold as tf
    {setup}
    print(tf.random.uniform([3], seed={seed}).numpy().tolist(),
          tf.random.normal([2], seed={seed}).numpy().tolist(),
          tf.random.shuffle(tf.range(6), seed={seed}).numpy().tolist())
""")


@pytest.mark.parametrize("setup,seed", [("tf.random.set_seed(42)", "None"),
                                        ("", "17"), ("tf.random.set_seed(1)", "2")])
def test_same_seeds_same_numbers_across_runs(setup, seed):
    code = _PROGRAM.format(setup=setup, seed=seed)
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip()


def test_unseeded_runs_differ():
    code = _PROGRAM.format(setup="", seed="None")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert runs[0] != runs[1]


def test_stateless_ops():
    a = tf.random.stateless_normal([5], seed=[1, 2])
    b = tf.random.stateless_normal([5], seed=tf.constant([1, 2]))
    c = tf.random.stateless_normal([5], seed=[1, 3])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    u = tf.random.stateless_uniform([1000], seed=[3, 4], minval=2, maxval=5, dtype=tf.int32)
    assert u.dtype == tf.int32 and u.numpy().min() >= 2 and u.numpy().max() < 5
    t = tf.random.stateless_truncated_normal([1000], seed=[0, 0])
    assert np.abs(t.numpy()).max() <= 2
    cat = tf.random.stateless_categorical(tf.math.log([[0.5, 0.5]]), 10, seed=[1, 1])
    assert cat.shape == (1, 10) and cat.dtype == tf.int64


def test_generator():
    g1, g2 = tf.random.Generator.from_seed(11), tf.random.Generator.from_seed(11)
    np.testing.assert_array_equal(g1.normal([3]).numpy(), g2.normal([3]).numpy())
    np.testing.assert_array_equal(g1.uniform([2], 0, 10, dtype=tf.int64).numpy(),
                                  g2.uniform([2], 0, 10, dtype=tf.int64).numpy())
    s1, s2 = g1.split(2)
    assert not np.array_equal(s1.normal([4]).numpy(), s2.normal([4]).numpy())
    assert g1.make_seeds(3).shape == (2, 3)
    assert isinstance(tf.random.get_global_generator(), tf.random.Generator)
    assert g1.truncated_normal([100]).numpy().max() <= 2


def test_distributions():
    tf.random.set_seed(0)
    n = tf.random.normal([20000], mean=1.0, stddev=2.0).numpy()
    assert abs(n.mean() - 1.0) < 0.1 and abs(n.std() - 2.0) < 0.1
    u = tf.random.uniform([20000], -2.0, 3.0).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.1
    t = tf.random.truncated_normal([20000], stddev=0.5).numpy()
    assert np.abs(t).max() <= 1.0 and 0.35 < t.std() < 0.5
    i = tf.random.uniform([5000], 3, 7, dtype=tf.int64).numpy()
    assert set(np.unique(i)) == {3, 4, 5, 6}
    c = tf.random.categorical(tf.math.log([[0.1, 0.2, 0.7]]), 20000).numpy()
    freq = np.bincount(c.ravel(), minlength=3) / c.size
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.02)
    s = tf.random.shuffle(tf.range(50)).numpy()
    assert sorted(s.tolist()) == list(range(50))
    assert tf.random.normal([2], dtype=tf.float64).dtype == tf.float64
    assert tf.random.normal([2], dtype=tf.float16).dtype == tf.float16
    g = tf.random.gamma([10000], 2.0).numpy()
    assert abs(g.mean() - 2.0) < 0.1
    p = tf.random.poisson([10000], 3.0).numpy()
    assert abs(p.mean() - 3.0) < 0.1


def test_dropout_scales_and_respects_seed():
    x = tf.ones([10000])
    tf.random.set_seed(3)
    y = tf.nn.dropout(x, 0.25).numpy()
    kept = y[y > 0]
    np.testing.assert_allclose(kept, 1 / 0.75)
    assert abs(kept.size / y.size - 0.75) < 0.03
    tf.random.set_seed(3)
    np.testing.assert_array_equal(tf.nn.dropout(x, 0.25).numpy(), y)
    with pytest.raises(ValueError):
        tf.nn.dropout(x, 1.0)
    ns = tf.nn.dropout(tf.ones([4, 5]), 0.5, noise_shape=[4, 1]).numpy()
    assert all(len(set(row)) == 1 for row in ns)


def test_random_errors():
    with pytest.raises(ValueError):
        tf.random.normal([2], dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.random.categorical(tf.zeros([3]), 2)
