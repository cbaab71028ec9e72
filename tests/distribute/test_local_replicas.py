"""Several replicas in one process (MirroredStrategy on several CPU devices): one thread per
replica, ReplicaContext.all_reduce / merge_call through the in-process collective, errors
reaching every replica, and training equal to one replica with the global batch - eagerly,
inside tf.function and in Keras fit."""
import threading
import time

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.distribute.values import PerReplica


def two_cpu():
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def ctx():
    return tf.distribute.get_replica_context()


def test_each_replica_runs_in_its_own_thread_with_its_id():
    s = two_cpu()
    seen = {}

    def fn():
        rid = int(ctx().replica_id_in_sync_group)
        seen[rid] = threading.current_thread().name
        return rid
    out = s.run(fn)
    assert [int(v) for v in s.experimental_local_results(out)] == [0, 1]
    assert seen[0] != seen[1] and threading.current_thread().name not in seen.values()


@pytest.mark.parametrize("op,want", [("SUM", [3.0, 30.0]), ("MEAN", [1.5, 15.0])])
def test_all_reduce_over_local_replicas(op, want):
    s = two_cpu()

    def fn():
        r = tf.cast(ctx().replica_id_in_sync_group, "float32") + 1.0   # 1 and 2
        out = ctx().all_reduce(op, {"a": r, "b": r * 10.0})
        return out["a"], out["b"]
    a, b = s.run(fn)
    for v in s.experimental_local_results(a):
        assert float(v) == want[0]
    for v in s.experimental_local_results(b):
        assert float(v) == want[1]


def test_all_reduce_inside_tf_function_records_one_graph():
    s = two_cpu()
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])

    @tf.function
    def step(xb):
        def fn(part):
            return ctx().all_reduce("SUM", tf.reduce_sum(part, axis=0))
        return s.reduce("MEAN", s.run(fn, args=(xb,)), axis=None)
    for k in range(3):
        ds = tf.data.Dataset.from_tensor_slices(x * (k + 1)).batch(4)
        batch = next(iter(s.experimental_distribute_dataset(ds)))   # PerReplica: 2 rows each
        got = step(batch)
        np.testing.assert_allclose(got.numpy(), (k + 1) * np.array([16.0, 20.0]))
    assert step.experimental_get_tracing_count() == 1


def test_gradient_through_all_reduce_is_the_all_reduce_of_gradients():
    s = two_cpu()
    w = tf.Variable([1.0, 2.0])

    def fn():
        r = tf.cast(ctx().replica_id_in_sync_group, "float32") + 1.0
        with tf.GradientTape() as tape:
            total = ctx().all_reduce("SUM", w * r)          # (1 + 2) * w on every replica
            loss = tf.reduce_sum(total * r)                 # replica r: 3 r sum(w)
        return tape.gradient(loss, w)
    grads = [g.numpy() for g in s.experimental_local_results(s.run(fn))]
    # d/dw of replica r's loss through the all-reduce: the sum over replicas q of q * (sum r)
    for r, g in zip((1.0, 2.0), grads):
        np.testing.assert_allclose(g, [r * 3.0] * 2)


def test_merge_call_runs_once_with_per_replica_arguments():
    s = two_cpu()
    calls = []

    def merge_fn(strategy, value, same):
        calls.append((tf.distribute.in_cross_replica_context(), same))
        parts = strategy.experimental_local_results(value)
        total = float(sum(float(p) for p in parts))
        return PerReplica([total, -total])

    def fn():
        r = tf.cast(ctx().replica_id_in_sync_group, "float32") + 1.0
        return ctx().merge_call(merge_fn, args=(r, "same object"))
    out = s.run(fn)
    assert calls == [(True, "same object")]
    assert [float(v) for v in s.experimental_local_results(out)] == [3.0, -3.0]


def test_a_failing_replica_stops_the_others_with_its_error():
    s = two_cpu()
    reached = []

    def fn():
        if int(ctx().replica_id_in_sync_group) == 1:
            raise ValueError("bad batch on replica 1")
        try:
            return ctx().all_reduce("SUM", tf.constant(1.0))
        except Exception as e:  # replica 0 is told, and stops, instead of waiting forever
            reached.append(e)
            raise
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="bad batch on replica 1"):
        s.run(fn)
    assert time.monotonic() - t0 < 30
    assert len(reached) == 1 and isinstance(reached[0], tf.errors.AbortedError)
    assert "replica 1 raised ValueError" in str(reached[0])
    assert s.run(lambda: ctx().all_reduce("SUM", tf.constant(2.0))) is not None  # usable


def test_an_error_in_merge_fn_reaches_the_caller():
    s = two_cpu()

    def merge_fn(strategy, value):
        raise RuntimeError("merge failed")
    with pytest.raises(RuntimeError, match="merge failed"):
        s.run(lambda: ctx().merge_call(merge_fn, args=(1.0,)))


