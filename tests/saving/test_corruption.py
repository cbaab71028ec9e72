"""Bad input gives a clear error naming the file and what is wrong, and leaves the model in
memory unchanged; an interrupted save never destroys the previous file."""
import json
import os
import zipfile

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.util import fileio as _fileio


def small(units=3):
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    m.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    return m


def snapshot(model):
    return [v.numpy().copy() for v in model.weights] + \
        [v.numpy().copy() for v in model.optimizer.variables]


def assert_unchanged(model, before):
    after = snapshot(model)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def saved(tmp_path):
    m = small()
    path = str(tmp_path / "m.keras")
    m.save(path)
    return m, path


def _rewrite_member(path, name, transform, keep_checksums=False):
    """Edits one member of a .keras file, as a person or tool would (dropping tenfold's
    checksums from metadata.json unless `keep_checksums`)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if not keep_checksums:
        meta = json.loads(members["metadata.json"])
        meta.pop("tenfold_sha256", None)
        members["metadata.json"] = json.dumps(meta).encode()
    members[name] = transform(members[name])
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


def test_truncated_keras_file(saved, tmp_path):
    _, path = saved
    data = open(path, "rb").read()
    bad = str(tmp_path / "trunc.keras")
    open(bad, "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.keras"):
        keras.models.load_model(bad)


def test_flipped_bytes_in_keras_file(saved, tmp_path):
    _, path = saved
    data = bytearray(open(path, "rb").read())
    i = data.find(b"HDF") + 2000
    data[i:i + 8] = bytes(8 - k for k in range(8))
    bad = str(tmp_path / "flip.keras")
    open(bad, "wb").write(bytes(data))
    with pytest.raises(ValueError, match="flip.keras.*(corrupt|CRC)"):
        keras.models.load_model(bad)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04garbage"])
def test_not_a_model_file(content, tmp_path):
    bad = str(tmp_path / "x.keras")
    open(bad, "wb").write(content)
    with pytest.raises(ValueError, match="x.keras"):
        keras.models.load_model(bad)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        keras.models.load_model("nope.keras")


@pytest.mark.parametrize("meta", [{"keras_version": "4.0.0"},
                                  {"keras_version": "3.15.1", "tenfold_format_version": 99}])
def test_newer_format_version(saved, meta):
    _, path = saved
    _rewrite_member(path, "metadata.json", lambda _: json.dumps(meta).encode())
    with pytest.raises(ValueError, match="newer"):
        keras.models.load_model(path)


def test_unknown_layer_in_config(saved):
    _, path = saved

    def rename(raw):
        cfg = json.loads(raw)
        cfg["config"]["layers"][1]["class_name"] = "Dense3000"
        return json.dumps(cfg).encode()
    _rewrite_member(path, "config.json", rename)
    with pytest.raises(TypeError, match="Dense3000"):
        keras.models.load_model(path)


def test_invalid_json_config(saved):
    _, path = saved
    _rewrite_member(path, "config.json", lambda raw: raw[:-10])
    with pytest.raises(ValueError, match="m.keras.*config.json.*JSON"):
        keras.models.load_model(path)


def test_wrong_weight_shapes_leave_model_unchanged(tmp_path):
    other = small(units=5)
    path = str(tmp_path / "five.weights.h5")
    other.save_weights(path)
    model = small(units=3)
    before = snapshot(model)
    with pytest.raises(ValueError) as e:
        model.load_weights(path)
    msg = str(e.value)
    assert "five.weights.h5" in msg and "(4, 3)" in msg and "(4, 5)" in msg
    assert "nothing was loaded" in msg
    assert_unchanged(model, before)


def test_weights_file_for_other_architecture(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = str(tmp_path / "one.weights.h5")
    other.save_weights(path)
    model = small()
    before = snapshot(model)
    with pytest.raises(ValueError, match="one.weights.h5"):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_corrupted_weights_file_leaves_model_unchanged(tmp_path):
    model = small()
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) - 700])
    for v in model.weights:
        v.assign(np.zeros(v.shape, v.dtype.name))
    before = snapshot(model)
    with pytest.raises(ValueError, match="w.weights.h5"):
        model.load_weights(path)
    assert_unchanged(model, before)


class _FailingFile:
    """A file object that writes part of the data, then fails (a full disk, a crash)."""

    def __init__(self, f, limit):
        self._f = f
        self._left = limit

    def write(self, data):
        if len(data) > self._left:
            self._f.write(data[:self._left])
            self._f.flush()
            raise OSError(28, "No space left on device (simulated)")
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
        return False


def test_interrupted_model_save_keeps_previous_file(saved, tmp_path, monkeypatch):
    model, path = saved
    x = np.ones((3, 4), "float32")
    want = model.predict(x, verbose=0)
    model.fit(np.ones((8, 4), "float32"), np.ones((8, 2), "float32"), epochs=2, verbose=0)
    real = os.fdopen
    monkeypatch.setattr(_fileio.os, "fdopen",
                        lambda fd, mode="r", *a, **k: _FailingFile(real(fd, mode, *a, **k), 300))
    with pytest.raises(OSError, match="simulated"):
        model.save(path)
    with pytest.raises(OSError, match="simulated"):
        model.save_weights(str(tmp_path / "m.weights.h5"))
    monkeypatch.undo()
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x, verbose=0), want)
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]   # no temporary files left behind


def test_interrupted_checkpoint_save_keeps_previous(tmp_path, monkeypatch):
    v = tf.Variable(np.arange(100, dtype="float32"))
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=1)
    first = manager.save()
    v.assign(np.zeros(100, "float32"))
    real = os.fdopen
    monkeypatch.setattr(_fileio.os, "fdopen",
                        lambda fd, mode="r", *a, **k: _FailingFile(real(fd, mode, *a, **k), 300))
    with pytest.raises(OSError, match="simulated"):
        manager.save()
    monkeypatch.undo()
    assert tf.train.latest_checkpoint(str(tmp_path)) == first
    tf.train.Checkpoint(v=v).restore(first).assert_consumed()
    np.testing.assert_array_equal(v.numpy(), np.arange(100, dtype="float32"))


def _damage(path, how):
    data = bytearray(open(path, "rb").read())
    if how == "truncate":
        data = data[: len(data) - 40]
    elif how == "flip_data":
        data[-10] ^= 0xFF
    elif how == "flip_header":
        data[30] ^= 0xFF
    elif how == "empty":
        data = b""
    elif how == "newer":
        import struct
        data[8:12] = struct.pack("<I", 7)
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("how", ["truncate", "flip_data", "flip_header", "empty", "newer"])
def test_damaged_checkpoint_reported_and_nothing_restored(how, tmp_path):
    v = tf.Variable(np.arange(50, dtype="float32"))
    prefix = tf.train.Checkpoint(v=v).save(str(tmp_path / "ckpt"))
    _damage(prefix + ".index", how)
    v.assign(np.zeros(50, "float32"))
    with pytest.raises(ValueError) as e:
        tf.train.Checkpoint(v=v).restore(prefix)
    assert "ckpt-1.index" in str(e.value)
    if how == "newer":
        assert "newer" in str(e.value)
    np.testing.assert_array_equal(v.numpy(), np.zeros(50, "float32"))


def test_checkpoint_shape_mismatch_restores_nothing(tmp_path):
    a, b = tf.Variable(np.ones(3, "float32")), tf.Variable(np.ones((2, 2), "float32"))
    prefix = tf.train.Checkpoint(a=a, b=b).write(str(tmp_path / "c"))
    a2, b2 = tf.Variable(np.zeros(3, "float32")), tf.Variable(np.zeros((3, 2), "float32"))
    with pytest.raises(ValueError, match=r"'b'.*\(3, 2\).*\(2, 2\)"):
        tf.train.Checkpoint(a=a2, b=b2).read(prefix)
    np.testing.assert_array_equal(a2.numpy(), np.zeros(3))


def test_missing_h5py_gives_install_hint(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ImportError, match="pip install"):
        model.save(str(tmp_path / "m.keras"))
    assert not os.listdir(tmp_path)
