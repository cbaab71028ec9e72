"""Saves that cannot lose the last good copy, files with the user's umask, confined
CheckpointManager paths, and Keras 3's save/save_weights path rules (issues 14 and 16)."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.util import fileio as _fileio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def small(seed=1):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    return m


# ------------------------------------------------------------------ folder saves and SIGKILL
_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from tenfold import keras
    from tenfold.util import fileio as _fileio
    kill_at, path, value = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    steps = []
    def step(name):
        steps.append(name)
        if len(steps) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    if {exchange} is False:
        _fileio._exchange = lambda a, b: False     # the portable two-rename path
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    for v in m.weights:
        v.assign(np.full(v.shape, value, "float32"))
    _fileio.step = step
    m.save(path, zipped=False)
    print(len(steps))
""")


def _run_child(tmp_path, kill_at, path, value, exchange):
    script = tmp_path / f"child_{exchange}.py"
    script.write_text(_CHILD.format(root=ROOT, exchange=exchange))
    return subprocess.run([sys.executable, str(script), str(kill_at), path, str(value)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_folder_save_survives_sigkill_at_every_step(tmp_path, exchange):
    path = str(tmp_path / "model_dir")
    first = _run_child(tmp_path, 0, path, 1.0, exchange)      # a complete first save
    assert first.returncode == 0, first.stderr
    n_steps = int(first.stdout.split()[-1])
    assert n_steps >= 4
    value = 1.0
    for k in range(1, n_steps + 3):
        new = value + 1.0
        proc = _run_child(tmp_path, k, path, new, exchange)
        killed = proc.returncode == -signal.SIGKILL
        assert killed or proc.returncode == 0, proc.stderr
        model = keras.models.load_model(path)        # recovers a half-done two-rename save
        got = float(model.weights[0].numpy().ravel()[0])
        assert got in (value, new), (k, got)
        assert all(float(w.numpy().ravel()[0]) == got for w in model.weights)
        value = got
        leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".model_dir")]
        if not killed:
            assert leftovers == []
    # a clean save afterwards removes whatever a kill left behind
    assert _run_child(tmp_path, 0, path, 9.0, exchange).returncode == 0
    assert [n for n in os.listdir(tmp_path) if n.startswith(".model_dir")] == []
    assert sorted(os.listdir(path)) == ["config.json", "metadata.json", "model.weights.h5"]


def test_failed_folder_save_keeps_previous(tmp_path, monkeypatch):
    m = small()
    path = str(tmp_path / "d")
    m.save(path, zipped=False)
    before = [w.numpy().copy() for w in m.weights]
    for v in m.weights:
        v.assign(np.zeros(v.shape, "float32"))
    for stage in ("wrote config.json", "folder written"):
        def fail(name, stage=stage):
            if name == stage:
                raise OSError("disk full")
        monkeypatch.setattr(_fileio, "step", fail)
        with pytest.raises(OSError, match="disk full"):
            m.save(path, zipped=False)
        loaded = keras.models.load_model(path)
        for a, b in zip(loaded.weights, before):
            np.testing.assert_array_equal(a.numpy(), b)
    assert [n for n in os.listdir(tmp_path) if n != "d"] == []


# ------------------------------------------------------------------ umask
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_files_written_with_the_user_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        m = small()
        m.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0,
              callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))])
        m.save(str(tmp_path / "m.keras"))
        m.save_weights(str(tmp_path / "m.weights.h5"))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.save(str(tmp_path / "m.h5"))
        m.save(str(tmp_path / "folder"), zipped=False)
        ckpt = tf.train.Checkpoint(model=m)
        tf.train.CheckpointManager(ckpt, str(tmp_path / "ckpts"), max_to_keep=2).save()
        ckpt.write(str(tmp_path / "single"))
        writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
        with writer.as_default():
            tf.summary.scalar("loss", 1.0, step=0)
        writer.close()
    finally:
        os.umask(old)
    want_file, want_dir = 0o666 & ~umask, 0o777 & ~umask
    checked = 0
    for root, dirs, files in os.walk(tmp_path):
        for d in dirs:
            assert os.stat(os.path.join(root, d)).st_mode & 0o777 == want_dir, d
        for f in files:
            mode = os.stat(os.path.join(root, f)).st_mode & 0o777
            assert mode == want_file, (f, oct(mode))
            checked += 1
    assert checked >= 10


