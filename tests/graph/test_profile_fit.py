"""bench/profile_fit.py: per-node times of a model's compiled step inside `fit`."""
import importlib.util
import os

from tenfold.graph import executor

_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "profile_fit.py")


def _load():
    spec = importlib.util.spec_from_file_location("profile_fit", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_profile_fit_lists_the_mlp_step_nodes_and_restores_the_executor(capsys):
    before = executor.Plan._generate
    _load().main(["mlp", "--steps", "3", "--top", "50"])
    assert executor.Plan._generate is before          # the clock hook is gone again
    out = capsys.readouterr().out
    head, plan, *rows = out.strip().splitlines()
    step_ms = float(head.split(": ")[1].split()[0])
    nodes_ms = float(plan.split(", ")[1].split()[0])
    assert head.startswith("mlp:") and 0 < nodes_ms <= step_ms
    names = [r.split("us  ")[1].split()[0] for r in rows]
    # the Dense layers' products (the 784-512 one with its ReLU fused), the loss, the update
    assert names.count("matmul_bias") == 2 and "softmax_xent_all" in names
    assert any(n.endswith("_update") for n in names)
    times = [float(r.split()[0]) for r in rows]
    assert times == sorted(times, reverse=True) and abs(sum(times) / 1e3 - nodes_ms) < 0.01


def test_profile_fit_by_op_sums_the_nodes_of_each_op(capsys):
    _load().main(["mlp", "--steps", "2", "--by-op"])
    out = capsys.readouterr().out.strip().splitlines()
    nodes_ms = float(out[1].split(", ")[1].split()[0])
    rows = out[2:]
    names = [r.split("us  ")[1].split()[0] for r in rows]
    assert len(names) == len(set(names))          # one line per op
    counts = {r.split("us  ")[1].split()[0]: int(r.split("(")[1].split()[0]) for r in rows}
    assert counts["matmul_bias"] == 2 and sum(counts.values()) == int(out[1].split()[2])
    assert abs(sum(float(r.split()[0]) for r in rows) / 1e3 - nodes_ms) < 0.01


def test_profile_fit_overlap_times_the_update_left_running(capsys, monkeypatch):
    from tenfold.backend import native_pool
    if not native_pool.available():
        import pytest
        pytest.skip("no C pool here")
    monkeypatch.setattr(native_pool, "threads", lambda: 2)   # whatever the machine's load
    real_start, real_join = native_pool.start, native_pool._started[1]
    _load().main(["mlp", "--steps", "4", "--overlap"])
    assert native_pool.start is real_start and native_pool._started[1] is real_join
    line = capsys.readouterr().out.strip().splitlines()[1]
    assert line.startswith("update left running in 4 steps:"), line
    ran, wait = (float(p.split(" us")[0].split()[-1]) for p in line.split(", the join"))
    assert ran > 0 and wait >= 0
