"""`tf.train.Checkpoint`: save and restore variables, layers, models and optimizers by path.

    ckpt = tf.train.Checkpoint(step=tf.Variable(0), model=model, optimizer=optimizer)
    path = ckpt.save("ckpts/ckpt")          # "ckpts/ckpt-1"
    ckpt.restore(tf.train.latest_checkpoint("ckpts")).expect_partial()

Each value is stored under the path of attribute names that leads to it from the checkpoint
(`model/layers/dense/vars/0`, `optimizer/vars/3`, `step`): Keras objects use Keras 3's weight
paths. Restoring matches paths, checks every shape, then assigns everything at once. Values for
objects that do not exist yet (an optimizer before its first step, a layer before it is built)
are kept and assigned when the object builds them (TensorFlow's deferred restoration).

The file format is tenfold's own (see `_format`): a single checksummed file per checkpoint.
"""
import functools
import os

import numpy as np

from tenfold.framework.variable import Variable as _CoreVariable
from tenfold.train import _format
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import to_host


# How Keras objects are walked (their paths, as `.keras` files name them): registered by
# tenfold.keras when its layers or optimizers load (tenfold/keras/saving/_walk.py), since
# this tool sits below Keras. None: no Keras object exists.
_keras_walk = [None]


def register_keras_walk(module):
    _keras_walk[0] = module


def _walk_mod():
    return _keras_walk[0]


def _join(a, b):
    b = str(b)
    if not a:
        return b
    return f"{a}/{b}" if b else a


class _Graph:
    """The objects reachable from a checkpoint: key -> variable, custom-state objects, and
    Keras objects not built yet."""

    def __init__(self, deps):
        self.targets = {}
        self.hooks = {}          # key prefix -> object with save/load_own_variables
        self.unbuilt = []        # (key prefix, object)
        self._seen = set()
        self._walk = _walk_mod()
        for name, obj in deps:
            self._visit(obj, name)

    def _visit(self, obj, path):
        if isinstance(obj, _CoreVariable):
            self.targets.setdefault(path, obj)
            return
        walk = self._walk
        kind = walk.saveable_kind(obj) if walk is not None else None
        if kind is not None:
            for sub, o, k in walk.iter_saveables(obj):
                base = _join(path, sub)
                if walk.custom_hook(o, "save_own_variables") is not None:
                    self.hooks.setdefault(base, o)
                else:
                    for i, v in enumerate(walk.own_variables(o, k)):
                        self.targets.setdefault(f"{base}/vars/{i}", v)
                if not getattr(o, "built", True):
                    self.unbuilt.append((base, o))
            return
        if isinstance(obj, Checkpoint):
            if id(obj) in self._seen:
                return
            self._seen.add(id(obj))
            for name, d in obj._dependencies():
                self._visit(d, _join(path, name))
            return
        if isinstance(obj, dict):
            for k, v in obj.items():
                self._visit(v, _join(path, k))
            return
        if isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                self._visit(v, _join(path, i))
            return
        children = getattr(obj, "_trackable_children", None)
        if callable(children):
            if id(obj) in self._seen:
                return
            self._seen.add(id(obj))
            for name, d in dict(children()).items():
                self._visit(d, _join(path, name))
            return
        if hasattr(obj, "__dict__") and not isinstance(obj, type) and id(obj) not in self._seen:
            # A plain Python object (tf.Module style): its variables and trackable attributes.
            self._seen.add(id(obj))
            for name, v in sorted(vars(obj).items()):
                if name.startswith("__"):
                    continue
                if _is_trackable(v, walk):
                    self._visit(v, _join(path, name))

    def state(self):
        arrays = {k: np.array(to_host(v), copy=True) for k, v in self.targets.items()}
        for base, obj in self.hooks.items():
            store = {}
            obj.save_own_variables(store)
            for k, v in store.items():
                arrays[f"{base}/vars/{k}"] = np.array(to_host(v), copy=True)
        return arrays


def _is_trackable(v, walk):
    if isinstance(v, (_CoreVariable, Checkpoint)):
        return True
    if walk is not None and walk.saveable_kind(v) is not None:
        return True
    if isinstance(v, (list, tuple, dict)):
        vals = v.values() if isinstance(v, dict) else v
        return any(_is_trackable(x, walk) for x in vals)
    return callable(getattr(v, "_trackable_children", None))


