"""shuffle: TensorFlow's buffer semantics, seeds, and the fast index path."""
import random
import collections

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import InvalidArgumentError

Dataset = tf.data.Dataset


def order(ds):
    return [int(v) for v in ds.as_numpy_iterator()]


def reference_shuffle(n, buffer_size, rng):
    """TensorFlow's documented algorithm, written plainly: fill a buffer of `buffer_size`
    elements, output a uniformly random one and refill, then drain."""
    source = iter(range(n))
    buf, out = [], []
    for v in source:
        buf.append(v)
        if len(buf) == buffer_size:
            break
    for v in source:
        out.append(buf.pop(rng.randrange(len(buf))))
        buf.append(v)
    while buf:
        out.append(buf.pop(rng.randrange(len(buf))))
    return out


@pytest.mark.parametrize("n,b", [(10, 1), (10, 3), (100, 10), (50, 50), (30, 100)])
def test_permutation_with_buffer_window(n, b, both_paths):
    for seed in range(5):
        fast, slow = both_paths(lambda: order(Dataset.range(n).shuffle(b, seed=seed)))
        assert fast == slow
        assert sorted(fast) == list(range(n))
        # output k comes from the first k + buffer_size inputs
        assert all(v < k + b for k, v in enumerate(fast))
        if b == 1:
            assert fast == list(range(n))


def test_first_elements_follow_the_buffer_distribution():
    n, b, trials = 8, 3, 3000
    ours = collections.Counter()
    ref = collections.Counter()
    rng = random.Random(0)
    for s in range(trials):
        o = order(Dataset.from_tensor_slices(np.arange(n)).shuffle(b, seed=s))
        ours.update((k, o[k]) for k in range(3))
        r = reference_shuffle(n, b, rng)
        ref.update((k, r[k]) for k in range(3))
    for key in set(ours) | set(ref):
        assert abs(ours[key] - ref[key]) / trials < 0.05, (key, ours[key], ref[key])
    # the first element is uniform over the first buffer_size elements
    for j in range(b):
        assert abs(ours[(0, j)] / trials - 1 / b) < 0.05


def test_seed_determinism_and_reshuffle_each_iteration():
    x = np.arange(50)
    a = Dataset.from_tensor_slices(x).shuffle(50, seed=7)
    b = Dataset.from_tensor_slices(x).shuffle(50, seed=7)
    first_a, first_b = order(a), order(b)
    assert first_a == first_b and first_a != list(range(50))
    second_a = order(a)
    assert second_a != first_a and order(b) == second_a  # new order, same sequence
    assert order(Dataset.from_tensor_slices(x).shuffle(50, seed=8)) != first_a
    fixed = Dataset.from_tensor_slices(x).shuffle(50, seed=7, reshuffle_each_iteration=False)
    assert order(fixed) == order(fixed)
    epochs = order(Dataset.from_tensor_slices(x).shuffle(50, seed=1).repeat(2))
    assert sorted(epochs[:50]) == sorted(epochs[50:]) == list(range(50))
    assert epochs[:50] != epochs[50:]


def test_global_seed_is_honoured():
    tf.random.set_seed(5)
    a = order(Dataset.range(40).shuffle(40))
    b = order(Dataset.range(40).shuffle(40))
    tf.random.set_seed(5)
    assert order(Dataset.range(40).shuffle(40)) == a
    assert order(Dataset.range(40).shuffle(40)) == b
    assert a != b
    tf.random.set_seed(None)
    unseeded = [order(Dataset.range(40).shuffle(40)) for _ in range(3)]
    assert len({tuple(u) for u in unseeded}) > 1


def test_fast_path_matches_element_path_through_a_pipeline(both_paths):
    x = np.arange(300).reshape(100, 3)
    y = np.arange(100)

    def run():
        ds = (Dataset.from_tensor_slices((x, y)).shuffle(17, seed=3).repeat(3)
              .skip(5).take(250).shard(2, 1).batch(16))
        return [(a.tolist(), b.tolist()) for a, b in ds.as_numpy_iterator()]
    fast, slow = both_paths(run)
    assert fast == slow
    for a, b in fast:
        assert [r[0] // 3 for r in a] == b  # rows stay paired

    def repeat_then_shuffle():
        ds = Dataset.from_tensor_slices(y).repeat().shuffle(64, seed=2).take(500).batch(50)
        return [b.tolist() for b in ds.as_numpy_iterator()]
    fast, slow = both_paths(repeat_then_shuffle)
    assert fast == slow


def test_shuffle_over_a_generator_uses_the_same_algorithm():
    def gen():
        yield from range(30)
    g = Dataset.from_generator(gen, output_signature=tf.TensorSpec((), tf.int64))
    fast = Dataset.from_tensor_slices(np.arange(30)).shuffle(7, seed=4)
    assert order(g.shuffle(7, seed=4)) == order(fast)


def test_bad_buffer_size():
    with pytest.raises(InvalidArgumentError, match="greater than zero"):
        Dataset.range(3).shuffle(0)
    with pytest.raises(InvalidArgumentError):
        Dataset.range(3).shuffle(-5)
