"""Native kernels: small C libraries, one per kernel family (`<family>.c` in this folder),
compiled on first use with the machine's C compiler and cached, loaded with ctypes.

Why C and why this way: NumPy runs one loop per array operation, so a kernel made of many
elementwise steps (an optimizer update, a batch norm, a depthwise convolution) streams its
arrays through the cache once per step; one C loop does the whole kernel in one pass. No
library that does this fits the install budget (Numba's llvmlite alone installs ~200 MB,
oneDNN 156 MiB); these sources are a few hundred KB of text, compiled in about a second.

- Nothing is compiled or loaded until a kernel family is first asked for (`load`), so
  `import tenfold` pays nothing.
- Where no compiler is found, or it fails, or TENFOLD_NATIVE=0, `load` returns None and the
  callers run their NumPy kernels: every native kernel has a NumPy twin, and the tests check
  the two agree. `info()` says which families loaded and, if not, why.
- The libraries are built for this machine's CPU (-march=native where the compiler takes
  it) and cached per user in TENFOLD_CACHE_DIR, else $XDG_CACHE_HOME/tenfold or
  ~/.cache/tenfold, under a name made from the source, the flags, the compiler and the CPU,
  so a changed source or another machine sharing the folder builds its own. The folder is
  made private (0700); a cached library in a folder or file that other users can write, or
  that someone else owns, is never loaded (it would run their code in this process).
- IEEE arithmetic as NumPy's: no -ffast-math, no contraction into fused multiply-adds
  (-ffp-contract=off), so a kernel written as the same operations in the same order gives
  NumPy's bits; reductions vectorize through `#pragma omp simd` (-fopenmp-simd: no OpenMP
  runtime). ctypes releases the GIL during each call, so the kernel threads
  (kernels.run_tasks) run native kernels in parallel.
"""
import ctypes
import os
import stat
import sys
import threading

import numpy as np

# hashlib, subprocess, tempfile, shutil, sysconfig and platform are imported where a build
# needs them: `import tenfold` imports this module, and they cost ~20 ms together

_HERE = os.path.dirname(os.path.abspath(__file__))
_BASE_FLAGS = ["-O3", "-std=c11", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno",
               "-fopenmp-simd", "-Wall", "-Wno-unknown-pragmas"]
# -mtune=generic: the instruction sets of this CPU, but the code laid out the same on every
# CPU that has them. GCC 12's tuning for AMD Zen (-march=native on a Zen 4 tunes for znver3)
# changed the rounding of conv_direct.c's pooled forward against its plain forward (1 ulp,
# where the two are the same sums and tests/core/test_conv_direct.py asserts equal bits);
# generic tuning gives the same bits there as on Intel.
_ARCH_FLAGS = ["-march=native", "-mtune=generic"]
_COMPILE_TIMEOUT_S = 180
_NO_COMPILER = "no C compiler found (set CC, or install gcc or clang)"
_lock = threading.Lock()
_libs = {}      # family -> CDLL or None
_why = {}       # family -> why it is not loaded


# os.environ's raw mapping (CPython's, bytes on POSIX): every kernel call asks `enabled`, and
# os.environ.get encodes the key each time (~0.4 us); the raw value is compared by identity
# (a new value, e.g. a test's setenv, is a new object) and the answer kept for it
_ENV_RAW = getattr(os.environ, "_data", None)
_ENV_KEY = os.environ.encodekey("TENFOLD_NATIVE") if _ENV_RAW is not None else None
_enabled_for = [object(), True]   # (the raw value last seen, the answer for it)


def enabled():
    """False when TENFOLD_NATIVE=0 (then every kernel runs its NumPy twin)."""
    if _ENV_RAW is None:
        return os.environ.get("TENFOLD_NATIVE", "").strip() != "0"
    raw = _ENV_RAW.get(_ENV_KEY)
    seen = _enabled_for
    if raw is not seen[0]:
        seen[1] = os.environ.get("TENFOLD_NATIVE", "").strip() != "0"
        seen[0] = raw
    return seen[1]


def load(family):
    """The ctypes library of `<family>.c` (compiled and cached on first use), or None where it
    cannot be had (no compiler, a failed build, TENFOLD_NATIVE=0; `info()` says why)."""
    if not enabled():
        return None
    lib = _libs.get(family, False)
    if lib is not False:
        return lib
    with _lock:
        if family not in _libs:
            try:
                if _compiler() is None:
                    raise _NativeUnavailable(_NO_COMPILER)
                _libs[family] = _build_and_load(*_sources(family))
            except _NativeUnavailable as e:
                _libs[family] = None
                _why[family] = str(e)
    return _libs[family]


