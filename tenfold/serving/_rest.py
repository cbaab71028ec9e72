"""TensorFlow Serving's REST API as functions from a request to (status, JSON body).

Documented at https://www.tensorflow.org/tfx/serving/api_rest:

    GET  /v1/models/{name}[/versions/{v}]            -> {"model_version_status": [...]}
    GET  /v1/models/{name}[/versions/{v}]/metadata   -> {"model_spec": ..., "metadata":
                                                         {"signature_def": ...}}
    POST /v1/models/{name}[/versions/{v}]:predict
         {"instances": [...]}   (row format)      -> {"predictions": [...]}
         {"inputs": ... }       (columnar format) -> {"outputs": ...}

Errors are `{"error": "..."}` with 400 for a bad request and 404 for an unknown model or URL.
"""
import json
import re
import urllib.parse

import numpy as np

from tenfold.serving import _parse

SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"

_URL = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                  r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                  r"(?P<verb>/metadata|:predict|:classify|:regress)?/?$")


class RestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)


def error_body(message):
    return {"error": message}


# ---------------------------------------------------------------------------- routing
def handle(registry, method, raw_path, body=b""):
    """(HTTP status, JSON-able body) for one request. `registry` maps a model name to
    {version: Servable}."""
    try:
        return 200, _dispatch(registry, method, raw_path, body)
    except RestError as e:
        return e.status, error_body(e.message)


def _malformed(method, path):
    return RestError(404, f"Malformed request: {method} {path}")


def _dispatch(registry, method, raw_path, body):
    path = urllib.parse.urlsplit(raw_path).path
    m = _URL.match(path)
    if m is None:
        raise _malformed(method, path)
    name = urllib.parse.unquote(m.group("name"))
    version, label, verb = m.group("version"), m.group("label"), m.group("verb")
    if method == "GET" and verb in (None, "/metadata"):
        pass
    elif method == "POST" and verb in (":predict", ":classify", ":regress"):
        pass
    else:
        raise _malformed(method, path)
    servables = _find(registry, name, version, label)
    if verb is None:
        return model_status(servables)
    if verb == "/metadata":
        return metadata(servables[-1])
    if verb != ":predict":
        raise RestError(400, f"The model serves the predict API only: {verb[1:]} needs a "
                        f"{verb[1:]} signature, and signature \"{SIGNATURE}\" has method "
                        f"{PREDICT_METHOD}. POST to /v1/models/{name}:predict.")
    return predict(servables[-1], parse_json(body))


def _find(registry, name, version, label):
    """The servables addressed (all versions, or the one asked for), latest last."""
    versions = registry.get(name)
    if not versions:
        what = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
        raise RestError(404, f"Servable not found for request: {what}")
    if label is not None:
        raise RestError(404, f"Unrecognized servable version label: {label}")
    if version is None:
        return [versions[v] for v in sorted(versions)]
    try:
        v = int(version)
    except ValueError:
        raise RestError(400, f"Failed to convert version: {version} to numeric.") from None
    if v not in versions:
        raise RestError(404, f"Servable not found for request: Specific({name}, {v})")
    return [versions[v]]


