"""`keras.callbacks.BackupAndRestore`: resume `fit` where it stopped after the process died.

At the end of each epoch (or every `save_freq` batches) the callback writes one checkpoint file
holding the model's weights, the optimizer's state, the epoch reached and the random states
(Python's `random`, NumPy's global generator, tenfold's random streams). The file is written
under a temporary name and renamed into place, so a kill at any moment leaves the last complete
backup. When `fit` starts again with the same callback folder, all of that is restored and
training continues from the next epoch: with epoch-level backups the finished run is the same
as one that was never interrupted (same weights, same shuffling order).
"""
import os
import random
import sys

import numpy as np

from tenfold.keras.callbacks.callback import Callback, _save_due_on_batch
from tenfold.train import _format
from tenfold.framework.host import to_host

_PREFIX = "latest"
_PREV = "latest.prev"


class BackupAndRestore(Callback):
    """Backs up the training state to `backup_dir` and restores it when `fit` restarts.

    Args:
        backup_dir: a folder used only by this callback.
        save_freq: "epoch" (default), or an integer number of batches. A mid-epoch backup
            resumes at the start of that epoch (as Keras does), so only epoch-level backups
            give a run identical to an uninterrupted one.
        double_checkpoint: also keep the previous backup, used if the latest cannot be read.
        delete_checkpoint: delete the backup when training finishes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True, save_before_preemption=False):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and save_freq is not False and \
                not isinstance(save_freq, int):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch' or an integer "
                             "value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._prefix = os.path.join(self.backup_dir, _PREFIX)
        self._prev_prefix = os.path.join(self.backup_dir, _PREV)

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs=None):
        model = self.model
        if not getattr(model, "built", True):
            raise ValueError("To use the BackupAndRestore callback, your model must be built "
                             f"before you call `fit()`. Model {model.name!r} is unbuilt. Build "
                             "it beforehand by calling it on a batch of data.")
        for prefix in (self._prefix, self._prev_prefix):
            if not _format.exists(prefix):
                continue
            try:
                self._restore(prefix)
                return
            except (_format.CheckpointFormatError, OSError):
                if prefix == self._prev_prefix or not _format.exists(self._prev_prefix):
                    raise

    def _restore(self, prefix):
        from tenfold.keras.saving import saving_lib
        arrays, meta = _format.read(prefix)
        if meta.get("kind") != "tenfold-backup":
            raise ValueError(f"{_format.index_path(prefix)} is not a BackupAndRestore backup: "
                             "use a backup_dir that only this callback writes to.")
        model = self.model
        opt = getattr(model, "optimizer", None)
        if opt is not None and hasattr(opt, "build") and not getattr(opt, "built", True):
            opt.build(model.trainable_variables)
        reader = _ArrayReader(arrays)
        saving_lib.load_state(model, reader, _format.index_path(prefix))
        set_random_state(meta.get("random", {}), arrays, model)
        self._current_epoch = int(meta["epoch"])
        model._initial_epoch = self._current_epoch

    # ------------------------------------------------------------------ backup
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save(batch=0)

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save(batch=batch + 1)

    def _should_save_on_batch(self, batch):
        if self.save_freq in ("epoch", False):
            return False
        return _save_due_on_batch(self, batch)

    def _save(self, batch):
        from tenfold.keras.saving import saving_lib
        arrays = {}
        for path, _, values in saving_lib.collect_state(self.model):
            for key, value in values.items():
                arrays[f"{path}/vars/{key}" if path else f"vars/{key}"] = value
        rng_meta, rng_arrays = get_random_state(self.model)
        arrays.update(rng_arrays)
        meta = {"kind": "tenfold-backup", "epoch": self._current_epoch, "batch": batch,
                "random": rng_meta}
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and _format.exists(self._prefix):
            os.replace(_format.index_path(self._prefix), _format.index_path(self._prev_prefix))
        _format.write(self._prefix, arrays, meta)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            for prefix in (self._prefix, self._prev_prefix):
                _format.remove(prefix)
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass


class _ArrayReader:
    """A weights reader over flat `<path>/vars/<key>` arrays (for saving_lib.load_state)."""

    def __init__(self, arrays):
        self._groups = {}
        for key, arr in arrays.items():
            head, sep, tail = key.rpartition("/vars/")
            if not sep:
                if key.startswith("vars/"):
                    head, tail = "", key[5:]
                else:
                    continue
            self._groups.setdefault(head, {})[tail] = arr

    def get(self, path):
        return dict(self._groups.get(path, {}))

    def has(self, path):
        base = path[:-5] if path.endswith("/vars") else ("" if path == "vars" else path)
        return base in self._groups

    def close(self):
        pass


# ---------------------------------------------------------------------- random state
def get_random_state(model=None):
    """(JSON-able metadata, arrays) capturing every random stream training draws from:
    Python's `random`, NumPy's global generator, tenfold's random-op streams, the global and
    per-layer Keras SeedGenerators."""
    meta, arrays = {}, {}
    version, internal, gauss = random.getstate()
    meta["python"] = [version, list(internal), gauss]
    name, keys, pos, has_gauss, cached = np.random.get_state()
    arrays["rng/numpy_keys"] = np.asarray(keys)
    meta["numpy"] = [name, int(pos), int(has_gauss), float(cached)]
    from tenfold.ops import random_ops
    meta["tenfold"] = _encode(dict(random_ops._state))
    kr = sys.modules.get("tenfold.keras.random")
    glob = getattr(kr, "_GLOBAL", [None])[0] if kr is not None else None
    if glob is not None and hasattr(glob, "state"):
        arrays["rng/keras_global"] = np.array(to_host(glob.state), copy=True)
    for key, gen in _seed_generators(model):
        arrays[f"rng/{key}"] = np.array(to_host(gen.state), copy=True)
    return meta, arrays


def set_random_state(meta, arrays, model=None):
    if "python" in meta:
        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in meta and "rng/numpy_keys" in arrays:
        name, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((name, arrays["rng/numpy_keys"].astype(np.uint32), pos, has_gauss,
                             cached))
    if "tenfold" in meta:
        from tenfold.ops import random_ops
        state = _decode(meta["tenfold"])
        if isinstance(state, dict):
            random_ops._state.update(state)
    kr = sys.modules.get("tenfold.keras.random")
    if kr is not None and hasattr(kr, "_GLOBAL"):
        if "rng/keras_global" in arrays:
            kr.global_seed_generator().state.assign(arrays["rng/keras_global"])
        else:
            kr._GLOBAL[0] = None
    for key, gen in _seed_generators(model):
        if f"rng/{key}" in arrays:
            gen.state.assign(arrays[f"rng/{key}"])


def _seed_generators(model):
    """(stable key, generator) for the SeedGenerators held by the model's layers."""
    if model is None or not hasattr(model, "_flatten_layers"):
        return []
    out = []
    for i, layer in enumerate(model._flatten_layers()):
        for attr, value in sorted(vars(layer).items()):
            if type(value).__name__ == "SeedGenerator" and hasattr(value, "state"):
                out.append((f"layer{i}/{attr}", value))
    return out


def _encode(v):
    """JSON-able form of random-state objects (tuples, dicts with tuple keys, generators)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        return {"__dict__": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, np.random.Generator):
        return {"__np_generator__": _encode(v.bit_generator.state)}
    rng = getattr(v, "_rng", None)
    if isinstance(rng, np.random.Generator):
        return {"__tf_generator__": _encode(rng.bit_generator.state)}
    return {"__unsupported__": type(v).__name__}


def _decode(v):
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "__tuple__" in v:
        return tuple(_decode(x) for x in v["__tuple__"])
    if "__dict__" in v:
        return {_hashable(_decode(k)): _decode(x) for k, x in v["__dict__"]}
    if "__np_generator__" in v:
        g = np.random.default_rng()
        g.bit_generator.state = _decode(v["__np_generator__"])
        return g
    if "__tf_generator__" in v:
        from tenfold.ops import random_ops
        g = random_ops.Generator(seed=0)
        g._rng.bit_generator.state = _decode(v["__tf_generator__"])
        return g
    if "__unsupported__" in v:
        return None
    return v


def _hashable(k):
    if isinstance(k, list):
        return tuple(_hashable(x) for x in k)
    return k