def _match(graph, arrays, source, keys=None):
    """(plan of (variable, array), hook calls, matched keys, missing target keys); raises on
    shape mismatches naming every one."""
    plan, hooks, matched, missing, errors = [], [], set(), [], []
    for key, v in graph.targets.items():
        if keys is not None and key not in keys:
            continue
        arr = arrays.get(key)
        if arr is None:
            missing.append(key)
            continue
        want = tuple(shape_of(v))
        if tuple(arr.shape) != want:
            errors.append(f"'{key}': the object has shape {want}, the checkpoint {arr.shape}")
            continue
        plan.append((v, arr))
        matched.add(key)
    for base, obj in graph.hooks.items():
        pre = f"{base}/vars/"
        sub = {k[len(pre):]: a for k, a in arrays.items() if k.startswith(pre) and
               (keys is None or k in keys)}
        if sub:
            hooks.append((obj, sub))
            matched.update(pre + k for k in sub)
    if errors:
        raise ValueError(f"Checkpoint {source} does not match the objects being restored; "
                         "nothing was restored:\n  - " + "\n  - ".join(errors))
    return plan, hooks, matched, missing


def _assign(plan, hooks):
    snapshot = [(v, v.read_value()) for v, _ in plan]
    try:
        for v, arr in plan:
            if arr.dtype != npd(v):
                arr = arr.astype(npd(v))
            v.assign(arr)
        for obj, sub in hooks:
            obj.load_own_variables(sub)
    except BaseException:
        for v, old in snapshot:
            v.assign(old)
        raise


class CheckpointLoadStatus:
    """What a `restore` matched (`assert_consumed`, `expect_partial`, ...)."""

    def __init__(self, checkpoint, source, unconsumed, missing, deferred):
        self._checkpoint = checkpoint
        self._source = source
        self._unconsumed = unconsumed     # keys in the file with no object (yet)
        self._missing = missing           # object keys absent from the file
        self._deferred = deferred

    def _pending(self):
        if self._deferred is not None:
            return sorted(self._deferred.pending)
        return sorted(self._unconsumed)

    def assert_consumed(self):
        """Raises AssertionError unless every value in the checkpoint was restored into an
        object and every object's variables were restored."""
        pending = self._pending()
        graph = _Graph(self._checkpoint._dependencies())
        missing = [k for k in graph.targets if k not in self._all_keys()]
        if pending or missing:
            parts = []
            if pending:
                parts.append(f"values in the checkpoint not restored into any object: "
                             f"{_few(pending)}")
            if missing:
                parts.append(f"objects without a value in the checkpoint: {_few(missing)}")
            raise AssertionError(f"Checkpoint {self._source} was not fully consumed: "
                                 + "; ".join(parts))
        return self

    def _all_keys(self):
        return self._checkpoint._last_restored_keys

    def assert_existing_objects_matched(self):
        """Raises AssertionError if an existing object's variable has no value in the file."""
        graph = _Graph(self._checkpoint._dependencies())
        missing = [k for k in graph.targets if k not in self._all_keys()]
        if missing:
            raise AssertionError(f"Checkpoint {self._source}: existing objects without a value "
                                 f"in the checkpoint: {_few(missing)}")
        return self

    def assert_nothing_matched(self):
        if self._checkpoint._last_matched:
            raise AssertionError(f"Checkpoint {self._source} matched "
                                 f"{len(self._checkpoint._last_matched)} values.")
        return self

    def expect_partial(self):
        """Silences warnings about values that were not restored (as TensorFlow's)."""
        return self

    def run_restore_ops(self, session=None):
        pass

    def initialize_or_restore(self, session=None):
        pass


class InitializationOnlyStatus(CheckpointLoadStatus):
    """Returned by `restore(None)`: nothing to restore, variables keep their initial values."""

    def __init__(self, checkpoint):
        super().__init__(checkpoint, None, [], [], None)

    def assert_consumed(self):
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being "
                             "restored.")

    def assert_existing_objects_matched(self):
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being "
                             "restored.")

    def assert_nothing_matched(self):
        return self


