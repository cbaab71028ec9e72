"""`.keras` files (Keras 3's zip of config.json, metadata.json, model.weights.h5), weights files,
JSON configs, and legacy Keras 2 `.h5` model files.

Writes go to a temporary file that is renamed into place, so a crash mid-save never destroys
the previous file. Loads read and check everything (zip CRCs, HDF5 structure, every weight's
shape) before assigning anything; on any error the model in memory is left unchanged and the
message names the file and what is wrong.
"""
import datetime
import hashlib
import io
import json
import os
import warnings
import zipfile

import numpy as np

from tenfold.keras.saving import _walk, _zip_guard, limits
from tenfold.keras.saving import serialization_lib as ser
from tenfold.keras.saving.h5_store import H5Reader, H5Writer, h5_errors
from tenfold.util import fileio as _fileio
from tenfold.util.tensor_meta import npd

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
ASSETS_DIR = "assets"
WEIGHTS_FILE_NPZ = "model.weights.npz"
# Newest file layout this code reads: .keras files from Keras 3.x, tenfold format 1.
SUPPORTED_KERAS_MAJOR = 3
TENFOLD_FORMAT_VERSION = 1
_MAX_JSON_BYTES = 256 << 20
_MAX_WEIGHTS_BYTES = 1 << 40
CHECKSUMS_KEY = "tenfold_sha256"     # in metadata.json: member name -> SHA-256 hex
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class LoadError(ValueError):
    """A file could not be loaded (corrupted, truncated, wrong kind, newer format, or not
    matching the model); the message names the file."""


# ================================================================================== saving
def legacy_tf_keras():
    """True when TF_USE_LEGACY_KERAS is set: TensorFlow's switch that makes `tf.keras` the
    Keras 2 API (tf_keras), where `save("dir")` wrote a SavedModel folder and
    `save_weights("prefix")` a TensorFlow checkpoint. tenfold then writes a model folder and
    a tenfold checkpoint for those paths; otherwise the Keras 3 rules apply."""
    return os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves `model` (architecture, weights, optimizer state, compile arguments).

    - `*.keras`: Keras 3's zip format (readable by Keras 3).
    - `*.h5` / `*.hdf5`: the legacy Keras HDF5 format.
    - `zipped=False`: the same content as `.keras`, unzipped in a folder, replaced atomically.
    Any other path is refused, as Keras 3 does, unless TF_USE_LEGACY_KERAS=1 (then a path
    without extension, or `save_format="tf"`, writes the folder, as tf.keras 2 code expects).
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", None)
    legacy = legacy_tf_keras()
    for name in ("save_traces", "options", "signatures"):
        if name in kwargs and (legacy or kwargs[name] is None):
            kwargs.pop(name)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if not getattr(model, "built", True):
        warnings.warn("You are saving a model that has not yet been built: it has no weights "
                      "yet. Build it first by calling it on some data.", stacklevel=2)
    if hasattr(filepath, "write") and not isinstance(filepath, (str, os.PathLike)):
        filepath.write(_keras_zip_bytes(model, include_optimizer))
        return
    path = os.fspath(filepath)
    is_file_ext = path.endswith((".h5", ".hdf5", ".keras"))
    if save_format and not legacy:
        if not is_file_ext:
            raise ValueError("The `save_format` argument is deprecated in Keras 3. Please "
                             "remove this argument and pass a file path with either `.keras` "
                             f"or `.h5` extension. Received: save_format={save_format}. (For "
                             "tf.keras 2 behaviour set the environment variable "
                             "TF_USE_LEGACY_KERAS=1; for a folder pass zipped=False.)")
        warnings.warn("The `save_format` argument is deprecated in Keras 3. We recommend "
                      "removing this argument as it can be inferred from the file path. "
                      f"Received: save_format={save_format}", stacklevel=2)
        save_format = None
    if save_format in ("h5", "hdf5") or path.endswith((".h5", ".hdf5")):
        _check_overwrite(path, overwrite)
        from tenfold.keras.saving import legacy_h5
        return legacy_h5.save_model_to_hdf5(model, path, include_optimizer)
    if save_format == "tf" or (legacy and zipped is None and not path.endswith(".keras")):
        zipped = False
    if zipped is None:
        zipped = True
    if zipped:
        if not path.endswith(".keras"):
            raise ValueError("Invalid filepath extension for saving. Please add either a "
                             "`.keras` extension for the native Keras format (recommended) or "
                             "a `.h5` extension. Use `model.export(filepath)` if you want to "
                             "export a SavedModel for use with TFLite/TFServing/etc. Received: "
                             f"filepath={path}. (To write an unzipped folder pass "
                             "zipped=False.)")
        _check_overwrite(path, overwrite)
        _fileio.atomic_write_bytes(path, _keras_zip_bytes(model, include_optimizer))
        return
    if path.endswith(".keras"):
        raise ValueError("When using `zipped=False`, the `filepath` argument should not end in "
                         f"`.keras`. Received: filepath={path}")
    _check_overwrite(path, overwrite)
    config_json, metadata_json, weights = _model_files(model, include_optimizer)
    with _fileio.atomic_directory(path) as tmp:
        for name, data in ((METADATA_FILE, metadata_json.encode()),
                           (CONFIG_FILE, config_json.encode()), (WEIGHTS_FILE, weights)):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            _fileio.step(f"wrote {name}")