def info():
    """{family: "loaded from PATH" | why not} for the families asked for so far, and the
    compiler and cache folder used."""
    out = {f: (f"loaded from {lib._name}" if lib is not None else _why.get(f, "not loaded"))
           for f, lib in _libs.items()}
    out["compiler"] = " ".join(_compiler() or ["none found"])
    out["cache"] = _cache_dir()
    out["enabled"] = enabled()
    return out


_kernels = {}   # (library id, name, dtype) -> the ctypes function, argtypes set


def kernel(family, name, dtype, argtypes, restype=None):
    """The C function `<name>_f32` / `<name>_f64` (by dtype) of the family's library with its
    argtypes and restype set once and cached, or None where the library cannot be had
    (TENFOLD_NATIVE=0, no compiler, a failed build) or dtype is not float32/float64.
    argtypes: ctypes types (c_void_p for arrays, i64, f64)."""
    dtype = np.dtype(dtype)
    if dtype not in _SUFFIX:
        return None
    lib = load(family)
    if lib is None:
        return None
    key = (id(lib), name, dtype)
    fn = _kernels.get(key)
    if fn is None:
        fn = getattr(lib, f"{name}_{_SUFFIX[dtype]}")
        fn.argtypes = list(argtypes)
        fn.restype = restype
        _kernels[key] = fn
    return fn


_simd = {}


def simd(family, probe):
    """Whether the family's library was built with its AVX-512 kernels: its int64 `probe()`
    says 1 (asked once). False without the library; the callers keep NumPy then."""
    lib = load(family)
    if lib is None:
        return False
    got = _simd.get(family)
    if got is None:
        fn = getattr(lib, probe)
        fn.argtypes, fn.restype = [], i64
        got = _simd[family] = bool(fn())
    return got


def pointers_and_ints(n_ptr, n_int):
    """argtypes of a kernel taking n_ptr arrays then n_int int64 sizes."""
    return [ctypes.c_void_p] * n_ptr + [i64] * n_int


_VIEW = ctypes.c_byte * 0   # a ctypes view of an array's memory: its address in ~0.5 us,
                            # against ~1.8 us through __array_interface__


def writable_addr(a):
    """The address (an int) of a writeable, C-contiguous array's first element, else None."""
    try:
        return ctypes.addressof(_VIEW.from_buffer(a))
    except (TypeError, ValueError):
        return None


def addr(a):
    """The address (an int) of a NumPy array's first element."""
    got = writable_addr(a)
    return a.__array_interface__["data"][0] if got is None else got


def ptr(a):
    """The address of a NumPy array's first element, as ctypes takes it (c_void_p)."""
    return ctypes.c_void_p(addr(a))


i64 = ctypes.c_int64
f64 = ctypes.c_double


def usable(*arrays, dtypes=(np.float32, np.float64)):
    """Whether native kernels take these arrays: NumPy arrays, C-contiguous, aligned, of one
    of `dtypes` and all of one dtype (anything else goes to the NumPy twin)."""
    d = arrays[0].dtype
    return d in dtypes and all(
        type(a) is np.ndarray and a.dtype == d and a.flags.c_contiguous and a.flags.aligned
        for a in arrays)


CACHE_LINE = 64


def line_aligned(a):
    """a as a C-contiguous array starting on a cache line: a itself where it is one, else a
    copy. For small operands a kernel reloads many times (filters): NumPy's bigger arrays
    start 16 bytes past a line, so every 64-byte vector load from them spans two lines (the
    implicit-GEMM forward over ResNet-20's 3x3 64->64 filter, one thread: 5.1 -> 4.6 ms and
    3.2 -> 2.5 ms in two runs; 3x3 32->32 5.6 -> 5.1)."""
    if a.flags.c_contiguous and addr(a) % CACHE_LINE == 0:
        return a
    raw = np.empty(a.nbytes + CACHE_LINE, np.uint8)
    start = (-addr(raw)) % CACHE_LINE
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    np.copyto(out, a)
    return out


_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def suffix(dtype):
    """The C function suffix for a dtype: f32 / f64."""
    return _SUFFIX[np.dtype(dtype)]


# ------------------------------------------------------------------------------------------
# building

class _NativeUnavailable(Exception):
    pass


def _compiler():
    """The C compiler command: $CC, else Python's own CC, else cc / gcc / clang on PATH."""
    import shutil
    import sysconfig
    for cand in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"):
        if not cand:
            continue
        parts = cand.split()
        if shutil.which(parts[0]):
            return parts
    return None


