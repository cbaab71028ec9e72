"""tf.summary and keras.callbacks.TensorBoard, read back with TensorBoard's own readers."""
import glob
import os

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

import tenfold as tf  # noqa: E402
from tenfold import keras  # noqa: E402


def accumulate(folder):
    ea = EventAccumulator(str(folder), size_guidance={"tensors": 0, "images": 0})
    ea.Reload()
    return ea


def values(ea, tag):
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in ea.Tensors(tag)]


def plugin(ea, tag):
    return ea.SummaryMetadata(tag).plugin_data.plugin_name


def test_summary_functions_write_what_tensorboard_reads(tmp_path):
    logdir = tmp_path / "run"
    writer = tf.summary.create_file_writer(str(logdir))
    data = np.random.default_rng(0).normal(size=1000)
    with writer.as_default():
        for step in range(3):
            assert tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
        tf.summary.histogram("weights", data, step=5, buckets=20)
        tf.summary.image("pics", np.random.default_rng(1).random((2, 6, 5, 3)), step=1)
        tf.summary.text("notes", "hello **TensorBoard**", step=2)
    writer.close()
    files = glob.glob(str(logdir / "events.out.tfevents.*"))
    assert len(files) == 1
    ea = accumulate(logdir)
    assert set(ea.Tags()["tensors"]) == {"loss", "weights", "pics", "notes"}
    assert [(s, float(v)) for s, v in values(ea, "loss")] == \
        [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert plugin(ea, "loss") == "scalars"
    # histogram: TensorBoard's own histogram_pb is the oracle
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    want = tensor_util.make_ndarray(histogram_pb("w", data, buckets=20).value[0].tensor)
    step, got = values(ea, "weights")[0]
    assert step == 5 and plugin(ea, "weights") == "histograms"
    np.testing.assert_allclose(got, want)
    step, img = values(ea, "pics")[0]
    assert plugin(ea, "pics") == "images" and img[0] == b"5" and img[1] == b"6"
    assert len(img) == 4 and all(x.startswith(b"\x89PNG") for x in img[2:])
    step, text = values(ea, "notes")[0]
    assert text.item() == b"hello **TensorBoard**" and plugin(ea, "notes") == "text"


def test_png_decodes_to_the_image():
    PIL = pytest.importorskip("PIL.Image")
    import io
    from tenfold.summary._writer import encode_png
    img = np.random.default_rng(2).integers(0, 255, size=(7, 5, 3), dtype=np.uint8)
    back = np.asarray(PIL.open(io.BytesIO(encode_png(img))))
    np.testing.assert_array_equal(back, img)


def test_default_step_record_if_and_no_writer(tmp_path):
    assert tf.summary.scalar("nowhere", 1.0, step=0) is False
    assert not tf.summary.should_record_summaries()
    writer = tf.summary.create_file_writer(str(tmp_path))
    step = tf.Variable(0, dtype=tf.int64)
    tf.summary.experimental.set_step(step)
    try:
        with writer.as_default():
            assert tf.summary.should_record_summaries()
            for i in range(6):
                with tf.summary.record_if(lambda: int(step.numpy()) % 2 == 0):
                    tf.summary.scalar("x", float(i))
                step.assign_add(1)
            with tf.summary.record_if(False):
                assert not tf.summary.scalar("never", 1.0)
        writer.flush()
    finally:
        tf.summary.experimental.set_step(None)
    with writer.as_default():
        with pytest.raises(ValueError, match="step"):
            tf.summary.scalar("nostep", 1.0)
    writer.close()
    ea = accumulate(tmp_path)
    assert [(s, float(v)) for s, v in values(ea, "x")] == [(0, 0.0), (2, 2.0), (4, 4.0)]
    assert "never" not in ea.Tags()["tensors"]


def test_set_as_default(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    writer.set_as_default(step=3)
    try:
        tf.summary.scalar("y", 2.0)
        tf.summary.flush()
    finally:
        from tenfold.summary import _writer
        _writer._state.writer = None
        _writer._state.step = None
    writer.close()
    assert [(s, float(v)) for s, v in values(accumulate(tmp_path), "y")] == [(3, 2.0)]


def test_keras_tensorboard_callback(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    logdir = tmp_path / "logs"
    cb = keras.callbacks.TensorBoard(log_dir=str(logdir), histogram_freq=1, update_freq="batch",
                                     write_images=True)
    model.fit(x, y, epochs=3, batch_size=10, validation_data=(x[:10], y[:10]), callbacks=[cb],
              verbose=0)
    assert sorted(os.listdir(logdir)) == ["train", "validation"]
    train = accumulate(logdir / "train")
    val = accumulate(logdir / "validation")
    tags = set(train.Tags()["tensors"])
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss",
            "batch_accuracy"} <= tags
    assert [s for s, _ in values(train, "epoch_loss")] == [0, 1, 2]
    assert [s for s, _ in values(train, "batch_loss")] == list(range(1, 13))
    np.testing.assert_allclose([float(v) for _, v in values(train, "epoch_learning_rate")],
                               [0.1] * 3, rtol=1e-6)
    hist = [t for t in tags if t.endswith("/histogram")]
    assert len(hist) == 4 and any("kernel" in t for t in hist)
    assert any(t.endswith("/image") for t in tags)
    assert {"epoch_loss", "epoch_accuracy"} <= set(val.Tags()["tensors"])
    assert [s for s, _ in values(val, "epoch_loss")] == [0, 1, 2]
    history = model.history.history
    np.testing.assert_allclose([float(v) for _, v in values(val, "epoch_loss")],
                               history["val_loss"], rtol=1e-5)
    np.testing.assert_allclose([float(v) for _, v in values(train, "epoch_loss")],
                               history["loss"], rtol=1e-5)
    assert "keras" in tags and plugin(train, "keras") == "graph_keras_model"
    assert train.Tags()["graph"]


def test_steps_per_second_tags(tmp_path):
    x = np.ones((20, 3), "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    cb = keras.callbacks.TensorBoard(log_dir=str(tmp_path), write_steps_per_second=True,
                                     update_freq=2, write_graph=False)
    model.fit(x, x[:, :1], epochs=2, batch_size=5, callbacks=[cb], verbose=0)
    ea = accumulate(tmp_path / "train")
    tags = set(ea.Tags()["tensors"])
    assert {"epoch_steps_per_second", "batch_steps_per_second", "batch_loss"} <= tags
    assert [s for s, _ in values(ea, "batch_loss")] == [2, 4, 6, 8]
    assert all(float(v) > 0 for _, v in values(ea, "epoch_steps_per_second"))


def test_missing_tensorboard_gives_install_hint(monkeypatch, tmp_path):
    import sys
    for name in list(sys.modules):
        if name == "tensorboard" or name.startswith("tensorboard."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match="pip install"):
        tf.summary.create_file_writer(str(tmp_path))
    with pytest.raises(ImportError, match="tensorboard"):
        keras.callbacks.TensorBoard(log_dir=str(tmp_path))
