"""`tf.train.CheckpointManager` and `tf.train.latest_checkpoint`.

A folder's `checkpoint` file (TensorFlow's text format) names the latest checkpoint and the ones
kept. It is rewritten atomically after each new checkpoint is complete, and old checkpoints are
deleted only after that, so a crash at any point leaves a loadable latest checkpoint.
"""
import os
import re
import time

from tenfold.train import _format
from tenfold.util import fileio as _fileio
from tenfold.framework.host import to_host

STATE_FILE = "checkpoint"
_MAX_STATE_BYTES = 16 << 20


def _quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1]
    return re.sub(r"\\(.)", r"\1", s)


def _rel(directory, path):
    path = os.path.abspath(path)
    directory = os.path.abspath(directory)
    if os.path.dirname(path) == directory:
        return os.path.basename(path)
    return path


def write_checkpoint_state(directory, latest, all_paths, timestamps=None,
                           last_preserved_timestamp=None):
    lines = [f"model_checkpoint_path: {_quote(_rel(directory, latest))}"]
    lines += [f"all_model_checkpoint_paths: {_quote(_rel(directory, p))}" for p in all_paths]
    for t in timestamps or []:
        lines.append(f"all_model_checkpoint_timestamps: {t!r}")
    if last_preserved_timestamp is not None:
        lines.append(f"last_preserved_timestamp: {last_preserved_timestamp!r}")
    _fileio.atomic_write_bytes(os.path.join(directory, STATE_FILE),
                               ("\n".join(lines) + "\n").encode("utf-8"))


def update_checkpoint_state(directory, latest, all_paths=None):
    """Records `latest` as the folder's latest checkpoint."""
    write_checkpoint_state(directory, latest, all_paths or [latest], [time.time()])