def _check_overwrite(path, overwrite):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} already exists and overwrite=False: pick another name or "
                              "pass overwrite=True.")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "as_list"):
        return o.as_list()
    if hasattr(o, "name") and type(o).__name__ == "DType":
        return o.name
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable: {o!r}. Its "
                    "get_config() should return plain Python values.")


def model_to_config(model):
    with ser.ObjectSharingScope():
        return ser.serialize_keras_object(model)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _model_files(model, include_optimizer=True):
    """(config.json text, metadata.json text, weights bytes); the metadata carries the SHA-256
    of the other two, checked on loading."""
    config_json = json.dumps(model_to_config(model), default=_json_default)
    weights = _weights_h5_bytes(model, include_optimizer)
    from tenfold._version import __tenfold_version__ as tenfold_version
    from tenfold.keras._version import __version__ as keras_version
    metadata_json = json.dumps({
        "keras_version": keras_version,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "tenfold_version": tenfold_version,
        "tenfold_format_version": TENFOLD_FORMAT_VERSION,
        CHECKSUMS_KEY: {CONFIG_FILE: _sha256(config_json.encode()),
                        WEIGHTS_FILE: _sha256(weights)},
    })
    return config_json, metadata_json, weights


def _check_member_sum(meta, member, data, display):
    sums = meta.get(CHECKSUMS_KEY) if isinstance(meta, dict) else None
    want = sums.get(member) if isinstance(sums, dict) else None
    if want is not None and _sha256(data) != want:
        raise LoadError(f"{display} is corrupted: '{member}' does not match the SHA-256 "
                        "checksum recorded in metadata.json when it was saved (a damaged copy "
                        "or a modified file). Nothing was loaded. If you edited it on purpose, "
                        f"delete the '{CHECKSUMS_KEY}' entry from metadata.json.")


def collect_state(root, include_optimizer=True):
    """[(path, name, {key: array})] for every saveable of `root`, in Keras's order."""
    out = []
    for path, obj, kind in _walk.iter_saveables(root):
        if kind == "Optimizer" and not include_optimizer:
            continue
        name = obj.name if isinstance(getattr(obj, "name", None), str) else None
        hook = _walk.custom_hook(obj, "save_own_variables")
        if hook is not None:
            store = {}
            hook(store)
            values = {str(k): _to_numpy(v) for k, v in store.items()}
        else:
            values = {str(i): _to_numpy(v) for i, v in
                      enumerate(_walk.own_variables(obj, kind))}
        out.append((path, name, values))
    return out


def _to_numpy(v):
    """A host NumPy copy of a variable's (or array's) value, whatever the backend."""
    from tenfold.framework.host import to_host
    return np.array(to_host(v), copy=True)


def _weights_h5_bytes(model, include_optimizer=True):
    bio = io.BytesIO()
    writer = H5Writer(bio)
    try:
        for path, name, values in collect_state(model, include_optimizer):
            writer.write_group(path, values, name=name)
    finally:
        writer.close()
    return bio.getvalue()


def _keras_zip_bytes(model, include_optimizer=True):
    config_json, metadata_json, weights = _model_files(model, include_optimizer)
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as zf:
        zf.writestr(METADATA_FILE, metadata_json)
        zf.writestr(CONFIG_FILE, config_json)
        zf.writestr(WEIGHTS_FILE, weights)
        for name, data in collect_assets(model):
            zf.writestr(name, data)
    return bio.getvalue()


