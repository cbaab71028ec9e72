"""Legacy HDF5 model files (`model.save("model.h5")` in tf.keras 2 and Keras 3).

Layout: root attributes `model_config` (JSON), `training_config`, `keras_version`, `backend`;
group `model_weights` (attribute `layer_names`; one group per layer with attribute
`weight_names`, datasets at those names); group `optimizer_weights`.

Loading goes through the same safe deserializer as `.keras` files: a Keras 2 `Lambda` layer
stores its function as marshalled bytecode, which is refused unless `safe_mode=False`
(CVE-2024-3660 was exactly this path in Keras).
"""
import json
import os
import warnings

import numpy as np

from tenfold.keras.saving import limits
from tenfold.keras.saving import serialization_lib as ser
from tenfold.keras.saving.h5_store import (H5FormatError, H5Reader, h5_errors, h5py,
                                           stamp_checksum)
from tenfold.util import fileio as _fileio
from tenfold.util.tensor_meta import npd
from tenfold.framework.host import to_host

_MAX_CONFIG = 256 << 20


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        value = value.item()
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return str(value)


def _names(attr):
    out = []
    for n in np.asarray(attr).ravel().tolist() if attr is not None else []:
        out.append(n.decode("utf-8") if isinstance(n, bytes) else str(n))
    return out


# ---------------------------------------------------------------------------------- saving
def save_model_to_hdf5(model, filepath, include_optimizer=True):
    import io
    from tenfold.keras._version import __version__ as keras_version
    warnings.warn("You are saving your model as an HDF5 file via `model.save()`. This file "
                  "format is considered legacy. We recommend using instead the native Keras "
                  "format, e.g. `model.save('my_model.keras')`.", stacklevel=3)
    config = ser.serialize_keras_object(model)
    model_config = {"class_name": config["class_name"],
                    "config": _legacy_model_config(config["config"])}
    bio = io.BytesIO()
    f = h5py().File(bio, "w")
    try:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = keras_version
        from tenfold.keras.saving.saving_lib import _json_default
        f.attrs["model_config"] = json.dumps(model_config, default=_json_default)
        grp = f.create_group("model_weights")
        _save_weights_to_group(model, grp, keras_version)
        cc = ser.compile_config_of(model)
        opt = getattr(model, "optimizer", None)
        if cc:
            training = {k: _legacy_compile_entry(v) if k in _COMPILE_OBJECTS else v
                        for k, v in ser.serialize_dict(cc).items() if k != "optimizer"}
            if opt is not None:
                oc = ser.serialize_keras_object(opt)
                training["optimizer_config"] = {"class_name": oc["class_name"],
                                                "config": oc["config"]}
            f.attrs["training_config"] = json.dumps(training, default=_json_default)
        if include_optimizer and opt is not None and getattr(opt, "variables", None):
            og = f.create_group("optimizer_weights")
            names = [f"{opt.name}/{getattr(v, 'name', 'var')}" for v in opt.variables]
            names = _dedupe(names)
            og.attrs["weight_names"] = _str_array(names)
            for n, v in zip(names, opt.variables):
                og.create_dataset(n, data=to_host(v))
        stamp_checksum(f)
    finally:
        f.close()
    _fileio.atomic_write_bytes(filepath, bio.getvalue())


# Keras 3 writes .h5 configs with its legacy serializer: a layer is {"class_name": its
# registered name ("package>Name" for registered classes), "config": ...} (with "name" and
# "inbound_nodes" in functional models), a function is its (registered) name.
_COMPILE_OBJECTS = ("loss", "metrics", "weighted_metrics", "loss_weights")
_LAYER_KEEP = ("name", "inbound_nodes")


def _legacy_object(entry):
    name = entry.get("registered_name") or entry["class_name"]
    return {"class_name": name, "config": entry["config"]}


def _legacy_model_config(config):
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return config
    out = dict(config)
    layers = []
    for entry in config["layers"]:
        if isinstance(entry, dict) and "class_name" in entry and "config" in entry:
            legacy = _legacy_object(entry)
            legacy["config"] = _legacy_model_config(entry["config"])
            legacy.update({k: entry[k] for k in _LAYER_KEEP if k in entry})
            layers.append(legacy)
        else:
            layers.append(entry)
    out["layers"] = layers
    return out