class CheckpointState:
    """The parsed `checkpoint` file (`tf.train.get_checkpoint_state`)."""

    def __init__(self, model_checkpoint_path, all_model_checkpoint_paths, timestamps,
                 last_preserved_timestamp):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = all_model_checkpoint_paths
        self.all_model_checkpoint_timestamps = timestamps
        self.last_preserved_timestamp = last_preserved_timestamp


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The folder's CheckpointState, or None if it has no `checkpoint` file."""
    path = os.path.join(os.fspath(checkpoint_dir), latest_filename or STATE_FILE)
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            text = f.read(_MAX_STATE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    if len(text) > _MAX_STATE_BYTES:
        raise ValueError(f"Checkpoint state file {path} is over {_MAX_STATE_BYTES} bytes: it is "
                         "not a checkpoint state file (TensorFlow's are a few lines).")
    latest, paths, stamps, preserved = None, [], [], None
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model_checkpoint_path":
            latest = _unquote(value)
        elif key == "all_model_checkpoint_paths":
            paths.append(_unquote(value))
        elif key == "all_model_checkpoint_timestamps":
            try:
                stamps.append(float(value))
            except ValueError:
                pass
        elif key == "last_preserved_timestamp":
            try:
                preserved = float(value)
            except ValueError:
                pass
    if latest is None:
        return None

    def full(p):
        return p if os.path.isabs(p) else os.path.join(os.fspath(checkpoint_dir), p)
    return CheckpointState(full(latest), [full(p) for p in paths], stamps, preserved)


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the latest checkpoint in `checkpoint_dir`, or None if there is none."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    if _format.exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    return None


def checkpoint_exists(prefix):
    return _format.exists(prefix)


def _confined(directory, path):
    """True when checkpoint prefix `path` names a file directly inside `directory` (after
    resolving `..` and symbolic links), the only place a manager may read or delete."""
    try:
        folder = os.path.realpath(directory)
        real = os.path.realpath(os.path.join(directory, path))
    except (OSError, ValueError):
        return False
    name = os.path.basename(real)
    return os.path.dirname(real) == folder and name not in ("", ".", "..", STATE_FILE)


class CheckpointManager:
    """Numbers, keeps and deletes checkpoints in a folder (`tf.train.CheckpointManager`).

        manager = tf.train.CheckpointManager(ckpt, "ckpts", max_to_keep=3)
        ckpt.restore(manager.latest_checkpoint)
        ...
        manager.save()    # "ckpts/ckpt-1", "ckpts/ckpt-2", ... keeping the 3 newest
    """

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None,
                 init_fn=None):
        if not hasattr(checkpoint, "write"):
            raise TypeError(f"CheckpointManager expects a tf.train.Checkpoint; got "
                            f"{type(checkpoint).__name__}")
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"max_to_keep must be a positive integer or None; got "
                             f"{max_to_keep}")
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("`step_counter` should be passed if `checkpoint_interval` is not "
                             "None.")
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        self._max_to_keep = max_to_keep
        self._keep_hours = keep_checkpoint_every_n_hours
        self._checkpoint_name = checkpoint_name
        self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval
        self._init_fn = init_fn
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._last_checkpoint_step = None
        os.makedirs(self._directory, exist_ok=True)
        state = get_checkpoint_state(self._directory)
        self._maybe = []            # [(path, timestamp)] oldest first
        self._last_preserved = time.time()
        if state is not None:
            stamps = state.all_model_checkpoint_timestamps
            paths = state.all_model_checkpoint_paths or [state.model_checkpoint_path]
            if len(stamps) != len(paths):
                stamps = [time.time()] * len(paths)
            kept = [(p, t) for p, t in zip(paths, stamps) if _confined(self._directory, p)]
            if len(kept) != len(paths):
                import warnings
                state_file = os.path.join(self._directory, STATE_FILE)
                warnings.warn(f"CheckpointManager: the state file {state_file} "
                              "names checkpoints outside its folder; they are ignored (never "
                              "read or deleted).", stacklevel=2)
            self._maybe = [(p, t) for p, t in kept if _format.exists(p)]
            if state.last_preserved_timestamp is not None:
                self._last_preserved = state.last_preserved_timestamp

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def checkpoints(self):
        """Paths of the kept checkpoints, oldest first."""
        return [p for p, _ in self._maybe]

    @property
    def latest_checkpoint(self):
        return self._maybe[-1][0] if self._maybe else None

    @property
    def checkpoint_interval(self):
        return self._checkpoint_interval

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Writes a new checkpoint, records it, deletes the oldest beyond `max_to_keep`.
        Returns its path (None when skipped by `checkpoint_interval`)."""
        if self._checkpoint_interval is not None and check_interval:
            step = int(_value(self._step_counter))
            if self._last_checkpoint_step is not None and \
                    step - self._last_checkpoint_step < self._checkpoint_interval:
                return None
        counter = getattr(self._checkpoint, "save_counter", None)
        if checkpoint_number is None:
            if counter is None:
                raise ValueError("checkpoint_number is required for this checkpoint object.")
            counter.assign_add(1)
            number = int(_value(counter))
        else:
            number = int(_value(checkpoint_number))
            if counter is not None:
                counter.assign_add(1)
        path = f"{self._prefix}-{number}"
        self._checkpoint.write(path)
        now = time.time()
        self._maybe = [(p, t) for p, t in self._maybe if p != path] + [(path, now)]
        to_delete = []
        if self._max_to_keep is not None:
            while len(self._maybe) > self._max_to_keep:
                old, stamp = self._maybe.pop(0)
                if self._keep_hours is not None and \
                        stamp - self._last_preserved >= self._keep_hours * 3600:
                    self._last_preserved = stamp
                    continue
                to_delete.append(old)
        write_checkpoint_state(self._directory, path, self.checkpoints,
                               [t for _, t in self._maybe], self._last_preserved)
        for old in to_delete:
            if _confined(self._directory, old):
                _format.remove(old)
        if self._step_counter is not None:
            self._last_checkpoint_step = int(_value(self._step_counter))
        return path

    def restore_or_initialize(self):
        """Restores the latest checkpoint if there is one (returning its path); otherwise runs
        `init_fn` and returns None."""
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None

    def sync(self):
        pass


def _value(x):
    if hasattr(x, "numpy"):
        return to_host(x)[()]
    return x