# ---------------------------------------------------------------------------- status/metadata
def model_status(servables):
    return {"model_version_status": [
        {"version": str(s.version), "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}} for s in servables]}


def _tensor_info(t, prefix):
    if t.shape is None:
        shape = {"dim": [], "unknown_rank": True}
    else:
        shape = {"dim": [{"size": str(-1 if d is None else int(d)), "name": ""}
                         for d in t.shape], "unknown_rank": False}
    return {"dtype": t.tf_dtype(), "tensor_shape": shape, "name": f"{prefix}{t.name}:0"}


def metadata(servable):
    sig = {"inputs": {t.name: _tensor_info(t, f"{SIGNATURE}_") for t in servable.inputs},
           "outputs": {t.name: _tensor_info(t, "StatefulPartitionedCall/") for t in
                       servable.outputs},
           "method_name": PREDICT_METHOD, "defaults": {}}
    return {"model_spec": {"name": servable.name, "signature_name": "",
                           "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": {SIGNATURE: sig}}}}


# ---------------------------------------------------------------------------- predict
def parse_json(body):
    """The request object: the fast numeric path when the body allows it, else json."""
    try:
        if isinstance(body, (bytes, bytearray)):
            fast = _parse.fast_parse(bytes(body))
            if fast is not None:
                return fast
        obj = _parse.json_parse(body)
    except _parse.BadRequest as e:
        raise RestError(400, str(e)) from None
    if not isinstance(obj, dict):
        text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
        raise RestError(400, f"JSON Value: {text[:200]} Is not object")
    return obj


def _to_array(value, info, what, path=None):
    """`value` (nested lists of JSON numbers, or an array from the fast path) as an array of
    the input's dtype; strings, null and non-integral values for integer inputs are refused
    with the JSON path of the first bad value."""
    path = path or what.strip("'")
    if _has_b64(value):
        raise RestError(400, f"{what}: {{\"b64\": ...}} values are for string inputs; input "
                        f"\"{info.name}\" has dtype {info.dtype}.")
    want = info.np_dtype()
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.array(value)
        except (ValueError, TypeError, OverflowError) as e:
            bad = _parse.first_non_number(value, path, want.kind == "b")
            if bad is not None:
                raise _not_a_number(bad, info) from None
            raise RestError(400, f"{what}: cannot convert the value of input \"{info.name}\" "
                            f"to a {info.dtype} tensor ({e}). Every element must be a number "
                            "and the nested lists must be rectangular (all rows the same "
                            "length).") from None
        if arr.dtype.kind not in "biuf":
            bad = _parse.first_non_number(value, path, want.kind == "b")
            if bad is not None:
                raise _not_a_number(bad, info)
            raise RestError(400, f"{what}: the value of input \"{info.name}\" is not a "
                            f"{info.dtype} tensor.")
    if want.kind in "iu" and arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(arr).all() and bool((arr == np.round(arr)).all())
        lo, hi = np.iinfo(want).min, np.iinfo(want).max
        if not integral or (arr.size and (arr.min() < lo or arr.max() > hi)):
            raise RestError(400, f"{what}: input \"{info.name}\" has dtype {info.dtype}: "
                            f"every value must be an integer in [{lo}, {hi}].")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return arr.astype(want, copy=False)
    except (ValueError, TypeError, OverflowError) as e:
        raise RestError(400, f"{what}: cannot convert the value of input \"{info.name}\" to "
                        f"a {info.dtype} tensor ({e}).") from None


def _not_a_number(bad, info):
    where, value = bad
    shown = json.dumps(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    kind = "null" if value is None else type(value).__name__
    return RestError(400, f"{where}: expected a number for input \"{info.name}\" (dtype "
                     f"{info.dtype}), got {kind} {shown}. Send JSON numbers: strings are not "
                     "converted and null is not NaN.")


def _has_b64(value, depth=0):
    if isinstance(value, dict):
        return "b64" in value
    if isinstance(value, list) and value and depth < 64:
        return _has_b64(value[0], depth + 1)
    return False


def _check_shape(arr, info, what):
    """`arr` checked against the input's shape (a missing trailing axis of size 1 is added,
    as the model itself does)."""
    if info.shape is None:
        return arr
    want = info.shape
    if arr.ndim == len(want) - 1 and want[-1] == 1:
        arr = arr[..., None]
    if arr.ndim != len(want) or any(w is not None and w != d
                                    for w, d in zip(want[1:], arr.shape[1:])):
        want_s = "[" + ",".join("-1" if d is None else str(d) for d in want) + "]"
        raise RestError(400, f"{what}: input \"{info.name}\" must have shape {want_s} (-1: any "
                        f"size, the first axis is the batch), got a tensor of shape "
                        f"{list(arr.shape)}.")
    return arr


def _rows(servable, instances):
    if isinstance(instances, np.ndarray):      # the fast path: already one numeric array
        if instances.ndim == 0:
            raise RestError(400, "Expecting 'instances' to be an list/array")
        if instances.shape[0] == 0:
            raise RestError(400, "'instances' is empty: send at least one instance.")
        instances_list = None
    else:
        instances_list = instances
    if instances_list is None:
        infos = servable.inputs
        if len(infos) != 1:
            names = [t.name for t in infos]
            raise RestError(400, f"The model has {len(infos)} inputs ({names}): send each "
                            "instance as an object keyed by input name, e.g. {\"instances\": "
                            "[{" + ", ".join(f"\"{n}\": ..." for n in names) + "}]}.")
        return [_to_array(instances, infos[0], "'instances'")]
    if not isinstance(instances, list):
        raise RestError(400, "Expecting 'instances' to be an list/array")
    if not instances:
        raise RestError(400, "'instances' is empty: send at least one instance.")
    infos = servable.inputs
    names = [t.name for t in infos]
    named = [isinstance(x, dict) and not (set(x) == {"b64"}) for x in instances]
    if any(named):
        if not all(named):
            raise RestError(400, "'instances' mixes objects (named inputs) and plain values: "
                            "use one form for every instance.")
        for i, inst in enumerate(instances):
            keys = set(inst)
            if keys != set(names):
                missing, extra = sorted(set(names) - keys), sorted(keys - set(names))
                raise RestError(400, f"Failed to process element: {i} of 'instances' list. "
                                f"Error: Invalid argument: the model's inputs are {names}"
                                + (f"; missing {missing}" if missing else "")
                                + (f"; unknown {extra}" if extra else "") + ".")
        out = []
        for t in infos:
            for i, inst in enumerate(instances):
                v = inst[t.name]
                if not isinstance(v, (int, float, bool)) or v is None:
                    bad = _parse.first_non_number(v, f"instances[{i}].{t.name}",
                                                  t.np_dtype().kind == "b")
                    if bad is not None:
                        raise _not_a_number(bad, t)
            out.append(_to_array([inst[t.name] for inst in instances], t, "'instances'"))
        return out
    if len(infos) != 1:
        raise RestError(400, f"The model has {len(infos)} inputs ({names}): send each instance "
                        "as an object keyed by input name, e.g. {\"instances\": [{"
                        + ", ".join(f"\"{n}\": ..." for n in names) + "}]}.")
    return [_to_array(instances, infos[0], "'instances'")]


def _columns(servable, inputs):
    infos = servable.inputs
    names = [t.name for t in infos]
    if isinstance(inputs, dict) and not (set(inputs) == {"b64"}):
        if set(inputs) != set(names):
            missing, extra = sorted(set(names) - set(inputs)), sorted(set(inputs) - set(names))
            raise RestError(400, f"'inputs': the model's inputs are {names}"
                            + (f"; missing {missing}" if missing else "")
                            + (f"; unknown {extra}" if extra else "") + ".")
        return [_to_array(inputs[t.name], t, "'inputs'", f"inputs.{t.name}") for t in infos]
    if len(infos) != 1:
        raise RestError(400, f"The model has {len(infos)} inputs ({names}): send 'inputs' as an "
                        "object keyed by input name.")
    return [_to_array(inputs, infos[0], "'inputs'")]


def predict(servable, request):
    sig = request.get("signature_name")
    if sig not in (None, "", SIGNATURE):
        raise RestError(400, f"Serving signature name: \"{sig}\" not found in signature def")
    has_rows, has_cols = "instances" in request, "inputs" in request
    if has_rows and has_cols:
        raise RestError(400, "Not both 'instances' and 'inputs' can be specified: use the row "
                        "format ('instances') or the columnar format ('inputs').")
    if not has_rows and not has_cols:
        raise RestError(400, "Missing 'inputs' or 'instances' key")
    if has_rows:
        arrays = _rows(servable, request["instances"])
        what = "'instances'"
    else:
        arrays = _columns(servable, request["inputs"])
        what = "'inputs'"
    arrays = [_check_shape(arr, info, what) for arr, info in zip(arrays, servable.inputs)]
    if has_rows and len({a.shape[0] for a in arrays}) > 1:
        raise RestError(400, "The inputs of 'instances' must have the same batch size.")
    from tenfold.framework.errors import OpError
    try:
        outs = servable.predict(arrays)
    except (ValueError, TypeError, IndexError, OpError) as e:  # the model refused the data
        raise RestError(400, str(e)) from None
    names = servable.output_names
    if has_cols:
        if len(outs) == 1:
            return {"outputs": outs[0].tolist()}
        return {"outputs": {n: o.tolist() for n, o in zip(names, outs)}}
    if len(outs) == 1:
        return {"predictions": outs[0].tolist()}
    batch = {o.shape[0] if o.ndim else None for o in outs}
    if len(batch) != 1 or None in batch:
        raise RestError(400, "The model's outputs do not share a batch size, so they cannot be "
                        "returned per instance: use the columnar format ('inputs').")
    n = batch.pop()
    lists = [o.tolist() for o in outs]
    return {"predictions": [{nm: col[i] for nm, col in zip(names, lists)} for i in range(n)]}


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
