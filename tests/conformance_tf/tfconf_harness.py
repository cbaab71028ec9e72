"""Runs a low-level conformance program on TensorFlow or tenfold and compares the results.

A program is ``programs/<name>.py`` defining ``program(tf, np) -> dict``; the same source runs
with ``tf`` = TensorFlow and ``tf`` = tenfold. Values of the dict (nested dicts allowed) are
numbers, arrays, tensors, strings, lists of those, or *callables of no argument*: a callable is a
case; it runs inside the harness, so one failing case does not hide the others.

Conventions on the flattened "a/b/c" keys:
  * a key whose last part starts with ``error`` is an error case (a callable): both frameworks
    must raise; tenfold must raise ValueError / TypeError / InvalidArgumentError (or the class
    TensorFlow raised), with a message that says something (checked by the test);
  * any other case that raises is recorded as ``__exception__:Class`` and then compares unequal
    to a value;
  * numeric values compare by shape, dtype and value (``TOLERANCE`` in the program:
    ``{"default": (rtol, atol), "key/prefix": (rtol, atol)}``; the longest prefix wins).
"""
import importlib.util
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
REFERENCES = HERE / "references"
DEFAULT_TOL = (1e-5, 1e-6)
FAMILY = ("ValueError", "TypeError", "InvalidArgumentError")
RAISED = "__raised__:"
EXCEPTION = "__exception__:"
MESSAGE_SUFFIX = "#message"
FAMILY_SUFFIX = "#family"


def program_names():
    return sorted(p.stem for p in PROGRAMS.glob("p*.py"))


def load(name):
    spec = importlib.util.spec_from_file_location(f"tfconf_prog_{name}", PROGRAMS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_CONVERT = [None]  # the framework's convert_to_tensor, set by run()


def _to_numpy(v):
    if hasattr(v, "dense_shape") and hasattr(v, "indices"):  # IndexedSlices: densify
        v = _CONVERT[0](v)
    if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
        v = v.numpy()
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode()
    if v is None:
        return np.array("None")
    return np.asarray(v)


def _last(key):
    return key.rsplit("/", 1)[-1]


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) or (isinstance(v, (list, tuple)) and not callable(v)):
            v = v if isinstance(v, dict) else dict(enumerate(v))
            out.update(flatten({str(i): x for i, x in v.items()}, key + "/"))
            continue
        if callable(v) and not hasattr(v, "numpy"):
            try:
                v = v()
            except Exception as e:  # noqa: BLE001 - recorded and compared
                tag = RAISED if _last(key).startswith("error") else EXCEPTION
                out[key] = np.array(tag + type(e).__name__)
                if tag == RAISED:  # the family it belongs to (subclasses count)
                    fam = [c.__name__ for c in type(e).__mro__ if c.__name__ in FAMILY]
                    out[key + FAMILY_SUFFIX] = np.array(fam[0] if fam else "")
                out[key + MESSAGE_SUFFIX] = np.array(str(e)[:300])
                continue
            if _last(key).startswith("error"):
                out[key] = np.array("__no_error__")
                continue
        if isinstance(v, (list, tuple)) and not (
                all(isinstance(i, (int, float, bool, str)) for i in v)
                and len({type(i) for i in v}) <= 1):
            v = {str(i): item for i, item in enumerate(v)}
            if not v:
                v = {"empty": "empty"}
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = _to_numpy(v)
    return out


def run(name, framework):
    if framework == "tensorflow":
        import tensorflow as tf
    else:
        import tenfold as tf
    tf.random.set_seed(1234)
    _CONVERT[0] = tf.convert_to_tensor
    mod = load(name)
    return flatten(mod.program(tf, np)), getattr(mod, "TOLERANCE", {})


def _tol(key, table):
    best, tol = -1, table.get("default", DEFAULT_TOL)
    for prefix, t in table.items():
        if prefix != "default" and key.startswith(prefix) and len(prefix) > best:
            best, tol = len(prefix), t
    return tol


def compare(ours, ref, table):
    """Returns a list of human-readable discrepancies."""
    problems = []
    for key, want in ref.items():
        if key.endswith((MESSAGE_SUFFIX, FAMILY_SUFFIX)):
            continue
        if key not in ours:
            parts = key.split("/")
            parent = next((("/".join(parts[:i])) for i in range(len(parts) - 1, 0, -1)
                           if "/".join(parts[:i]) in ours), None)
            if parent is not None and parent + MESSAGE_SUFFIX in ours:
                if not any(p.startswith(parent + ":") for p in problems):
                    problems.append(f"{parent}: tenfold raised {ours[parent]}: "
                                    f"{ours[parent + MESSAGE_SUFFIX]}")
                continue
            problems.append(f"{key}: missing from tenfold's results")
            continue
        got = ours[key]
        wstr = want.dtype.kind in "US"
        if wstr and str(want).startswith(RAISED):
            if not (got.dtype.kind in "US" and str(got).startswith(RAISED)):
                problems.append(f"{key}: TensorFlow raised {str(want)[len(RAISED):]} "
                                f"({ref.get(key + MESSAGE_SUFFIX, '')}), tenfold gave {got!r}")
                continue
            cls = str(got)[len(RAISED):]
            fam = str(ours.get(key + FAMILY_SUFFIX, ""))
            if not fam and cls != str(want)[len(RAISED):]:
                problems.append(f"{key}: tenfold raised {cls}, TensorFlow "
                                f"{str(want)[len(RAISED):]}")
            msg = str(ours.get(key + MESSAGE_SUFFIX, ""))
            if len(msg) < 15:
                problems.append(f"{key}: tenfold's message is not helpful: {msg!r}")
            continue
        if wstr or got.dtype.kind in "US":
            if str(got) != str(want):
                extra = ours.get(key + MESSAGE_SUFFIX, "")
                problems.append(f"{key}: tenfold {str(got)!r} {extra} != TensorFlow {str(want)!r}")
            continue
        if got.shape != want.shape:
            problems.append(f"{key}: shape {got.shape} != TensorFlow {want.shape}")
            continue
        if got.dtype != want.dtype:
            problems.append(f"{key}: dtype {got.dtype} != TensorFlow {want.dtype}")
            continue
        rtol, atol = _tol(key, table)
        if want.dtype.kind in "biu":
            ok = np.array_equal(got, want)
        else:
            ok = np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                             equal_nan=True)
        if not ok:
            problems.append(f"{key}: values differ\n  tenfold    {got.ravel()[:8]}\n"
                            f"  TensorFlow {want.ravel()[:8]}")
    for key in ours:
        side = key.endswith((MESSAGE_SUFFIX, FAMILY_SUFFIX)) or key + MESSAGE_SUFFIX in ours
        if key not in ref and not side:
            problems.append(f"{key}: not in the reference (re-run make_references.py)")
    return problems


def save(name, flat):
    np.savez_compressed(REFERENCES / f"{name}.npz", **{k.replace("/", "|"): v
                                                      for k, v in flat.items()})


def load_reference(name):
    with np.load(REFERENCES / f"{name}.npz", allow_pickle=False) as z:
        return {k.replace("|", "/"): z[k] for k in z.files}