def collect_assets(root):
    """[(archive name, bytes)]: the files each saveable's `save_assets(dir)` writes (lookup
    vocabularies), under Keras's `assets/<path>/`."""
    import tempfile
    out = []
    for path, obj, kind in _walk.iter_saveables(root):
        hook = getattr(obj, "save_assets", None)
        if hook is None or not callable(hook):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            hook(tmp)
            for name in sorted(os.listdir(tmp)):
                full = os.path.join(tmp, name)
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        out.append((f"{ASSETS_DIR}/{path}/{name}" if path else
                                    f"{ASSETS_DIR}/{name}", f.read()))
    return out


def load_assets(root, read_member, names, display):
    """Gives each saveable with `load_assets(dir)` a folder holding its files from the
    archive's `assets/<path>/` (names only: nothing outside that folder is written)."""
    import tempfile
    for path, obj, kind in _walk.iter_saveables(root):
        hook = getattr(obj, "load_assets", None)
        if hook is None or not callable(hook):
            continue
        prefix = f"{ASSETS_DIR}/{path}/" if path else f"{ASSETS_DIR}/"
        mine = [n for n in names if n.startswith(prefix) and "/" not in n[len(prefix):]
                and n[len(prefix):] not in ("", ".", "..")]
        if not mine:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for n in mine:
                with open(os.path.join(tmp, n[len(prefix):]), "wb") as f:
                    f.write(read_member(n))
            hook(tmp)