def _legacy_compile_entry(value):
    if isinstance(value, list):
        return [_legacy_compile_entry(v) for v in value]
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if value["class_name"] == "function" and isinstance(value["config"], str):
            return value["config"]
        return _legacy_object(value)
    if isinstance(value, dict):
        return {k: _legacy_compile_entry(v) for k, v in value.items()}
    return value


def _str_array(names):
    return np.array([n.encode("utf-8") for n in names], dtype=h5py().string_dtype()) \
        if names else np.zeros((0,))


def _dedupe(names):
    seen, out = {}, []
    for n in names:
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
        out.append(n)
    return out


def _save_weights_to_group(model, grp, keras_version):
    layers = list(getattr(model, "layers", []))
    grp.attrs["layer_names"] = _str_array([l.name for l in layers])
    grp.attrs["backend"] = "tensorflow"
    grp.attrs["keras_version"] = keras_version
    for layer in layers:
        g = grp.create_group(layer.name)
        weights = list(layer.weights)
        names = _dedupe([f"{model.name}/{getattr(w, 'path', w.name)}" for w in weights])
        g.attrs["weight_names"] = _str_array(names)
        for n, w in zip(names, weights):
            g.create_dataset(n, data=to_host(w))


# ---------------------------------------------------------------------------------- loading
def load_model_from_hdf5(filepath, custom_objects=None, compile=True, safe_mode=True):
    reader = H5Reader(filepath, filepath)
    try:
        with h5_errors(filepath):
            return _load_model(reader, filepath, custom_objects, compile, safe_mode)
    finally:
        reader.close()


def _load_model(reader, filepath, custom_objects, compile, safe_mode):
    f = reader.file
    reader.verify_config()
    raw = f.attrs.get("model_config")
    if raw is None:
        raise ValueError(f"{filepath} has no model configuration: it is a weights file. "
                         "Build the model in code and call model.load_weights() instead.")
    text = _text(raw)
    if len(text) > _MAX_CONFIG:
        raise ValueError(f"{filepath}: model_config is too large.")
    config = _json(text, filepath, "model_config")
    ser.scan_config(config, safe_mode if ser.in_safe_mode() is None else ser.in_safe_mode(),
                    filepath)
    config = upgrade_legacy_config(config, safe_mode)
    try:
        with ser.ObjectSharingScope(), ser.SafeModeScope(safe_mode), \
                limits.parameter_budget(filepath, reader.declared_elements):
            model = ser.deserialize_keras_object(config, custom_objects,
                                                 safe_mode=safe_mode)
    except RecursionError:
        raise limits.LoadLimitError(f"Refusing to load {filepath}: its model_config nests "
                                    "too deeply to rebuild.") from None
    except (TypeError, ValueError) as e:
        from tenfold.keras.saving.saving_lib import _find_cause
        limit = _find_cause(e, limits.LoadLimitError)
        if limit is None:
            raise
        raise limits.LoadLimitError(str(limit)) from None
    if "model_weights" in f:
        load_weights_from_group(model, reader._group("model_weights"), filepath,
                                reader=reader)
    else:
        reader.verify()
    training = f.attrs.get("training_config")
    if compile and training is not None:
        _compile_from_training_config(model, _json(_text(training), filepath,
                                                   "training_config"),
                                      custom_objects, filepath)
        if "optimizer_weights" in f:
            _load_optimizer_weights(model, reader, filepath)
    return model


