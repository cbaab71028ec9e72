"""tf.distribute in one process: contexts, PerReplica values, reductions, input splitting,
local replicas, options and TF_CONFIG checks (the multi-process runs: test_multiworker.py)."""
import json

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.distribute.input import replica_sizes


def two_cpu():
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def test_default_strategy_and_contexts():
    d = tf.distribute.get_strategy()
    assert d.num_replicas_in_sync == 1
    assert not tf.distribute.has_strategy()
    assert tf.distribute.get_replica_context() is not None  # the default replica context
    s = two_cpu()
    with s.scope():
        assert tf.distribute.get_strategy() is s and tf.distribute.has_strategy()
        assert tf.distribute.in_cross_replica_context()
        assert tf.distribute.get_replica_context() is None
        ids = s.run(lambda: tf.distribute.get_replica_context().replica_id_in_sync_group)
    assert [int(v) for v in s.experimental_local_results(ids)] == [0, 1]
    assert tf.distribute.get_strategy() is d


def test_mirrored_on_cpu_has_one_replica_like_tensorflow():
    s = tf.distribute.MirroredStrategy()
    assert s.num_replicas_in_sync == 1
    assert s.extended.worker_devices[0].endswith("CPU:0")
    with pytest.raises(ValueError, match="duplicate"):
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:0"])


def test_multiworker_in_one_process_is_one_replica():
    s = tf.distribute.MultiWorkerMirroredStrategy()
    assert s.num_replicas_in_sync == 1 and s.extended.should_checkpoint
    assert s.cluster_resolver.task_type == "worker" and s.cluster_resolver.task_id == 0


@pytest.mark.parametrize("batch,replicas,want", [
    (8, 2, [4, 4]), (7, 2, [4, 3]), (5, 4, [2, 2, 1, 0]), (1, 3, [1, 0, 0]), (9, 3, [3, 3, 3])])
def test_global_batch_split_as_tensorflow_rebatches(batch, replicas, want):
    assert replica_sizes(batch, replicas) == want
    assert sum(replica_sizes(batch, replicas)) == batch


def test_distribute_dataset_splits_each_global_batch():
    s = two_cpu()
    x = np.arange(14, dtype="float32").reshape(7, 2)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(7)
    (batch,) = list(s.experimental_distribute_dataset(ds))
    parts = s.experimental_local_results(batch)
    assert [p.shape[0] for p in parts] == [4, 3]
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts]), x)


def test_distribute_datasets_from_function_gets_input_context():
    s = two_cpu()
    seen = []

    def fn(ctx):
        seen.append((ctx.num_input_pipelines, ctx.input_pipeline_id, ctx.num_replicas_in_sync,
                     ctx.get_per_replica_batch_size(8)))
        return tf.data.Dataset.range(8).batch(ctx.get_per_replica_batch_size(8))
    batches = list(s.distribute_datasets_from_function(fn))
    assert seen == [(1, 0, 2, 4)]
    assert len(batches) == 1  # 2 batches of 4, one per replica
    np.testing.assert_array_equal(
        np.concatenate([p.numpy() for p in s.experimental_local_results(batches[0])]),
        np.arange(8))
    with pytest.raises(ValueError, match="not divisible"):
        tf.distribute.InputContext(1, 0, 3).get_per_replica_batch_size(8)


@pytest.mark.parametrize("op", ["SUM", "MEAN"])
def test_reduce_along_an_axis_counts_every_replicas_rows(op):
    s = two_cpu()
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "float32")
    b = np.array([[10.0, 20.0]], "float32")  # an uneven split: 3 rows and 1 row
    vals = iter([a, b])
    per_replica = s.run(lambda: tf.constant(next(vals)))
    got = s.reduce(getattr(tf.distribute.ReduceOp, op), per_replica, axis=0).numpy()
    both = np.concatenate([a, b])
    np.testing.assert_allclose(got, both.sum(0) if op == "SUM" else both.mean(0), rtol=1e-6)


def test_reduce_without_axis():
    s = two_cpu()
    vals = iter([2.0, 5.0])
    per_replica = s.run(lambda: tf.constant(next(vals)))
    assert float(s.reduce("SUM", per_replica, axis=None)) == 7.0
    assert float(s.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)) == 3.5
    with pytest.raises(ValueError, match="ReduceOp"):
        s.reduce("MAX", per_replica, axis=None)