# ------------------------------------------------------------------ CheckpointManager
HOSTILE = ["../victim", "../../victim", "/ABS/victim", "sub/../../victim", "link/victim",
           "checkpoint", ".", "", "ckpts_evil/victim"]


@pytest.mark.parametrize("entry", HOSTILE)
def test_checkpoint_manager_never_touches_files_outside_its_folder(tmp_path, entry):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    outside = tmp_path / "victim.index"
    outside.write_bytes(b"precious")
    (tmp_path / "ckpts_evil").mkdir()
    (tmp_path / "ckpts_evil" / "victim.index").write_bytes(b"precious")
    os.symlink(str(tmp_path), str(folder / "link"))
    entry = entry.replace("/ABS", str(tmp_path))
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    (folder / "checkpoint").write_text(
        f'model_checkpoint_path: "{entry}"\nall_model_checkpoint_paths: "{entry}"\n')
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = tf.train.CheckpointManager(ckpt, str(folder), max_to_keep=1)
    assert manager.latest_checkpoint is None or \
        os.path.dirname(os.path.realpath(manager.latest_checkpoint)) == str(folder.resolve())
    for _ in range(3):
        manager.save()
    assert outside.read_bytes() == b"precious"
    assert (tmp_path / "ckpts_evil" / "victim.index").read_bytes() == b"precious"
    assert len(manager.checkpoints) == 1
    state = tf.train.get_checkpoint_state(str(folder))
    assert os.path.dirname(os.path.realpath(state.model_checkpoint_path)) == \
        str(folder.resolve())


def test_checkpoint_manager_keeps_its_own_old_checkpoints_working(tmp_path):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    for i in range(4):
        v.assign(float(i))
        manager.save()
    again = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    assert [os.path.basename(p) for p in again.checkpoints] == ["ckpt-3", "ckpt-4"]
    again.save()
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".index")) == \
        ["ckpt-4.index", "ckpt-5.index"]


# ------------------------------------------------------------------ Keras 3 path rules
@pytest.mark.parametrize("name", ["noext", "model.ckpt", "model.pb", "m.weights.h5x"])
def test_save_without_keras_extension_is_refused_like_keras3(tmp_path, name):
    m = small()
    with pytest.raises(ValueError, match=r"Invalid filepath extension.*\.keras.*zipped=False"):
        m.save(str(tmp_path / name))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["w", "w.h5", "w.ckpt", "w.hdf5", "weights.keras"])
def test_save_weights_requires_weights_h5_like_keras3(tmp_path, name):
    m = small()
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        m.save_weights(str(tmp_path / name))
    assert os.listdir(tmp_path) == []


def test_save_format_argument_follows_keras3(tmp_path):
    m = small()
    with pytest.raises(ValueError, match="save_format.*deprecated"):
        m.save(str(tmp_path / "d"), save_format="tf")
    with pytest.warns(UserWarning, match="save_format"):
        m.save(str(tmp_path / "m.keras"), save_format="keras")
    assert os.path.exists(tmp_path / "m.keras")


def test_legacy_tf_keras_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    m = small()
    m.save(str(tmp_path / "saved_model_dir"))
    assert sorted(os.listdir(tmp_path / "saved_model_dir")) == \
        ["config.json", "metadata.json", "model.weights.h5"]
    m.save_weights(str(tmp_path / "w.h5"))
    m.save_weights(str(tmp_path / "ckpt" / "cp"))
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("cp")
    other = small(seed=2)
    other.load_weights(str(tmp_path / "ckpt" / "cp"))
    for a, b in zip(other.weights, m.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_h5py_is_required_but_not_imported_by_import_tenfold():
    import re
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.S | re.M).group(1)
    assert '"h5py' in deps
    code = ("import tenfold, sys; assert 'h5py' not in sys.modules; "
            "from tenfold import keras; keras.Sequential([keras.Input((2,)), "
            "keras.layers.Dense(1)]); assert 'h5py' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
