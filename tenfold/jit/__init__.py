"""Optional Numba kernels (`pip install tenfold[jit]`): one pass over memory where NumPy needs
several.

Used by compiled training steps when Numba is installed and the step is compiled with
`jit_compile=True` or Keras's default `jit_compile="auto"` (set TENFOLD_JIT=0 to turn it off).
Numba is imported only when a kernel is first asked for.

Each kernel performs exactly the float32 (or float64) operations of the NumPy code it
replaces, in the same order and with the same rounding (no fused multiply-add, no fast-math),
so results are bit-identical; the tests check that.

The Keras optimizers' fused updates that use these kernels are in
`tenfold/keras/optimizers/fused_update.py` (this package sits below the core and imports
nothing above it).
"""
import os

_state = {"numba": None, "kernels": None}


def available():
    """True if Numba can be imported (and TENFOLD_JIT is not 0)."""
    if os.environ.get("TENFOLD_JIT") == "0":
        return False
    if _state["numba"] is None:
        try:
            import numba  # noqa: F401
            _state["numba"] = True
        except ImportError:
            _state["numba"] = False
    return _state["numba"]


def installed():
    """True if Numba is installed (found without importing it) and TENFOLD_JIT is not 0:
    what Keras's `jit_compile="auto"` resolves to."""
    if os.environ.get("TENFOLD_JIT") == "0":
        return False
    import importlib.util
    return importlib.util.find_spec("numba") is not None


def kernels():
    """The compiled kernels module (compiles on first use; cached on disk by Numba)."""
    if _state["kernels"] is None:
        from tenfold.jit import _kernels
        _state["kernels"] = _kernels
    return _state["kernels"]