def _compile_from_training_config(model, training, custom_objects, filepath):
    opt_cfg = training.get("optimizer_config")
    with ser.SafeModeScope(True):
        optimizer = ser.deserialize_keras_object(opt_cfg, custom_objects) if opt_cfg else None
        loss = _loss_or_metric(training.get("loss"), custom_objects)
        metrics = _loss_or_metric(training.get("metrics"), custom_objects)
        weighted = _loss_or_metric(training.get("weighted_metrics"), custom_objects)
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                      weighted_metrics=weighted, loss_weights=training.get("loss_weights"))
    except Exception as e:
        warnings.warn(f"{filepath}: the model could not be compiled from its saved training "
                      f"configuration ({e}); call compile() yourself.", stacklevel=3)
        return
    opt = getattr(model, "optimizer", None)
    if opt is not None and getattr(model, "built", False) and hasattr(opt, "build"):
        try:
            opt.build(model.trainable_variables)
        except Exception:
            pass


def _loss_or_metric(cfg, custom_objects):
    if cfg is None:
        return cfg
    if isinstance(cfg, str):
        # a function by its (registered) name: custom_objects, also by its bare name
        custom = custom_objects or {}
        if cfg in custom:
            return custom[cfg]
        bare = cfg.split(">", 1)[1] if ">" in cfg else None
        if bare is not None and bare in custom:
            return custom[bare]
        return cfg
    if isinstance(cfg, list):
        return [_loss_or_metric(c, custom_objects) for c in cfg]
    if isinstance(cfg, dict) and "class_name" in cfg:
        return ser.deserialize_keras_object(cfg, custom_objects)
    if isinstance(cfg, dict):
        return {k: _loss_or_metric(v, custom_objects) for k, v in cfg.items()}
    return cfg


def _load_optimizer_weights(model, reader, filepath):
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return
    grp = reader._group("optimizer_weights")
    names = _names(grp.attrs.get("weight_names"))
    variables = list(getattr(opt, "variables", []))
    if 0 < len(names) <= 2 < len(variables):
        # saved before the first training step: iterations and learning rate only
        values = [_read(reader, grp, n) for n in names]
        if all(a.shape == () == tuple(v.shape) for a, v in zip(values, variables)):
            for v, a in zip(variables, values):
                v.assign(a.astype(npd(v)))
            return
    if len(names) != len(variables):
        warnings.warn(f"{filepath}: the saved optimizer state ({len(names)} values) does not "
                      f"match the optimizer ({len(variables)} variables; files from tf.keras 2 "
                      "use another layout); it starts fresh.", stacklevel=3)
        return
    values = [_read(reader, grp, n) for n in names]
    if any(tuple(v.shape) != tuple(a.shape) for v, a in zip(variables, values)):
        warnings.warn(f"{filepath}: the saved optimizer state has other shapes than the "
                      "optimizer's variables; it starts fresh.", stacklevel=3)
        return
    for v, a in zip(variables, values):
        v.assign(a.astype(npd(v)))


def _json(text, filepath, what):
    try:
        value = json.loads(text)
    except RecursionError:
        raise limits.LoadLimitError(f"Refusing to load {filepath}: {what} nests too deeply to "
                                    "parse (the file is corrupted or hostile).") from None
    except ValueError as e:
        raise H5FormatError(f"{filepath}: {what} is not valid JSON ({e}); the file is "
                            "corrupted.") from None
    limits.check_depth(value, f"{filepath} ({what})")
    return value


def _dataset(reader, grp, name):
    """The dataset `name` (a path relative to `grp`) as a LazyArray: shape and dtype only."""
    ds = reader._call(lambda: grp[name], f"{grp.name}/{name}") if name else None
    if ds is None or not isinstance(ds, h5py().Dataset):
        raise H5FormatError(f"{reader.name} is not a valid weights file: "
                            f"'{grp.name}/{name}' is not a dataset.")
    return reader.lazy(ds)


def _read(reader, grp, name):
    lazy = _dataset(reader, grp, name)
    reader.verify()
    return lazy.read()


