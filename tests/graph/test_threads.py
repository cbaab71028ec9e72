"""BLAS threads: tf.config.threading sets them; the tuner keeps the faster setting, follows
the cores other processes leave free and re-tunes when run times drift."""
import os

import pytest

import tenfold as tf
from tenfold.graph import threads


FREE = [2]  # the free cores the fake load monitor reports


@pytest.fixture
def fake_blas(monkeypatch):
    applied = []
    monkeypatch.setattr(threads, "_apply", lambda n: applied.append(n) or
                        threads._state.__setitem__("current", n) or True)
    monkeypatch.setattr(threads, "_CORES", 2)
    FREE[0] = 2
    monkeypatch.setattr(threads._cpu_load, "free_cores", lambda: FREE[0])
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


def test_tuner_uses_one_thread_without_probing_two_while_a_core_is_busy(fake_blas):
    FREE[0] = 1
    t = threads.Tuner()
    picks = _drive(t, {2: 0.030, 1: 0.002}, 300)
    assert set(picks) == {1}


def test_tuner_starts_over_when_the_free_cores_change(fake_blas):
    t = threads.Tuner()
    assert _drive(t, {2: 0.001, 1: 0.002}, 50)[-1] == 2
    FREE[0] = 1                                    # a neighbour takes a core
    assert _drive(t, {2: 0.030, 1: 0.002}, 50) == [1] * 50
    FREE[0] = 2                                    # and leaves
    picks = _drive(t, {2: 0.001, 1: 0.002}, 50)
    assert picks[0] == 2 and t.choice == 2


def test_tuner_stops_a_probe_after_one_much_slower_run(fake_blas):
    t = threads.Tuner()
    picks = _drive(t, {2: 0.001, 1: 0.010}, 400)
    assert t.choice == 2
    runs_of_1 = "".join("x" if p == 1 else "." for p in picks)
    assert "xx" not in runs_of_1 and runs_of_1.count("x") <= 8


def test_tuner_re_tunes_when_run_times_drift(fake_blas):
    t = threads.Tuner()
    _drive(t, {2: 0.001, 1: 0.0015}, 40)
    assert t.choice == 2
    # the two-thread runs get 3x slower (a neighbour the monitor cannot see yet): the next
    # probe comes within a few runs, not after the 25-run wait, and one thread wins
    picks = _drive(t, {2: 0.003, 1: 0.0015}, 20)
    assert t.choice == 1 and picks[-1] == 1


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


def test_load_monitor_counts_other_processes_not_our_own_threads(monkeypatch):
    from tenfold.backend import cpu_load
    clock = {"wall": 100.0, "busy": 1000.0, "own": 5.0}
    monkeypatch.setattr(cpu_load.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(cpu_load.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(cpu_load, "_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(cpu_load, "usable_cores", lambda: 2)
    monkeypatch.setattr(cpu_load, "_monitor", cpu_load._Monitor())
    assert cpu_load.free_cores() == 2              # first sample: nothing known yet
    # 1 s: both cores busy, 1 core-second of it ours (e.g. spinning BLAS workers)
    clock.update(wall=101.0, busy=1002.0, own=6.0)
    assert cpu_load.other_busy_cores() == pytest.approx(1.0)
    assert cpu_load.free_cores() == 1
    clock.update(wall=101.2, busy=1002.4, own=6.0)  # within INTERVAL: the cached figure
    assert cpu_load.other_busy_cores() == pytest.approx(1.0)
    # the next second: we use 1.9 cores and the machine has 2 busy: a neighbour's light
    # background job (0.1 core) does not count as a held core
    clock.update(wall=102.0, busy=1004.0, own=7.9 + 0.0)
    assert cpu_load.other_busy_cores() == pytest.approx(0.1, abs=1e-6)
    assert cpu_load.free_cores() == 2
    assert cpu_load.snapshot()["free_cores"] == 2


def test_kernel_threads_run_serially_when_a_core_is_held(monkeypatch):
    from tenfold.backend import kernels
    monkeypatch.setattr(kernels._cpu_load, "free_cores", lambda: 1)
    assert kernels._busy()
    monkeypatch.setattr(kernels._cpu_load, "free_cores", lambda: 2)
    assert not kernels._busy()


def test_tuner_probes_a_mildly_slower_setting_less_and_less(fake_blas):
    """One thread 1.4x slower (the MLP's case): each lost probe doubles the wait for the
    next, so the five-run probes take a few percent of the runs, not a sixth of them."""
    t = threads.Tuner()
    picks = _drive(t, {2: 0.0015, 1: 0.0021}, 2000)
    assert t.choice == 2
    assert picks.count(1) <= 60
    # and a drift still brings a probe at once
    picks = _drive(t, {2: 0.006, 1: 0.0021}, 20)
    assert t.choice == 1


def test_free_cores_asks_the_affinity_once_per_sample(monkeypatch):
    """Kernels ask free_cores per call: the affinity (a system call) is read again only when
    the load is sampled again, and a changed affinity is seen then."""
    from tenfold.backend import cpu_load
    clock = {"wall": 50.0, "busy": 10.0, "own": 1.0}
    cores = {"n": 2, "asked": 0}

    def usable():
        cores["asked"] += 1
        return cores["n"]
    monkeypatch.setattr(cpu_load.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(cpu_load.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(cpu_load, "_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(cpu_load, "usable_cores", usable)
    monkeypatch.setattr(cpu_load, "_monitor", cpu_load._Monitor())
    assert [cpu_load.free_cores() for _ in range(5)] == [2] * 5
    asked = cores["asked"]
    clock["wall"] += cpu_load.INTERVAL / 2
    cores["n"] = 1                                   # within the interval: not read yet
    assert cpu_load.free_cores() == 2 and cores["asked"] == asked
    clock.update(wall=clock["wall"] + cpu_load.INTERVAL, busy=clock["busy"] + 0.1)
    assert cpu_load.free_cores() == 1 and cores["asked"] > asked