def test_all_gather_over_local_replicas():
    s = two_cpu()

    def fn():
        r = tf.cast(ctx().replica_id_in_sync_group, "float32")
        return ctx().all_gather(tf.fill([r.numpy().astype(int) + 1, 2], r), axis=0)
    for v in s.experimental_local_results(s.run(fn)):
        np.testing.assert_array_equal(v.numpy(), [[0, 0], [1, 1], [1, 1]])


def test_replicas_that_disagree_get_an_error_not_a_hang():
    s = two_cpu()

    def fn():
        if int(ctx().replica_id_in_sync_group) == 0:
            return ctx().all_reduce("SUM", tf.constant(1.0))
        return tf.constant(0.0)
    with pytest.raises(tf.errors.AbortedError, match="returned without calling it"):
        s.run(fn)

    def shapes():
        n = int(ctx().replica_id_in_sync_group) + 1
        return ctx().all_reduce("SUM", tf.ones([n]))
    with pytest.raises(ValueError, match="shape"):
        s.run(shapes)


def test_logical_cpu_devices_give_replicas():
    cpu = tf.config.list_physical_devices("CPU")[0]
    saved = tf.config.get_logical_device_configuration(cpu)
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 3)
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
        assert [n[-5:] for n in names] == ["CPU:0", "CPU:1", "CPU:2"]
        s = tf.distribute.MirroredStrategy(names)
        assert s.num_replicas_in_sync == 3
        out = s.run(lambda: ctx().all_reduce("SUM", tf.constant(1.0)))
        assert [float(v) for v in s.experimental_local_results(out)] == [3.0] * 3
    finally:
        tf.config.set_logical_device_configuration(cpu, saved)


def _loop(strategy, x, y, global_batch, compiled):
    with strategy.scope():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.Dense(1)])
        opt = keras.optimizers.Adam(0.05)
    mse = keras.losses.MeanSquaredError(reduction="none")

    def step(inputs):
        xb, yb = inputs
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(mse(yb, model(xb, training=True)),
                                              global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def train_step(batch):
        return strategy.reduce("SUM", strategy.run(step, args=(batch,)), axis=None)
    if compiled:
        train_step = tf.function(train_step)
    ds = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch))
    losses = [float(train_step(b)) for _ in range(2) for b in ds]
    return model.get_weights(), losses, int(opt.iterations.numpy())


@pytest.mark.parametrize("compiled", [False, True])
def test_custom_loop_matches_one_replica_with_the_global_batch(compiled):
    rng = np.random.RandomState(0)
    x = rng.randn(32, 3).astype("float32")
    y = rng.randn(32, 1).astype("float32")
    w2, l2, it2 = _loop(two_cpu(), x, y, 8, compiled)
    w1, l1, it1 = _loop(tf.distribute.get_strategy(), x, y, 8, compiled)
    assert it1 == it2 == 8  # applied once per step, not once per replica
    np.testing.assert_allclose(l2, l1, rtol=1e-5)
    for a, b in zip(w2, w1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_keras_fit_with_two_local_replicas_matches_one(run_eagerly):
    rng = np.random.RandomState(1)
    x = rng.randn(48, 3).astype("float32")
    y = rng.randn(48, 1).astype("float32")
    shapes = []

    class Spy(keras.layers.Layer):
        def call(self, inputs, training=None):
            if training:
                shapes.append((threading.current_thread().name, int(inputs.shape[0])))
            return inputs

    def run(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(5)
            m = keras.Sequential([keras.Input((3,)), Spy(),
                                  keras.layers.Dense(6, activation="relu"),
                                  keras.layers.Dense(1)])
            m.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", metrics=["mae"],
                      run_eagerly=run_eagerly)
        h = m.fit(x, y, batch_size=12, epochs=3, shuffle=False, verbose=0)
        return m.get_weights(), h.history, m.evaluate(x, y, verbose=0)
    w1, h1, e1 = run(tf.distribute.get_strategy())
    shapes.clear()
    w2, h2, e2 = run(two_cpu())
    # each replica ran on its own thread with half of the global batch
    assert {n for _, n in shapes} == {6}
    assert len({t for t, _ in shapes}) >= 2
    for k in h1:
        np.testing.assert_allclose(h2[k], h1[k], rtol=1e-5)
    np.testing.assert_allclose(e2, e1, rtol=1e-5)
    for a, b in zip(w2, w1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _bn_step(strategy, layer_fn, x):
    """One training call of a BN layer on each replica's rows; returns the outputs (in row
    order) and the moving statistics after it."""
    with strategy.scope():
        bn = layer_fn()
        bn.build((None, x.shape[1]))
    ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x)
                                                  .batch(len(x)))
    out = strategy.run(lambda xb: bn(xb, training=True), args=(next(iter(ds)),))
    rows = np.concatenate([o.numpy() for o in strategy.experimental_local_results(out)])
    return rows, bn.moving_mean.numpy(), bn.moving_variance.numpy()


