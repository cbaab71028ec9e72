"""BLAS threads: tf.config.threading sets them; the tuner keeps the faster setting."""
import os

import pytest

import tenfold as tf
from tenfold.graph import threads


@pytest.fixture
def fake_blas(monkeypatch):
    applied = []
    monkeypatch.setattr(threads, "_apply", lambda n: applied.append(n) or
                        threads._state.__setitem__("current", n) or True)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    return applied


def _drive(tuner, cost, runs):
    picks = []
    for _ in range(runs):
        n = tuner.pick()
        picks.append(n)
        tuner.record(n, cost[n])
    return picks


def test_tuner_switches_to_the_faster_setting(fake_blas):
    t = threads.Tuner()
    picks = _drive(t, {2: 0.010, 1: 0.002}, 60)   # oversubscribed: one thread wins
    assert t.choice == 1 and picks[-1] == 1
    picks = _drive(t, {2: 0.001, 1: 0.002}, 300)  # the machine got quiet again
    assert t.choice == 2 and picks[-1] == 2


def test_tuner_backs_off_from_a_much_slower_setting(fake_blas):
    t = threads.Tuner()
    picks = _drive(t, {2: 0.001, 1: 0.004}, 2000)
    assert t.choice == 2
    assert picks.count(1) < 100  # probes grow rarer (every 200 runs at most)


def test_tuner_leaves_cheap_programs_alone(fake_blas):
    t = threads.Tuner()
    picks = _drive(t, {2: 1e-5, 1: 1e-6}, 200)
    assert set(picks) == {2}


def test_config_threading_sets_blas_threads():
    if threads.blas_threads() is None:
        pytest.skip("no OpenBLAS reachable")
    before = threads.blas_threads()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        assert threads.blas_threads() == 1
        assert tf.config.threading.get_intra_op_parallelism_threads() == 1
    finally:
        tf.config.threading.set_intra_op_parallelism_threads(0)
    assert threads.blas_threads() == (os.cpu_count() or before)
