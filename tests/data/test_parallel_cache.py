"""prefetch and parallel map give the same elements as the serial pipeline; cache replays."""
import threading
import time

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import DataLossError

Dataset = tf.data.Dataset


def items(ds):
    return list(ds.as_numpy_iterator())


def slow_square(x):
    time.sleep(0.001 * (int(x) % 3))
    return x * x


def test_parallel_map_keeps_order_and_matches_serial():
    base = Dataset.range(60)
    serial = items(base.map(slow_square))
    assert items(base.map(slow_square, num_parallel_calls=4)) == serial
    assert items(base.map(slow_square, num_parallel_calls=tf.data.AUTOTUNE)) == serial
    loose = items(base.map(slow_square, num_parallel_calls=4, deterministic=False))
    assert sorted(loose) == sorted(serial)
    with pytest.raises(ValueError):
        base.map(slow_square, num_parallel_calls=0)


def test_parallel_map_runs_in_threads():
    threads = set()

    def f(x):
        threads.add(threading.get_ident())
        time.sleep(0.002)
        return x
    items(Dataset.range(40).map(f, num_parallel_calls=4))
    assert threading.get_ident() not in threads


def test_parallel_map_error_reaches_the_consumer():
    def f(x):
        if int(x) == 7:
            raise ValueError("bad element")
        return x
    with pytest.raises(ValueError, match="bad element") as info:
        items(Dataset.range(20).map(f, num_parallel_calls=3))
    assert "element 7" in " ".join(getattr(info.value, "__notes__", [])) + str(info.value)


def test_prefetch_same_elements_in_a_background_thread():
    producer = []

    def f(x):
        producer.append(threading.get_ident())
        return x
    x = np.arange(100).reshape(50, 2)
    ds = Dataset.from_tensor_slices(x).shuffle(10, seed=1).batch(7)
    plain = [b.tolist() for b in items(ds)]
    again = Dataset.from_tensor_slices(x).shuffle(10, seed=1).batch(7)
    assert [b.tolist() for b in items(again.prefetch(2))] == plain
    assert items(Dataset.range(30).map(f).prefetch(tf.data.AUTOTUNE)) == list(range(30))
    assert producer and threading.get_ident() not in set(producer)
    assert items(Dataset.range(5).prefetch(0)) == list(range(5))


def test_prefetch_error_and_early_stop():
    def boom():
        yield 1
        raise RuntimeError("generator failed")
    ds = Dataset.from_generator(boom, output_signature=tf.TensorSpec((), tf.int32)).prefetch(2)
    with pytest.raises(RuntimeError, match="generator failed"):
        items(ds)
    before = threading.active_count()
    for _ in range(5):
        it = iter(Dataset.range(10 ** 6).prefetch(4))
        next(it)
        del it
    time.sleep(0.5)
    assert threading.active_count() <= before + 1


def test_memory_cache_replays_first_complete_pass():
    calls = []

    def f(x):
        calls.append(int(x))
        return x
    ds = Dataset.range(5).map(f).cache()
    assert items(ds) == list(range(5)) and len(calls) == 5
    assert items(ds) == list(range(5)) and len(calls) == 5
    # shuffle before cache: the first order is kept
    sc = Dataset.from_tensor_slices(np.arange(20)).shuffle(20, seed=3).cache()
    assert items(sc) == items(sc)
    # a partial pass does not fill the cache
    partial = Dataset.range(4).map(f).cache()
    calls.clear()
    items(partial.take(2))
    items(partial)
    assert calls == [0, 1, 0, 1, 2, 3]


def test_file_cache_survives_and_is_atomic(tmp_path):
    calls = []

    def f(x):
        calls.append(1)
        return x, tf.cast(x, tf.float32) * 0.5
    path = str(tmp_path / "c" / "cache")
    ds = Dataset.range(6).map(f).cache(path)
    first = items(ds)
    assert len(calls) == 6
    fresh = Dataset.range(6).map(f).cache(path)  # a new pipeline (e.g. a new program run)
    assert items(fresh) == first and len(calls) == 6
    # an interrupted first pass leaves nothing behind
    other = str(tmp_path / "c" / "other")
    items(Dataset.range(6).cache(other).take(3))
    assert not any("other" in p.name for p in (tmp_path / "c").iterdir())
    # strings go through the file cache too
    words = Dataset.from_tensor_slices(np.array([b"ab", b"c"], dtype=object)).cache(
        str(tmp_path / "w"))
    assert items(words) == [b"ab", b"c"] and items(words) == [b"ab", b"c"]


def test_file_cache_corruption_is_reported(tmp_path):
    path = str(tmp_path / "cache")
    items(Dataset.range(50).cache(path))
    data = open(path + ".tfcache", "rb").read()
    with open(path + ".tfcache", "wb") as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(DataLossError, match="truncated or corrupted"):
        items(Dataset.range(50).cache(path))
