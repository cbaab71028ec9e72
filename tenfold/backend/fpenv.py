"""Subnormal floats are flushed to zero while tenfold computes, as in TensorFlow and XLA.

TensorFlow's CPU kernels run with the processor's flush-to-zero and denormals-are-zero
modes (`tf.constant(1e-39) * 1.0` is 0.0), and XLA compiles for them too, so Keras 3 on JAX
does the same. NumPy keeps IEEE subnormals, and an operation that reads or makes one costs
about a hundred cycles of microcode instead of one. Training makes them: RMSprop's and
Adam's second moments decay by rho every step wherever the gradient is (nearly) zero. On
the seed MLP a third of the first layer's 401K RMSprop slots were subnormal after 700 steps,
and the update took 0.8-1.5 ms instead of 0.16.

The mode is a per-thread register (native/pool.c: MXCSR's FTZ and DAZ bits on x86-64,
FPCR.FZ on AArch64). `flushing()` sets it on the calling thread for a block and puts back
what was there, so the user's own NumPy code outside tenfold keeps IEEE subnormals:
- graph programs (`tf.function`, Keras's compiled steps) run inside it (graph/function.py);
- an optimizer's `apply` does too, so eager training loops' slots are flushed as well;
- the C pool's helpers take the caller's mode for each region, and the kernel threads
  (kernels.run_tasks) take it for each region (`mode()`, then `restore` on the thread).
Eager ops outside a graph keep NumPy's arithmetic: setting the register around every op
would cost more than a small op itself (two calls of ~0.2 us).

The mode needs the native library (`tenfold.backend.native`); without it (no compiler,
TENFOLD_NATIVE=0 when the first program runs) subnormals stay, as NumPy computes them.
TENFOLD_FLUSH_DENORMALS=0 keeps them everywhere.
"""
import contextlib
import ctypes
import os

from tenfold.backend import native

_fns = []   # [(enter, restore, bits, off)] once looked up; [None] where not available


def _lookup():
    if not _fns:
        lib = native.load("pool")
        got = None
        if lib is not None and os.environ.get("TENFOLD_FLUSH_DENORMALS", "").strip() != "0":
            sup = lib.fp_flush_supported
            sup.argtypes, sup.restype = [], ctypes.c_int64
            if sup():
                enter_, restore_, bits, off = lib.fp_flush_enter, lib.fp_flush_restore, \
                    lib.fp_flush_bits, lib.fp_flush_off
                enter_.argtypes, enter_.restype = [], ctypes.c_int64
                restore_.argtypes, restore_.restype = [ctypes.c_int64], None
                bits.argtypes, bits.restype = [], ctypes.c_int64
                off.argtypes, off.restype = [], None
                got = (enter_, restore_, bits, off)
        _fns.append(got)
    return _fns[0]


def enter():
    """Turns flushing on for this thread; returns the token `restore` takes (None: no
    mode to set here). Costs ~0.15 us: every graph program's run makes this call and
    `restore`'s."""
    f = _fns[0] if _fns else _lookup()
    return None if f is None else f[0]()


def restore(token):
    """Sets this thread's mode to `token`: the one `enter` found, or another thread's
    `mode()`."""
    if token is not None:
        if token == 0:
            _fns[0][3]()       # the common case: no argument to convert
        else:
            _fns[0][1](token)


@contextlib.contextmanager
def flushing():
    """Subnormal floats flushed to zero on this thread inside the block."""
    token = enter()
    try:
        yield
    finally:
        restore(token)


def mode():
    """This thread's mode, as a token `restore` sets on another thread (None: nothing to
    carry)."""
    f = _fns[0] if _fns else None
    return None if f is None else f[2]()