def _few(keys, n=8):
    keys = list(keys)
    return ", ".join(keys[:n]) + (f" ... ({len(keys)} in all)" if len(keys) > n else "")


class _Deferred:
    """Values waiting for objects that are not built yet; assigned right after they build."""

    def __init__(self, checkpoint, arrays, source):
        self.checkpoint = checkpoint
        self.arrays = arrays
        self.source = source
        self.pending = set(arrays)
        self.initial = set(arrays)
        self.hooked = {}

    def install(self, graph):
        for base, obj in graph.unbuilt:
            if id(obj) in self.hooked or not hasattr(obj, "build"):
                continue
            if not any(k.startswith(base + "/") or k == base for k in self.pending):
                continue
            original = obj.build
            deferred = self

            @functools.wraps(original)
            def build(*args, __orig=original, **kwargs):
                out = __orig(*args, **kwargs)
                deferred.apply()
                return out
            try:
                obj.__dict__["build"] = build
            except (AttributeError, TypeError):
                continue
            self.hooked[id(obj)] = (obj, base)

    def apply(self):
        if not self.pending:
            return
        graph = _Graph(self.checkpoint._dependencies())
        ready = {k for k in graph.targets if k in self.pending}
        ready |= {k for base in graph.hooks for k in self.pending if k.startswith(base + "/")}
        if ready:
            plan, hooks, matched, _ = _match(graph, self.arrays, self.source, keys=ready)
            _assign(plan, hooks)
            self.pending -= matched
            self.checkpoint._last_matched |= matched
        for key, (obj, base) in list(self.hooked.items()):
            if getattr(obj, "built", False) or not any(
                    k.startswith(base + "/") for k in self.pending):
                obj.__dict__.pop("build", None)
                del self.hooked[key]
        if self.pending:
            self.install(_Graph(self.checkpoint._dependencies()))
        else:
            self.uninstall()

    def uninstall(self):
        for obj, _ in self.hooked.values():
            obj.__dict__.pop("build", None)
        self.hooked.clear()