def _custom_loop(strategy, x, y, global_batch):
    with strategy.scope():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.Dense(1)])
        opt = keras.optimizers.SGD(0.1, momentum=0.5)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)
    mse = keras.losses.MeanSquaredError(reduction="none")

    def step(inputs):
        xb, yb = inputs
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(mse(yb, model(xb)), global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    total = []
    for batch in strategy.experimental_distribute_dataset(ds):
        per_replica = strategy.run(step, args=(batch,))
        total.append(float(strategy.reduce("SUM", per_replica, axis=None)))
    return [w.copy() for w in model.get_weights()], total, int(opt.iterations.numpy())


def test_local_replicas_sum_gradients_like_one_big_batch():
    rng = np.random.RandomState(0)
    x = rng.randn(32, 3).astype("float32")
    y = rng.randn(32, 1).astype("float32")
    w2, l2, it2 = _custom_loop(two_cpu(), x, y, 8)
    w1, l1, it1 = _custom_loop(tf.distribute.get_strategy(), x, y, 8)
    assert it1 == it2 == 4  # the update is applied once per step, not once per replica
    np.testing.assert_allclose(l2, l1, rtol=1e-5)
    for a, b in zip(w2, w1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_replica_all_reduce():
    s = tf.distribute.MultiWorkerMirroredStrategy()  # one worker here: the identity
    out = s.run(lambda: tf.distribute.get_replica_context().all_reduce("SUM", tf.constant(3.0)))
    assert float(out) == 3.0
    out = two_cpu().run(lambda: tf.distribute.get_replica_context().all_reduce(
        "SUM", tf.constant(1.0)))  # two local replicas: see test_local_replicas.py
    assert [float(v) for v in out.values] == [2.0, 2.0]


def test_keras_fit_under_scope_matches_plain_fit():
    rng = np.random.RandomState(1)
    x = rng.randn(40, 3).astype("float32")
    y = rng.randn(40, 1).astype("float32")

    def run(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(5)
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            m.compile(optimizer="sgd", loss="mse")
        h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return m.get_weights(), h.history["loss"]
    w0, h0 = run(tf.distribute.get_strategy())
    for s in (two_cpu(), tf.distribute.MirroredStrategy()):
        w, h = run(s)
        np.testing.assert_allclose(h, h0, rtol=1e-6)
        for a, b in zip(w, w0):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_communication_options_checked():
    opts = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=1024,
                                                          timeout_seconds=5)
    assert opts.bucket_bytes() == 1024 and opts.timeout() == 5.0
    with pytest.raises(ValueError, match="bytes_per_pack"):
        tf.distribute.experimental.CommunicationOptions(bytes_per_pack=-1)
    with pytest.raises(ValueError, match="timeout_seconds"):
        tf.distribute.experimental.CommunicationOptions(timeout_seconds=0)
    with pytest.raises(TypeError, match="CommunicationOptions"):
        tf.distribute.MultiWorkerMirroredStrategy(communication_options={"bytes_per_pack": 1})


def test_tf_config_without_launcher_says_how_to_start(monkeypatch):
    cfg = {"cluster": {"worker": ["host1:1234", "host2:1234"]},
           "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cfg))
    with pytest.raises(RuntimeError, match="mpirun -n 2"):
        tf.distribute.MultiWorkerMirroredStrategy()
    r = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    assert r.task_type == "worker" and r.cluster_spec().num_tasks("worker") == 2
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        tf.distribute.MultiWorkerMirroredStrategy()


def test_scope_is_not_the_strategy_itself():
    with pytest.raises(TypeError, match="scope"):
        with tf.distribute.MirroredStrategy():
            pass


def test_launch_command():
    from tenfold.distribute import launch
    cmd = launch.mpirun_command(3, ["train.py", "--x"])
    assert cmd[1:3] == ["-n", "3"] and cmd[-2:] == ["train.py", "--x"]
    assert launch.worker_env(1, base={})["OMP_NUM_THREADS"] == "1"
