"""`keras.callbacks.ModelCheckpoint`: save the model (or its weights) during training."""
import os
import warnings

import numpy as np

from tenfold.keras.callbacks.callback import _save_due_on_batch
from tenfold.keras.callbacks.monitor_callback import MonitorCallback
from tenfold.framework.host import to_host


class ModelCheckpoint(MonitorCallback):
    """Saves the model or its weights at the end of each epoch (or every `save_freq` batches).

    `filepath` may hold format fields filled from the epoch (1-based) and the logs:
    `"ckpt/model-{epoch:02d}-{val_loss:.2f}.keras"`. With `save_best_only=True` the file is
    written only when `monitor` improves. Files are written atomically: an interrupted save
    never leaves a damaged file under the checkpoint's name.

    `.keras` / `.h5` paths save the whole model; with `save_weights_only=True`, `.weights.h5`
    saves Keras-format weights and any other path (`"training/cp.ckpt"`, as tf.keras 2 code
    writes) a tenfold checkpoint readable by `model.load_weights(path)`.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None, **kwargs):
        kwargs.pop("options", None)
        period = kwargs.pop("period", None)
        if kwargs:
            raise TypeError(f"ModelCheckpoint got unexpected arguments: {sorted(kwargs)}")
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq if period is None else "epoch"
        self._period = period or 1
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if self.save_freq != "epoch" and not isinstance(self.save_freq, int):
            raise ValueError(f"Unrecognized save_freq: {self.save_freq}. Expected save_freq "
                             "are 'epoch' or integer values")
        if not save_weights_only and self.filepath.endswith(".weights.h5"):
            raise ValueError("ModelCheckpoint: a filepath ending in `.weights.h5` saves weights "
                             "only; pass `save_weights_only=True`, or use a `.keras` path to "
                             f"save the whole model. Received: filepath={self.filepath}")

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None and self.save_best_only:
            self._set_monitor_op()
        if self.save_freq == "epoch" and (epoch + 1) % self._period == 0:
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        return _save_due_on_batch(self, batch)

    def _should_save(self, epoch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        arr = to_host(current)
        if arr.ndim > 0:
            warnings.warn(f"Can save best model only when `monitor` is a scalar value. "
                          f"Received: {current}. Falling back to `save_best_only=False`.",
                          stacklevel=3)
            return True
        current = float(arr)
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _get_file_path(self, epoch, batch, logs):
        logs = dict(logs or {})
        logs = {k: (float(to_host(v))
                    if _is_number(v) else v) for k, v in logs.items()}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e} is not in the logs (available: epoch, "
                           f"{', '.join(sorted(logs))}).") from None

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.isdir(filepath) and not self.save_weights_only and \
                filepath.endswith((".keras", ".h5")):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        if not self._should_save(epoch, logs, filepath):
            return
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 1:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


def _is_number(v):
    try:
        arr = to_host(v)
    except Exception:
        return False
    return arr.ndim == 0 and arr.dtype.kind in "biuf"
