"""Keeps freed NumPy buffers in the process instead of handing them back to the kernel.

glibc gives arrays above its mmap threshold (128 KB to start, raised as blocks are freed)
their own mappings and returns them on free, and trims the heap top past 2x that threshold.
A training step frees and reallocates the same multi-megabyte arrays every step; each time,
every page is faulted back in and zeroed by the kernel. On the MNIST convnet an eager
GradientTape step spends a third of its time there (49-54 ms -> 37 ms with the settings
below; a max-pool gradient alone 3x). Compiled steps reuse their buffers and barely notice.

`tune()` (called once by `import tenfold`) sets glibc's mmap threshold to 32 MB (its maximum)
and the trim threshold to 256 MB, as `MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=268435456` in the environment would. Peak memory is unchanged (seed
07: 463 MB -> 465 MB); memory freed after a peak is reused by the process rather than
returned at once. Skipped when the process is not on glibc, when the user set any MALLOC_*
variable, or with TENFOLD_MALLOC=default.
"""
import ctypes
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

_state = {"tuned": None}


def tune():
    """Applies the settings once; returns whether they are in effect."""
    if _state["tuned"] is not None:
        return _state["tuned"]
    _state["tuned"] = False
    if os.environ.get("TENFOLD_MALLOC", "").lower() in ("default", "0", "off") or \
            any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only: mallopt's numbering is glibc's
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _state["tuned"] = ok
    return ok


def tuned():
    """Whether tune() put the settings in effect in this process."""
    return bool(_state["tuned"])