def save_weights(model, filepath, overwrite=True, max_shard_size=None, **kwargs):
    """Saves the weights (and optimizer state) of `model` to a `*.weights.h5` file (Keras 3's
    weights format; any other name is refused, as Keras 3 does).

    With TF_USE_LEGACY_KERAS=1 (tf.keras 2 code), `*.h5` also writes a weights file and any
    other path writes a tenfold checkpoint (`path.index`), as tf.keras 2 wrote its
    TensorFlow-format weights."""
    path = os.fspath(filepath)
    save_format = kwargs.pop("save_format", None)
    kwargs.pop("options", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    legacy = legacy_tf_keras()
    if max_shard_size is not None:
        raise NotImplementedError("Sharded weights (max_shard_size) are not supported yet; save "
                                  "a single .weights.h5 file.")
    if not path.endswith(".weights.h5") and not legacy:
        hint = (" Use model.save() for .keras files." if path.endswith(".keras") else
                f" Save to '{_weights_name_for(path)}' instead (tf.keras 2 code that needs the "
                "old behaviour can set the environment variable TF_USE_LEGACY_KERAS=1).")
        raise ValueError("The filename must end in `.weights.h5`. Received: "
                         f"filepath={path}.{hint}")
    if path.endswith(".keras"):
        raise ValueError("The filename must end in `.weights.h5` for save_weights(); use "
                         f"model.save() for .keras files. Received: filepath={path}")
    if not getattr(model, "built", True):
        raise ValueError("You are saving a model that has not yet been built. Build the model "
                         "first by calling it on some data or by using `build()`.")
    _check_overwrite(path, overwrite)
    if path.endswith((".h5", ".hdf5")) or save_format == "h5":
        _fileio.atomic_write_bytes(path, _weights_h5_bytes(model))
        return
    from tenfold.train.checkpoint import Checkpoint
    Checkpoint(model=model).write(path)
    from tenfold.train.checkpoint_management import update_checkpoint_state
    update_checkpoint_state(os.path.dirname(os.path.abspath(path)), path)


def _weights_name_for(path):
    for ext in (".weights.h5", ".h5", ".hdf5", ".ckpt", ".weights"):
        if path.endswith(ext):
            return path[:-len(ext)] + ".weights.h5"
    return path + ".weights.h5"


# ================================================================================== loading
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved with `model.save()` by tenfold or Keras (`.keras` zip, a folder of
    the same files, or a legacy `.h5` model file).

    `safe_mode=True` (the default) refuses files that would run Python code on loading
    (lambdas); only set it to False for files you trust. Every file is checked before it is
    trusted (see the module docstring and `limits`).
    """
    if hasattr(filepath, "read") and not isinstance(filepath, (str, os.PathLike)):
        data = filepath.read()
        return _load_zip(data, "<file object>", custom_objects, compile, safe_mode)
    path = os.fspath(filepath)
    if not os.path.exists(path) and not path.endswith((".keras", ".h5", ".hdf5")):
        _fileio.recover_directory(path)     # a folder save killed between its two renames
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, CONFIG_FILE)):
            return _load_dir(path, custom_objects, compile, safe_mode)
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            raise LoadError(f"{path} is a TensorFlow SavedModel folder. tenfold reads Keras "
                            "model files (.keras, .h5); re-save the model from TensorFlow with "
                            "model.save('model.keras').")
        raise LoadError(f"{path} is a folder without {CONFIG_FILE}: not a saved Keras model.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No file or directory found at {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_HDF5_MAGIC):
        from tenfold.keras.saving import legacy_h5
        return legacy_h5.load_model_from_hdf5(path, custom_objects, compile, safe_mode)
    if not head.startswith(b"PK"):
        hint = " (it is empty)" if not head else ""
        raise LoadError(f"{path} is not a Keras model file{hint}: expected a .keras zip archive "
                        "or an HDF5 (.h5) file. The file may be corrupted or truncated.")
    return _load_zip(path, path, custom_objects, compile, safe_mode)


def _open_zip(source, display):
    try:
        return _zip_guard.open_checked(source, display)
    except _zip_guard.ZipRefused as e:
        raise LoadError(str(e)) from None


def _read_member(zf, name, display, limit=_MAX_WEIGHTS_BYTES):
    try:
        return _zip_guard.read_member(zf, name, display, limit)
    except _zip_guard.ZipRefused as e:
        raise LoadError(str(e)) from None


def _parse_json(raw, display, member):
    try:
        value = json.loads(raw)
    except RecursionError:
        raise limits.LoadLimitError(f"Refusing to load {display}: '{member}' nests too deeply "
                                    "to parse (the file is corrupted or hostile).") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise LoadError(f"{display}: '{member}' is not valid JSON ({e}); the file is corrupted "
                        "or not a Keras model.") from None
    limits.check_depth(value, f"{display} ({member})")
    return value


def check_metadata(meta, display):
    """Refuses files written by a newer format than this version reads."""
    if not isinstance(meta, dict):
        raise LoadError(f"{display}: metadata.json is not a JSON object.")
    fmt = meta.get("tenfold_format_version")
    if isinstance(fmt, int) and fmt > TENFOLD_FORMAT_VERSION:
        raise LoadError(f"{display} was written with tenfold file format version {fmt}, newer "
                        f"than this tenfold reads ({TENFOLD_FORMAT_VERSION}). Upgrade tenfold to "
                        "load it.")
    kv = meta.get("keras_version")
    if isinstance(kv, str):
        try:
            major = int(kv.split(".")[0])
        except ValueError:
            major = None
        if major is not None and major > SUPPORTED_KERAS_MAJOR:
            raise LoadError(f"{display} was saved by Keras {kv}, a newer file format than this "
                            f"tenfold reads (Keras {SUPPORTED_KERAS_MAJOR}.x). Re-save it with "
                            f"Keras {SUPPORTED_KERAS_MAJOR} or upgrade tenfold.")


def _load_zip(source, display, custom_objects, compile, safe_mode):
    zf = _open_zip(source, display)
    with zf:
        names = zf.namelist()
        meta = {}
        if METADATA_FILE in names:
            meta = _parse_json(_read_member(zf, METADATA_FILE, display, 1 << 20), display,
                               METADATA_FILE)
            check_metadata(meta, display)
        config_raw = _read_member(zf, CONFIG_FILE, display, _MAX_JSON_BYTES)
        _check_member_sum(meta, CONFIG_FILE, config_raw, display)
        if WEIGHTS_FILE in names:
            weights = ("h5", _read_member(zf, WEIGHTS_FILE, display))
            _check_member_sum(meta, WEIGHTS_FILE, weights[1], display)
        elif WEIGHTS_FILE_NPZ in names:
            weights = ("npz", _read_member(zf, WEIGHTS_FILE_NPZ, display))
        else:
            raise LoadError(f"{display} has no weights: expected '{WEIGHTS_FILE}' in the "
                            f"archive (members: {names}).")
        assets = {n: _read_member(zf, n, display) for n in names
                  if n.startswith(ASSETS_DIR + "/") and not n.endswith("/")}
    return _build_and_load(config_raw, weights, display, custom_objects, compile, safe_mode,
                           assets)


def _build_and_load(config_raw, weights, display, custom_objects, compile, safe_mode,
                    assets=None):
    reader = _weights_reader(weights, display)
    try:
        model = model_from_config_json(config_raw, custom_objects, compile, safe_mode, display,
                                       stored_elements=reader.declared_elements)
        with h5_errors(reader.name):
            load_state(model, reader, display)
    finally:
        reader.close()
    if assets:
        load_assets(model, assets.__getitem__, list(assets), display)
    return model


def _load_dir(path, custom_objects, compile, safe_mode):
    meta_path = os.path.join(path, METADATA_FILE)
    meta = {}
    if os.path.exists(meta_path):
        meta = _parse_json(_read_file(meta_path, 1 << 20), path, METADATA_FILE)
        check_metadata(meta, path)
    config_raw = _read_file(os.path.join(path, CONFIG_FILE), _MAX_JSON_BYTES)
    _check_member_sum(meta, CONFIG_FILE, config_raw, path)
    wpath = os.path.join(path, WEIGHTS_FILE)
    npz = os.path.join(path, WEIGHTS_FILE_NPZ)
    if os.path.exists(wpath):
        weights = ("h5", _read_file(wpath, _MAX_WEIGHTS_BYTES))
        _check_member_sum(meta, WEIGHTS_FILE, weights[1], path)
    elif os.path.exists(npz):
        weights = ("npz", _read_file(npz, _MAX_WEIGHTS_BYTES))
    else:
        raise LoadError(f"{path} has no {WEIGHTS_FILE}.")
    return _build_and_load(config_raw, weights, path, custom_objects, compile, safe_mode)


def _read_file(path, limit):
    size = os.path.getsize(path)
    if size > limit:
        raise LoadError(f"{path} is {size} bytes, over the {limit}-byte limit for that file.")
    with open(path, "rb") as f:
        return f.read()


class _NpzReader:
    """Weights of tenfold's first file format (an .npz inside the .keras archive)."""
    declared_elements = None

    def __init__(self, data, display):
        self.name = display
        try:
            self._npz = np.load(io.BytesIO(data), allow_pickle=False)
            self._keys = set(self._npz.files)
        except Exception as e:
            raise LoadError(f"{display}: weights archive is corrupted ({e}).") from None

    def get(self, path):
        key = path or "__root__"
        if key not in self._keys:
            return {}
        try:
            arr = self._npz[key]
        except ValueError as e:
            raise LoadError(f"{self.name}: weights entry {key!r} cannot be read without "
                            f"unpickling, which is refused ({e}).") from None
        return {} if arr.dtype == object else dict(arr.tolist())

    def has(self, path):
        return (path or "__root__") in self._keys

    def verify(self):
        pass

    def read_group(self, group):
        return group

    def close(self):
        self._npz.close()


def _weights_reader(weights, display):
    kind, data = weights
    name = f"{display} ({WEIGHTS_FILE if kind == 'h5' else WEIGHTS_FILE_NPZ})"
    if kind == "npz":
        return _NpzReader(data, name)
    return H5Reader(data, name)


def model_from_config_json(config_raw, custom_objects=None, compile=True, safe_mode=True,
                           display="the config", stored_elements=None):
    """Rebuilds a model from its JSON config, within the limits of `limits` (nesting depth;
    parameters, counted before each weight is allocated, at most `stored_elements` + 1M when
    the file's weights store declares `stored_elements` values)."""
    if isinstance(config_raw, (bytes, bytearray, str)):
        config = _parse_json(config_raw, display, CONFIG_FILE)
    else:
        config = config_raw
        limits.check_depth(config, display)
    if not isinstance(config, dict) or "class_name" not in config:
        raise LoadError(f"{display}: config.json does not describe a Keras object (no "
                        "'class_name').")
    ser.scan_config(config, safe_mode if ser.in_safe_mode() is None else ser.in_safe_mode(),
                    display)
    if not compile:
        config = dict(config)
        config.pop("compile_config", None)
    try:
        with ser.ObjectSharingScope(), ser.SafeModeScope(safe_mode), \
                limits.parameter_budget(display, stored_elements):
            model = ser.deserialize_keras_object(config, custom_objects, safe_mode=safe_mode)
    except (ser.UnsafeConfigError, limits.LoadLimitError):
        raise
    except RecursionError:
        raise limits.LoadLimitError(f"Refusing to load {display}: its config nests too deeply "
                                    "to rebuild.") from None
    except (TypeError, ValueError, KeyError) as e:
        limit = _find_cause(e, limits.LoadLimitError)
        if limit is not None:     # a layer wrapped it (e.g. "while building ..."): unwrap
            raise limits.LoadLimitError(str(limit)) from None
        msg = str(e) if not isinstance(e, KeyError) else f"missing key {e}"
        raise type(e)(f"Could not rebuild the model from {display}: {msg}") from e
    return model


def _find_cause(error, kind):
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """A model from `model.to_json()` output (architecture only; weights are fresh)."""
    return model_from_config_json(json_string, custom_objects, compile=False,
                                  safe_mode=safe_mode, display="the JSON config")


def model_to_json(model, **kwargs):
    return json.dumps(model_to_config(model), default=_json_default, **kwargs)


# ================================================================================== state I/O
def load_state(root, reader, display, skip_mismatch=False, include_optimizer=True):
    """Checks every saveable's variables in `reader` (names, counts, shapes, dtypes: from the
    file's metadata, before any array is read), then reads them (checking the file's checksum)
    and assigns them all. Nothing is assigned when anything is wrong (unless `skip_mismatch`,
    which skips the mismatching objects with a warning, as Keras does)."""
    entries = _walk.iter_saveables(root)
    _maybe_build_optimizers(root, entries, reader)
    entries = _walk.iter_saveables(root)
    plan, hooks, errors, notes = [], [], [], []
    for path, obj, kind in entries:
        if kind == "Optimizer" and not include_optimizer:
            continue
        group = reader.get(path)
        hook = _walk.custom_hook(obj, "load_own_variables")
        if hook is not None:
            hooks.append((obj, hook, group))
            continue
        variables = _walk.own_variables(obj, kind)
        where = f"{kind.lower() if kind != 'Layer' else 'layer'} '{getattr(obj, 'name', '?')}'"
        where += f" (at '{path or '/'}')"
        if kind == "Optimizer" and 0 < len(group) <= 2 < len(variables) and all(
                tuple(getattr(group.get(str(i)), "shape", (None,))) ==
                tuple(variables[i].shape) == ()
                for i in range(len(group))):
            # saved before its first step (iterations, learning rate only): a fresh state
            plan.extend((variables[i], group[str(i)]) for i in range(len(group)))
            continue
        if len(group) != len(variables):
            if kind == "Optimizer" or skip_mismatch:
                if variables or group:
                    notes.append(f"Skipping variable loading for {where}: it has "
                                 f"{len(variables)} variables, {display} has {len(group)}."
                                 + (" The optimizer was not built yet." if not variables
                                    else ""))
                continue
            errors.append(f"{where} has {len(variables)} variables but the file has "
                          f"{len(group)}" + (" (the layer is not built: call the model on "
                                              "data first)" if not variables and
                                              not getattr(obj, "built", True) else ""))
            continue
        pairs = []
        for i, v in enumerate(variables):
            arr = group.get(str(i))
            if arr is None:
                errors.append(f"{where}: the file has no variable '{i}' (keys: "
                              f"{sorted(group)})")
                break
            want = tuple(v.shape)
            if tuple(arr.shape) != want:
                msg = (f"{where}: variable {i} ('{getattr(v, 'path', v.name)}') has shape "
                       f"{want} in the model but {tuple(arr.shape)} in the file")
                if skip_mismatch:
                    notes.append(f"Skipping {msg}.")
                    pairs = None
                    break
                errors.append(msg)
                continue
            if arr.dtype.kind not in "biufV" and arr.dtype.name != "bfloat16":
                errors.append(f"{where}: variable {i} has unsupported dtype {arr.dtype}")
                continue
            pairs.append((v, arr))
        if pairs:
            plan.extend(pairs)
    if errors:
        shown = "\n  - ".join(errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise LoadError(f"Weights in {display} do not match the model "
                        f"'{getattr(root, 'name', type(root).__name__)}'; nothing was "
                        f"loaded:\n  - {shown}{more}")
    if hasattr(reader, "verify"):     # readers of checksummed stores check before reading
        reader.verify()
    plan = [(v, _materialize(a)) for v, a in plan]
    hooks = [(obj, hook, {k: _materialize(a) for k, a in group.items()})
             for obj, hook, group in hooks]
    assign_all(root, plan, hooks)
    for note in notes:
        warnings.warn(note, stacklevel=3)


def _materialize(arr):
    return arr.read() if hasattr(arr, "read") else arr


def assign_all(root, plan, hooks=()):
    """Assigns (variable, array) pairs, then runs custom load hooks; restores every variable
    of `root` if anything fails part way."""
    touched = {id(v): v for v, _ in plan}
    for path, obj, kind in _walk.iter_saveables(root) if hooks else ():
        for v in _walk.own_variables(obj, kind):
            touched.setdefault(id(v), v)
    snapshot = [(v, v.read_value()) for v in touched.values()]
    try:
        for v, arr in plan:
            _assign(v, arr)
        for obj, hook, group in hooks:
            hook(group)
    except BaseException:
        for v, old in snapshot:
            v.assign(old)
        raise


def _assign(v, arr):
    dt = npd(v)
    if arr.dtype != dt:
        arr = arr.astype(dt)
    v.assign(arr)


def _maybe_build_optimizers(root, entries, reader):
    """Creates the slot variables of an optimizer that the file has state for but that has not
    been built yet, so training continues from the saved state."""
    for path, obj, kind in entries:
        if kind != "Optimizer" or getattr(obj, "built", True):
            continue
        if not reader.has(f"{path}/vars" if path else "vars"):
            continue
        model_vars = getattr(root, "trainable_variables", None)
        if model_vars and not getattr(obj, "built", False) and hasattr(obj, "build"):
            try:
                obj.build(model_vars)
            except Exception:
                pass


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Loads weights saved by `save_weights` or `save` (tenfold or Keras): `.weights.h5`,
    `.keras`, legacy `.h5`, or a tenfold/tf.keras checkpoint prefix."""
    by_name = kwargs.pop("by_name", False)
    kwargs.pop("options", None)
    if kwargs:
        raise ValueError(f"load_weights() got unexpected keyword arguments: {sorted(kwargs)}")
    path = os.fspath(filepath)
    if not os.path.exists(path):
        if os.path.exists(path + ".index"):
            from tenfold.train.checkpoint import Checkpoint
            return Checkpoint(model=model).read(path).expect_partial()
        raise FileNotFoundError(f"No such file: {path}")
    if not getattr(model, "built", True):
        raise ValueError(f"You are loading weights into model '{model.name}', which has not "
                         "yet been built. Build it first by calling it on some data or by "
                         "using `build()`.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        zf = _open_zip(path, path)
        with zf:
            names = zf.namelist()
            if WEIGHTS_FILE not in names:
                raise LoadError(f"{path} has no {WEIGHTS_FILE}.")
            data = _read_member(zf, WEIGHTS_FILE, path)
            if METADATA_FILE in names:
                meta = _parse_json(_read_member(zf, METADATA_FILE, path, 1 << 20), path,
                                   METADATA_FILE)
                _check_member_sum(meta, WEIGHTS_FILE, data, path)
        display = f"{path} ({WEIGHTS_FILE})"
    elif head.startswith(_HDF5_MAGIC):
        data, display = path, path
    else:
        raise LoadError(f"{path} is not a weights file: expected HDF5 (.weights.h5 / .h5) or a "
                        ".keras archive; the file may be corrupted or truncated.")
    reader = H5Reader(data, display)
    try:
        with h5_errors(display):
            _load_weights_from_reader(model, reader, display, by_name, skip_mismatch)
    finally:
        reader.close()


def _load_weights_from_reader(model, reader, display, by_name, skip_mismatch):
    f = reader.file
    if "layer_names" in f.attrs or "model_weights" in f:
        from tenfold.keras.saving import legacy_h5
        grp = f["model_weights"] if "model_weights" in f else f
        legacy_h5.load_weights_from_group(model, grp, display, by_name=by_name,
                                          skip_mismatch=skip_mismatch, reader=reader)
    else:
        load_state(model, reader, display, skip_mismatch=skip_mismatch)