def load_weights_from_group(model, grp, display, by_name=False, skip_mismatch=False,
                            reader=None):
    """Keras 2 style weights: layers matched by order (or by name); every dataset's shape
    checked against the model before any is read; then read (checksum checked) and
    assigned."""
    from tenfold.keras.saving.saving_lib import LoadError, assign_all
    layer_names = _names(grp.attrs.get("layer_names"))
    file_layers = []
    for name in layer_names:
        g = grp[name] if name in grp else None
        wnames = _names(g.attrs.get("weight_names")) if g is not None else []
        file_layers.append((name, g, wnames))
    model_layers = list(getattr(model, "layers", [model]))
    plan, errors = [], []
    if by_name:
        index = {name: (g, w) for name, g, w in file_layers}
        pairs = [(l, index[l.name]) for l in model_layers if l.name in index]
    else:
        with_w = [l for l in model_layers if l.weights]
        file_w = [(n, g, w) for n, g, w in file_layers if w]
        if len(with_w) != len(file_w):
            raise LoadError(f"Weights in {display} do not match the model: the file has "
                            f"{len(file_w)} layers with weights, the model "
                            f"{len(with_w)}; nothing was loaded. (Pass by_name=True to match "
                            "layers by name.)")
        pairs = [(l, (g, w)) for l, (n, g, w) in zip(with_w, file_w)]
    for layer, (g, wnames) in pairs:
        weights = list(layer.weights)
        if len(weights) != len(wnames):
            msg = (f"layer '{layer.name}' has {len(weights)} weights, the file "
                   f"{len(wnames)}")
            if skip_mismatch:
                warnings.warn(f"Skipping {msg}.", stacklevel=3)
                continue
            errors.append(msg)
            continue
        arrays = [_dataset(reader, g, n) for n in wnames]
        bad = [(w, a) for w, a in zip(weights, arrays) if tuple(w.shape) != tuple(a.shape)]
        bad += [(w, a) for w, a in zip(weights, arrays) if a.dtype.kind not in "biufV"
                and a.dtype.name != "bfloat16"]
        if bad:
            w, a = bad[0]
            msg = (f"layer '{layer.name}': weight '{getattr(w, 'path', w.name)}' has shape "
                   f"{tuple(w.shape)} in the model, {tuple(a.shape)} (dtype {a.dtype}) in the "
                   "file")
            if skip_mismatch:
                warnings.warn(f"Skipping {msg}.", stacklevel=3)
                continue
            errors.append(msg)
            continue
        plan.extend(zip(weights, arrays))
    if errors:
        raise LoadError(f"Weights in {display} do not match the model; nothing was loaded:\n"
                        "  - " + "\n  - ".join(errors))
    reader.verify()
    assign_all(model, [(w, a.read()) for w, a in plan])


def upgrade_legacy_config(config, safe_mode=True):
    """Keras 2 / tf.keras configs to the form tenfold's classes read (InputLayer shapes,
    'Model' -> 'Functional', Lambda functions in the Keras 3 layout)."""
    def fix(node):
        if isinstance(node, list):
            return [fix(x) for x in node]
        if not isinstance(node, dict):
            return node
        node = {k: fix(v) for k, v in node.items()}
        cname = node.get("class_name")
        cfg = node.get("config")
        if cname == "Model" and isinstance(cfg, dict) and "layers" in cfg:
            node["class_name"] = "Functional"
        if cname == "InputLayer" and isinstance(cfg, dict) and "batch_input_shape" in cfg:
            cfg = dict(cfg)
            cfg["batch_shape"] = cfg.pop("batch_input_shape")
            node["config"] = cfg
        if cname == "Lambda" and isinstance(cfg, dict) and \
                isinstance(cfg.get("function"), (list, tuple)):
            cfg = dict(cfg)
            code, defaults, closure = (list(cfg["function"]) + [None, None])[:3]
            cfg["function"] = {"class_name": "__lambda__",
                               "config": {"code": code, "defaults": defaults,
                                          "closure": closure}}
            cfg.pop("function_type", None)
            cfg.pop("module", None)
            node["config"] = cfg
        elif cname == "Lambda" and isinstance(cfg, dict) and \
                cfg.get("function_type") == "function":
            cfg = dict(cfg)
            cfg["function"] = {"module": None, "class_name": "function",
                               "config": cfg["function"], "registered_name": cfg["function"]}
            cfg.pop("function_type", None)
            cfg.pop("module", None)
            node["config"] = cfg
        return node
    return fix(config)


def is_hdf5(path):
    try:
        with open(os.fspath(path), "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False