def _cache_dir():
    env = os.environ.get("TENFOLD_CACHE_DIR")
    if env:
        return os.path.join(env, "native")
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~"):  # no home folder (a service account): a per-user temp dir
            import tempfile
            uid = os.getuid() if hasattr(os, "getuid") else "user"
            return os.path.join(tempfile.gettempdir(), f"tenfold-{uid}", "native")
        base = os.path.join(home, ".cache")
    return os.path.join(base, "tenfold", "native")


def _private_dir(path):
    """Makes `path` (mode 0700) and checks that only this user can write it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    _check_private(path)


def _check_private(path):
    st = os.stat(path)
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise _NativeUnavailable(f"{path} belongs to another user; not loading code from it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _NativeUnavailable(f"{path} can be written by other users; not loading code "
                                 "from it")


def _cpu_key():
    """What the CPU can do (-march=native builds differ between CPUs)."""
    import platform
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor() + platform.machine()


_versions = {}


def _compiler_version(cc):
    """The compiler's first --version line (asked once per compiler and process)."""
    key = tuple(cc)
    if key not in _versions:
        _versions[key] = _ask_version(cc)
    return _versions[key]


def _ask_version(cc):
    import subprocess
    try:
        r = subprocess.run(cc + ["--version"], capture_output=True, text=True, timeout=30)
        return r.stdout.splitlines()[0] if r.stdout else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _sources(family):
    path = os.path.join(_HERE, f"{family}.c")
    if not os.path.isfile(path):
        raise _NativeUnavailable(f"no source {family}.c")
    deps = [path] + sorted(os.path.join(_HERE, f) for f in os.listdir(_HERE)
                           if f.endswith(".h"))
    return path, deps


def _build_and_load(src, deps):
    """The loaded library of the C file `src` (built if its cached build is missing), whose
    build depends on the files `deps` (src and its headers)."""
    import hashlib
    family = os.path.splitext(os.path.basename(src))[0]
    cc = _compiler()
    if cc is None:
        raise _NativeUnavailable(_NO_COMPILER)
    h = hashlib.sha256()
    for p in deps:
        with open(p, "rb") as f:
            h.update(f.read())
    version = _compiler_version(cc)
    h.update(" ".join(cc + _BASE_FLAGS + _ARCH_FLAGS).encode())
    h.update(version.encode())
    h.update(_cpu_key().encode())
    h.update(sys.platform.encode())
    ext = ".dylib" if sys.platform == "darwin" else ".so"
    cache = _cache_dir()
    try:
        _private_dir(cache)
    except OSError as e:
        raise _NativeUnavailable(f"cannot make the cache folder {cache}: {e}") from None
    target = os.path.join(cache, f"{family}-{h.hexdigest()[:20]}{ext}")
    if os.path.exists(target):
        _check_private(target)
        try:
            return ctypes.CDLL(target)
        except OSError:
            pass  # a damaged file (a build killed half-way on a filesystem without rename)
    _compile(cc, src, target)
    _check_private(target)
    try:
        return ctypes.CDLL(target)
    except OSError as e:
        raise _NativeUnavailable(f"the built {target} does not load: {e}") from None


def _compile(cc, src, target):
    """Compiles into a private temporary file beside `target`, then renames it into place
    (atomic: concurrent processes each build and the last rename wins, never a torn file)."""
    import logging
    import subprocess
    import tempfile
    # a family takes 1-20 s to build, once per machine: said where logging is on
    logging.getLogger("tenfold").info("compiling native kernels %s into %s (once)",
                                      os.path.basename(src), os.path.dirname(target))
    fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=os.path.splitext(target)[1],
                               dir=os.path.dirname(target))
    os.close(fd)
    try:
        err = ""
        for flags in (_BASE_FLAGS + _ARCH_FLAGS, _BASE_FLAGS):
            try:
                r = subprocess.run(cc + flags + ["-o", tmp, src, "-lm"], capture_output=True,
                                   text=True, timeout=_COMPILE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise _NativeUnavailable(f"compiling {src} took over {_COMPILE_TIMEOUT_S} s")
            except OSError as e:
                raise _NativeUnavailable(f"cannot run {cc[0]}: {e}")
            if r.returncode == 0:
                os.chmod(tmp, 0o700)
                os.replace(tmp, target)
                return
            err = r.stderr.strip()[-2000:]
        raise _NativeUnavailable(f"{' '.join(cc)} failed on {os.path.basename(src)}:\n{err}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
