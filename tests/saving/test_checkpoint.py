"""tf.train.Checkpoint / CheckpointManager / latest_checkpoint."""
import os

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras


def test_save_numbering_state_file_and_latest(tmp_path):
    step = tf.Variable(0, dtype=tf.int64)
    w = tf.Variable([1.0, 2.0])
    ckpt = tf.train.Checkpoint(step=step, w=w)
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    p1 = ckpt.save(str(tmp_path / "ckpt"))
    p2 = ckpt.save(str(tmp_path / "ckpt"))
    assert p1.endswith("ckpt-1") and p2.endswith("ckpt-2")
    assert os.path.exists(p2 + ".index")
    assert tf.train.latest_checkpoint(str(tmp_path)) == p2
    text = open(tmp_path / "checkpoint").read()
    assert 'model_checkpoint_path: "ckpt-2"' in text
    assert int(ckpt.save_counter.numpy()) == 2
    assert ckpt.step is step
    names = dict(tf.train.list_variables(str(tmp_path)))
    assert names["w"] == [2] and names["step"] == [] and "save_counter" in names
    np.testing.assert_array_equal(tf.train.load_variable(p2, "w"), [1.0, 2.0])


def test_restore_by_path_nested_structures(tmp_path):
    tree = {"a": [tf.Variable(1.0), tf.Variable([2.0, 3.0])], "b": {"c": tf.Variable(4)}}
    ckpt = tf.train.Checkpoint(tree=tree, extra=tf.Variable(5.0))
    path = ckpt.write(str(tmp_path / "t"))
    tree2 = {"a": [tf.Variable(0.0), tf.Variable([0.0, 0.0])], "b": {"c": tf.Variable(0)}}
    extra2 = tf.Variable(0.0)
    tf.train.Checkpoint(tree=tree2, extra=extra2).read(path).assert_consumed()
    assert float(tree2["a"][0].numpy()) == 1.0
    np.testing.assert_array_equal(tree2["a"][1].numpy(), [2.0, 3.0])
    assert int(tree2["b"]["c"].numpy()) == 4 and float(extra2.numpy()) == 5.0
    # a partial restore: assert_consumed fails, expect_partial is fine
    only = tf.Variable(0.0)
    status = tf.train.Checkpoint(extra=only).read(path)
    with pytest.raises(AssertionError, match="not fully consumed"):
        status.assert_consumed()
    status.expect_partial()
    status.assert_existing_objects_matched()
    assert float(only.numpy()) == 5.0


def test_manager_keeps_max_and_deletes_old(tmp_path):
    v = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    assert manager.latest_checkpoint is None
    assert ckpt.restore(manager.latest_checkpoint) is not None   # None: nothing to restore
    paths = []
    for i in range(4):
        v.assign(float(i))
        paths.append(manager.save())
    assert [os.path.basename(p) for p in paths] == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"]
    assert manager.checkpoints == paths[2:]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-3.index", "ckpt-4.index"]
    # a new manager (a restarted program) picks up the kept checkpoints and the numbering
    v2 = tf.Variable(-1.0)
    ckpt2 = tf.train.Checkpoint(v=v2)
    manager2 = tf.train.CheckpointManager(ckpt2, str(tmp_path), max_to_keep=2)
    assert manager2.checkpoints == paths[2:]
    ckpt2.restore(manager2.latest_checkpoint).assert_consumed()
    assert float(v2.numpy()) == 3.0
    assert os.path.basename(manager2.save()) == "ckpt-5"
    assert os.path.basename(manager2.save(checkpoint_number=100)) == "ckpt-100"


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1)])
    return model


def _train_steps(model, opt, n, start=0):
    rng = np.random.default_rng(start)
    for _ in range(n):
        x = rng.normal(size=(8, 3)).astype("float32")
        y = x.sum(axis=1, keepdims=True)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


def test_custom_training_loop_resumes_identically(tmp_path):
    """The TensorFlow pattern: checkpoint model + optimizer, restore in a fresh program
    (optimizer slots not created yet: deferred restoration), continue: same weights."""
    model, opt = _model(), keras.optimizers.Adam(0.05)
    _train_steps(model, opt, 3)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    manager.save()
    _train_steps(model, opt, 3, start=1)
    want = [v.numpy() for v in model.weights]

    model2, opt2 = _model(), keras.optimizers.Adam(0.05)
    for v in model2.weights:
        v.assign(np.zeros(v.shape, "float32"))
    ckpt2 = tf.train.Checkpoint(model=model2, optimizer=opt2)
    status = ckpt2.restore(tf.train.CheckpointManager(ckpt2, str(tmp_path), 3).latest_checkpoint)
    with pytest.raises(AssertionError):
        status.assert_consumed()           # the optimizer's slots don't exist yet
    _train_steps(model2, opt2, 3, start=1)  # builds the slots: their values are restored first
    status.assert_consumed()
    for a, b in zip([v.numpy() for v in model2.weights], want):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_unbuilt_model_restored_when_built(tmp_path):
    model = _model()
    ckpt = tf.train.Checkpoint(net=model)
    path = ckpt.write(str(tmp_path / "m"))
    fresh = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    tf.train.Checkpoint(net=fresh).read(path)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(fresh(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_checkpoint_rejects_non_trackables():
    with pytest.raises(ValueError, match="trackable"):
        tf.train.Checkpoint(x=3)
    with pytest.raises(ValueError, match="None"):
        tf.train.Checkpoint(x=None)


def test_restore_none_and_directory(tmp_path):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    status = ckpt.restore(None)
    with pytest.raises(AssertionError):
        status.assert_consumed()
    ckpt.save(str(tmp_path / "ck"))
    v.assign(0.0)
    ckpt.restore(str(tmp_path)).assert_consumed()
    assert float(v.numpy()) == 1.0
    with pytest.raises(FileNotFoundError, match="nothing"):
        ckpt.restore(str(tmp_path / "nothing-1"))
