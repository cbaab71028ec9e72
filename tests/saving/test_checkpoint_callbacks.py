"""ModelCheckpoint and BackupAndRestore (including a training process killed with SIGKILL)."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tenfold import keras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = (x[:, :1] * 2 - x[:, 1:2]).astype("float32")
    return x, y


def _model():
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    return m


def test_model_checkpoint_formats_names_and_saves_each_epoch(tmp_path):
    x, y = _data()
    pattern = str(tmp_path / "ck" / "model-{epoch:02d}-{val_loss:.3f}.keras")
    cb = keras.callbacks.ModelCheckpoint(pattern)
    model = _model()
    model.fit(x, y, epochs=3, validation_data=(x, y), callbacks=[cb], verbose=0)
    files = sorted(os.listdir(tmp_path / "ck"))
    losses = model.history.history["val_loss"]
    assert files == [f"model-{i + 1:02d}-{l:.3f}.keras" for i, l in enumerate(losses)]
    last = keras.models.load_model(str(tmp_path / "ck" / files[-1]))
    np.testing.assert_array_equal(last.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_checkpoint_save_best_only(tmp_path):
    x, y = _data()
    path = str(tmp_path / "best.weights.h5")
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_loss"], os.path.getmtime(path) if os.path.exists(path)
                         else None, [v.numpy().copy() for v in self.model.weights]))

    cb = keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True,
                                         save_weights_only=True)
    model = _model()
    # a large learning rate makes the validation loss go up and down
    model.optimizer.learning_rate.assign(0.5) if hasattr(model.optimizer.learning_rate,
                                                         "assign") else None
    model.fit(x, y, epochs=6, validation_data=(x, y), callbacks=[cb, Spy()], verbose=0)
    losses = [s[0] for s in seen]
    best = int(np.argmin(losses))
    other = _model()
    other.load_weights(path)
    for a, b in zip([v.numpy() for v in other.weights], seen[best][2]):
        np.testing.assert_array_equal(a, b)
    assert cb.best == pytest.approx(min(losses))


def test_model_checkpoint_threshold_and_mode(tmp_path):
    x, y = _data()
    path = str(tmp_path / "m.keras")
    cb = keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True,
                                         initial_value_threshold=-1.0)
    _model().fit(x, y, epochs=2, validation_data=(x, y), callbacks=[cb], verbose=0)
    assert not os.path.exists(path)          # never better than an impossible threshold
    cb = keras.callbacks.ModelCheckpoint(path, monitor="val_mae", mode="max",
                                         save_best_only=True, verbose=1)
    _model().fit(x, y, epochs=2, validation_data=(x, y), callbacks=[cb], verbose=0)
    assert os.path.exists(path)
    with pytest.raises(ValueError, match="save_weights_only"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"))


def test_model_checkpoint_batch_frequency(tmp_path):
    x, y = _data()
    pattern = str(tmp_path / "b-{epoch}-{batch}.weights.h5")
    cb = keras.callbacks.ModelCheckpoint(pattern, save_weights_only=True, save_freq=2)
    _model().fit(x, y, epochs=1, batch_size=10, callbacks=[cb], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["b-1-2.weights.h5", "b-1-4.weights.h5"]


SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, {root!r})
    from tenfold import keras

    backup, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1))).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")

    class Killer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == kill_at and batch == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = [keras.callbacks.BackupAndRestore(backup)] if backup != "-" else []
    if kill_at >= 0:
        callbacks.append(Killer())
    model.fit(x, y, epochs=6, batch_size=8, shuffle=True, callbacks=callbacks, verbose=0)
    np.savez(out, *[v.numpy() for v in model.weights],
             *[v.numpy() for v in model.optimizer.variables])
    print("epochs run:", len(model.history.history.get("loss", [])))
""")


def _run(script, *args):
    return subprocess.run([sys.executable, script, *map(str, args)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": "0"})


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_backup_and_restore_after_sigkill_matches_uninterrupted(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(root=ROOT))
    backup = tmp_path / "backup"
    ref = _run(script, "-", tmp_path / "ref.npz", -1)
    assert ref.returncode == 0, ref.stderr
    killed = _run(script, backup, tmp_path / "x.npz", 3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert os.path.exists(backup / "latest.index")
    resumed = _run(script, backup, tmp_path / "resumed.npz", -1)
    assert resumed.returncode == 0, resumed.stderr
    assert "epochs run: 3" in resumed.stdout      # epochs 3, 4, 5 (0-2 came from the backup)
    assert not os.path.exists(backup)             # deleted after a finished run
    want, got = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "resumed.npz")
    assert len(want.files) == len(got.files) > 4
    for k in want.files:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_backup_and_restore_in_process(tmp_path):
    """Keras's documented use: an exception interrupts fit; the next fit resumes."""
    x, y = _data()
    backup = str(tmp_path / "b")

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("Interrupting!")

    model = _model()
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(x, y, epochs=5, callbacks=[keras.callbacks.BackupAndRestore(backup),
                                             Interrupt()], verbose=0)
    history = model.fit(x, y, epochs=5, callbacks=[keras.callbacks.BackupAndRestore(backup)],
                        verbose=0)
    assert len(history.history["loss"]) == 3


def test_backup_dir_must_be_given():
    with pytest.raises(ValueError, match="backup_dir"):
        keras.callbacks.BackupAndRestore("")


def test_backup_every_n_batches_resumes_in_the_interrupted_epoch(tmp_path):
    x, y = _data()
    backup = str(tmp_path / "b")
    seen = []

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

        def on_train_batch_end(self, batch, logs=None):
            if len(seen) == 2 and batch == 2:
                raise RuntimeError("Interrupting!")

    model = _model()
    with pytest.raises(RuntimeError):
        model.fit(x, y, epochs=4, batch_size=10, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=2), Interrupt()])
    starts = []

    class Starts(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            starts.append(epoch)

    model.fit(x, y, epochs=4, batch_size=10, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=2), Starts()])
    assert starts == [1, 2, 3]