class Checkpoint:
    """Groups trackable objects (variables, Keras layers/models/optimizers, nested dicts and
    lists, other checkpoints) for saving and restoring (`tf.train.Checkpoint`)."""

    def __init__(self, root=None, **kwargs):
        object.__setattr__(self, "_deps", {})
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_save_counter", None)
        object.__setattr__(self, "_last_restored_keys", set())
        object.__setattr__(self, "_last_matched", set())
        object.__setattr__(self, "_deferred", None)
        for name, obj in kwargs.items():
            self._add(name, obj)

    def _add(self, name, obj):
        if obj is None:
            raise ValueError(f"Checkpoint: `{name}` is None; pass a trackable object "
                             "(a tf.Variable, Keras model/layer/optimizer, or a dict/list of "
                             "them).")
        walk = _walk_mod()
        if not _is_trackable(obj, walk) and not hasattr(obj, "__dict__"):
            raise ValueError(f"Checkpoint was expecting a trackable object (an object derived "
                             f"from tf.Variable, a Keras layer/model/optimizer, ...) for "
                             f"`{name}`; got {obj!r} of type {type(obj).__name__}. Wrap plain "
                             "values in a tf.Variable.")
        self._deps[name] = obj

    def __getattr__(self, name):
        deps = self.__dict__.get("_deps", {})
        if name in deps:
            return deps[name]
        raise AttributeError(f"'Checkpoint' object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._add(name, value)

    def _dependencies(self):
        deps = []
        if self._root is not None:
            deps.append(("", self._root))
        deps.extend(self._deps.items())
        if self._save_counter is not None:
            deps.append(("save_counter", self._save_counter))
        return deps

    @property
    def save_counter(self):
        """How many times `save()` has run (restored with the checkpoint)."""
        if self._save_counter is None:
            from tenfold.framework import dtypes
            object.__setattr__(self, "_save_counter", _CoreVariable(
                np.zeros((), np.int64), trainable=False, name="save_counter",
                dtype=dtypes.int64))
        return self._save_counter

    # ---------------------------------------------------------------- writing
    def write(self, file_prefix, options=None):
        """Writes the checkpoint to exactly `file_prefix` (no numbering, no state file)."""
        file_prefix = os.fspath(file_prefix)
        arrays = _Graph(self._dependencies()).state()
        _format.write(file_prefix, arrays)
        return file_prefix

    def save(self, file_prefix, options=None):
        """Saves to `f"{file_prefix}-{n}"` (n = the save counter, from 1) and records it as the
        latest checkpoint of its folder. Returns that path."""
        from tenfold.train.checkpoint_management import update_checkpoint_state
        counter = self.save_counter
        counter.assign_add(1)
        path = f"{os.fspath(file_prefix)}-{int(to_host(counter))}"
        try:
            self.write(path)
        except BaseException:
            counter.assign_sub(1)
            raise
        update_checkpoint_state(os.path.dirname(os.path.abspath(path)), path)
        return path

    # ---------------------------------------------------------------- reading
    def read(self, save_path, options=None):
        """Restores from `save_path` (a prefix written by `write` or `save`)."""
        return self._restore(save_path)

    def restore(self, save_path, options=None):
        """Restores from `save_path`; `None` (no checkpoint yet) restores nothing. Returns a
        status with `assert_consumed()` / `expect_partial()`."""
        if save_path is None:
            return InitializationOnlyStatus(self)
        save_path = os.fspath(save_path)
        if os.path.isdir(save_path):
            from tenfold.train.checkpoint_management import latest_checkpoint
            latest = latest_checkpoint(save_path)
            if latest is None:
                raise FileNotFoundError(f"No checkpoint found in folder {save_path}.")
            save_path = latest
        return self._restore(save_path)

    def _restore(self, save_path):
        save_path = os.fspath(save_path)
        if save_path.endswith(_format.INDEX_SUFFIX):
            save_path = save_path[:-len(_format.INDEX_SUFFIX)]
        arrays, _ = _format.read(save_path)
        source = _format.index_path(save_path)
        if "save_counter" in arrays:
            self.save_counter   # create it so that it is restored too
        graph = _Graph(self._dependencies())
        plan, hooks, matched, missing = _match(graph, arrays, source)
        _assign(plan, hooks)
        object.__setattr__(self, "_last_restored_keys", set(arrays))
        object.__setattr__(self, "_last_matched", set(matched))
        unconsumed = set(arrays) - matched
        old = self._deferred
        if old is not None:
            old.uninstall()
        deferred = None
        if unconsumed:
            deferred = _Deferred(self, {k: arrays[k] for k in unconsumed}, source)
            deferred.install(graph)
            if not deferred.hooked:
                deferred = None
        object.__setattr__(self, "_deferred", deferred)
        return CheckpointLoadStatus(self, source, sorted(unconsumed), missing, deferred)


def list_variables(ckpt_dir_or_file):
    """[(name, shape)] of the values in a checkpoint (a prefix or a folder)."""
    path = _resolve(ckpt_dir_or_file)
    header = _format.read_header(path)
    return sorted((k, list(e["shape"])) for k, e in header.get("entries", {}).items())


def load_variable(ckpt_dir_or_file, name):
    """The value (NumPy array) stored under `name` in a checkpoint."""
    arrays, _ = _format.read(_resolve(ckpt_dir_or_file))
    if name not in arrays:
        raise ValueError(f"Checkpoint {_resolve(ckpt_dir_or_file)} has no variable {name!r}; it "
                         f"has: {_few(sorted(arrays))}")
    return arrays[name]


def load_checkpoint(ckpt_dir_or_file):
    """A reader with `get_variable_to_shape_map()`, `get_tensor(name)` and `has_tensor`."""
    return _Reader(_resolve(ckpt_dir_or_file))


class _Reader:
    def __init__(self, path):
        self._arrays, _ = _format.read(path)

    def get_variable_to_shape_map(self):
        return {k: list(v.shape) for k, v in self._arrays.items()}

    def get_variable_to_dtype_map(self):
        from tenfold.framework import dtypes
        return {k: dtypes.as_dtype(v.dtype) for k, v in self._arrays.items()}

    def has_tensor(self, name):
        return name in self._arrays

    def get_tensor(self, name):
        return self._arrays[name]


def _resolve(ckpt_dir_or_file):
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        from tenfold.train.checkpoint_management import latest_checkpoint
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given "
                             f"directory {path}")
        return latest
    return path