@pytest.mark.parametrize("layer_fn", [
    lambda: keras.layers.BatchNormalization(synchronized=True, momentum=0.5),
    lambda: keras.layers.experimental.SyncBatchNormalization(momentum=0.5)])
def test_synchronized_batch_norm_uses_the_global_batch(layer_fn):
    rng = np.random.RandomState(2)
    x = (rng.randn(8, 3) * [1.0, 3.0, 0.5] + [0.0, 2.0, -1.0]).astype("float32")
    x[4:] += 5.0  # the two replicas' halves have different statistics
    got, mm, mv = _bn_step(two_cpu(), layer_fn, x)
    want, wmm, wmv = _bn_step(tf.distribute.get_strategy(), layer_fn, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mm, wmm, rtol=1e-5)
    np.testing.assert_allclose(mv, wmv, rtol=1e-4)
    np.testing.assert_allclose(mm, 0.5 * x.mean(0), rtol=1e-5)


def test_batch_norm_without_synchronized_uses_each_replicas_batch():
    rng = np.random.RandomState(2)
    x = rng.randn(8, 3).astype("float32")
    x[4:] += 5.0
    got, mm, mv = _bn_step(two_cpu(), lambda: keras.layers.BatchNormalization(momentum=0.5), x)
    for rows in (slice(0, 4), slice(4, 8)):  # each replica: its own batch's statistics
        half = x[rows]
        want = (half - half.mean(0)) / np.sqrt(half.var(0) + 1e-3)
        np.testing.assert_allclose(got[rows], want, rtol=1e-4, atol=1e-4)
    # the moving statistics take the mean over the replicas of their batch statistics
    np.testing.assert_allclose(mm, 0.5 * (x[:4].mean(0) + x[4:].mean(0)) / 2, rtol=1e-5)
    np.testing.assert_allclose(mv, 0.5 + 0.5 * (x[:4].var(0) + x[4:].var(0)) / 2, rtol=1e-4)


def test_keras_fit_with_synchronized_batch_norm_matches_one_replica():
    rng = np.random.RandomState(4)
    x = rng.randn(32, 4).astype("float32")
    x[16:] *= 3.0
    y = (x.sum(1, keepdims=True) > 0).astype("float32")

    def run(strategy, synchronized):
        with strategy.scope():
            keras.utils.set_random_seed(7)
            m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                                  keras.layers.BatchNormalization(synchronized=synchronized),
                                  keras.layers.Activation("relu"), keras.layers.Dense(1)])
            m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return m.get_weights()
    ref = run(tf.distribute.get_strategy(), True)
    for a, b in zip(run(two_cpu(), True), ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    unsynced = run(two_cpu(), False)  # per-replica statistics: a different training
    assert max(np.abs(a - b).max() for a, b in zip(unsynced, ref)) > 1e-4


@pytest.mark.parametrize("source", ["distribute_dataset", "from_function"])
def test_keras_fit_on_a_distributed_dataset_with_local_replicas(source):
    rng = np.random.RandomState(3)
    x = rng.randn(32, 3).astype("float32")
    y = rng.randn(32, 1).astype("float32")

    def make(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(2)
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.Dense(1)])
            m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        return m
    ref = make(tf.distribute.get_strategy())
    ref.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    s = two_cpu()
    m = make(s)
    if source == "distribute_dataset":
        data = s.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    else:
        def fn(ctx):  # each replica's batches of 4, in the order one 8-row batch splits
            b = ctx.get_per_replica_batch_size(8)
            return tf.data.Dataset.from_tensor_slices((x, y)).batch(b)
        data = s.distribute_datasets_from_function(fn)
    m.fit(data, epochs=2, verbose=0)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_replicas_on_an_accelerator_backend():
    """Replicas on accelerator devices (the CI stand-in for a CuPy GPU, whose arrays refuse
    implicit host conversion): each replica runs under its device's scope, the in-process
    reduction and the synchronized BatchNormalization stay on the device, and fit matches one
    replica."""
    from tenfold.testing.standin_backend import standin_accelerator
    rng = np.random.RandomState(1)
    x = rng.randn(32, 3).astype("float32")
    y = rng.randn(32, 1).astype("float32")

    def run(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(5)
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.BatchNormalization(synchronized=True),
                                  keras.layers.Dense(1)])
            m.compile(optimizer="adam", loss="mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return m
    with standin_accelerator():
        ref = run(tf.distribute.get_strategy())
        two = run(tf.distribute.MirroredStrategy(["/device:STANDIN:0", "/device:STANDIN:1"]))
        assert "STANDIN" in two.weights[0].device
        for a, b in zip(two.get_weights(), ref.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
