"""Shared helpers for the saving tests: the Keras oracle and weight randomisation."""
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "numpy")


def real_keras():
    """The installed Keras 3 (NumPy backend), or skip."""
    import pytest
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "numpy":
        pytest.skip("the Keras oracle must run with KERAS_BACKEND=numpy")
    return keras


def randomize(model, seed=0):
    """Gives every weight random values (variances positive) so that files carry real data."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(v.shape)
        name = (getattr(v, "path", None) or v.name).lower()
        dt = np.dtype(str(v.dtype.name) if hasattr(v.dtype, "name") else v.dtype)
        if dt.kind in "iu":
            continue
        val = rng.normal(0, 0.5, size=shape)
        if "variance" in name or "count" in name:
            val = np.abs(val) + 0.5
        v.assign(val.astype(dt))


def inputs_for(shapes, dtypes, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for shape, dt in zip(shapes, dtypes):
        if dt.startswith("int"):
            out.append(rng.integers(0, 10, size=(3,) + tuple(shape)).astype(dt))
        else:
            out.append(rng.normal(size=(3,) + tuple(shape)).astype(dt))
    return out
