"""Runs a conformance program on one framework and compares its results with a reference.

A program is `programs/<name>.py` defining `program(tf, keras, np) -> dict`. The dict (nested
dicts allowed) maps names to numbers, arrays, tensors or strings; the same source runs on
TensorFlow (`import tensorflow as tf; keras = tf.keras`) and on tenfold
(`import tenfold as tf; keras = tf.keras`).

Key conventions (on the flattened "a/b/c" names):
  * a value that is a string (or an array of strings) is compared exactly;
  * a key whose last part starts with ``error`` holds ``error_of(...)``'s result: both sides must
    agree on whether something was raised, and tenfold must raise ValueError / TypeError /
    InvalidArgumentError or the class TensorFlow raised (messages are shown by the report,
    not compared);
  * everything else is numeric: same shape, values within the program's tolerance
    (``TOLERANCE = {"default": (rtol, atol), "key/prefix": (rtol, atol)}``; longest prefix wins).
"""
import importlib.util
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
REFERENCES = HERE / "references"
DEFAULT_TOL = (1e-4, 1e-5)
# What tenfold may raise where TensorFlow raised something: these, or TensorFlow's own class.
STRICT_ERRORS = ("ValueError", "TypeError", "InvalidArgumentError")


def program_names():
    return sorted(p.stem for p in PROGRAMS.glob("p*.py"))


def load(name):
    if str(PROGRAMS) not in sys.path:
        sys.path.insert(0, str(PROGRAMS))
    spec = importlib.util.spec_from_file_location(f"conformance_{name}", PROGRAMS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _to_numpy(v):
    if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
        v = v.numpy()
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode()
    if isinstance(v, (list, tuple)) and v and all(isinstance(s, str) for s in v):
        return np.array(v, dtype=str)
    if v is None:
        return np.array("None")
    if isinstance(v, (list, tuple)):
        v = [_to_numpy(x) for x in v]
    return np.asarray(v)


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = _to_numpy(v)
    return out


def run(name, framework):
    """Run program `name` on 'tensorflow' or 'tenfold'; returns the flat dict of arrays."""
    if framework == "tensorflow":
        import tensorflow as tf
    else:
        import tenfold as tf
    keras = tf.keras
    keras.backend.clear_session()   # layer names start again at "dense" for every program
    keras.utils.set_random_seed(1234)
    mod = load(name)
    return flatten(mod.program(tf, keras, np))


def tolerance(mod, key):
    tols = dict(getattr(mod, "TOLERANCE", {}))
    best, best_len = tols.get("default", DEFAULT_TOL), -1
    for prefix, tol in tols.items():
        if prefix != "default" and key.startswith(prefix) and len(prefix) > best_len:
            best, best_len = tol, len(prefix)
    return best


def compare(name, got, want):
    """Return a list of human-readable problems (empty when `got` conforms to `want`)."""
    mod = load(name)
    problems = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        problems.append(f"missing keys: {missing}")
    if extra:
        problems.append(f"unexpected keys: {extra}")
    for key in sorted(set(want) & set(got)):
        w, g = want[key], got[key]
        last = key.rsplit("/", 1)[-1]
        if last.startswith("error"):
            ws, gs = str(w), str(g)
            if (ws == "none") != (gs == "none"):
                problems.append(f"{key}: TF {ws[:200]!r} but tenfold {gs[:200]!r}")
            elif gs != "none" and gs.split(":")[1] not in STRICT_ERRORS + (ws.split(":")[1],):
                problems.append(f"{key}: tenfold raised {gs[:200]!r}; expected ValueError/"
                                f"TypeError with a helpful message (TF: {ws[:120]!r})")
            continue
        if w.dtype.kind in "US" or g.dtype.kind in "US":
            if w.shape != g.shape or not np.array_equal(w.astype(str), g.astype(str)):
                problems.append(f"{key}: expected {w.tolist()!r}, got {g.tolist()!r}")
            continue
        if w.shape != g.shape:
            problems.append(f"{key}: shape expected {w.shape}, got {g.shape}")
            continue
        if w.dtype == bool or g.dtype == bool:
            if not np.array_equal(w, g):
                problems.append(f"{key}: expected {w.tolist()}, got {g.tolist()}")
            continue
        rtol, atol = tolerance(mod, key)
        wf, gf = w.astype("float64"), g.astype("float64")
        if not np.allclose(gf, wf, rtol=rtol, atol=atol, equal_nan=True):
            err = np.abs(gf - wf)
            rel = err / np.maximum(np.abs(wf), 1e-12)
            idx = np.unravel_index(np.nanargmax(err - rtol * np.abs(wf)), wf.shape) if wf.ndim \
                else ()
            problems.append(
                f"{key}: max abs err {np.nanmax(err):.3g}, max rel err {np.nanmax(rel):.3g} "
                f"(rtol={rtol}, atol={atol}); at {idx}: expected {wf[idx]!r}, got {gf[idx]!r}")
    return problems


def reference(name):
    path = REFERENCES / f"{name}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files if not k.startswith("__meta__")}
