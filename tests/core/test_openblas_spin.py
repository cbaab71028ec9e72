"""OpenBLAS's idle workers are made to sleep at once instead of spinning ~0.1 s after each
threaded product (kernels._shorten_openblas_spin), unless the user chose a timeout or
another Python thread could be inside BLAS. Each case runs in a fresh process: the setting
is process-wide."""
import os
import subprocess
import sys

import pytest

from tenfold.backend import kernels

_PROBE = """
import os, threading, time, numpy as np
{before}
import tenfold
from tenfold.backend import kernels as K
ok = K.blas_thread_count_fns() is not None
lib = K._blas.lib
t = getattr(lib, "openblas_thread_timeout", None) if lib is not None else None
if t is not None:
    import ctypes
    t.restype = ctypes.c_int
K._blas.fns[1](2)   # two BLAS threads: the restarted workers must serve a threaded product
a = np.random.default_rng(0).standard_normal((600, 600))
good = np.allclose(a @ a, np.einsum("ij,jk->ik", a, a))
print(ok, K._blas.short_spin, t() if t is not None else None,
      "OPENBLAS_THREAD_TIMEOUT" in os.environ, good)
"""


def _run(before="", env_extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", _PROBE.format(before=before)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()


def _supported():
    if kernels.blas_thread_count_fns() is None:
        return False
    lib = kernels._blas.lib
    return all(getattr(lib, n, None) is not None for n in
               ("openblas_read_env", "openblas_thread_timeout", "blas_thread_shutdown_",
                "blas_thread_init"))


pytestmark = pytest.mark.skipif(not _supported(), reason="no OpenBLAS with a settable timeout")


def test_workers_sleep_at_once_and_still_compute():
    ok, short, timeout, env_left, good = _run()
    assert ok == "True" and short == "True" and timeout == "4"
    assert env_left == "False"     # the user's environment is as it was
    assert good == "True"


def test_the_users_timeout_stands():
    ok, short, timeout, env_left, good = _run(env_extra={"OPENBLAS_THREAD_TIMEOUT": "12"})
    assert short == "False" and timeout == "12" and env_left == "True" and good == "True"


def test_not_while_another_python_thread_runs():
    before = ("stop = threading.Event()\n"
              "th = threading.Thread(target=stop.wait, daemon=True); th.start()")
    ok, short, timeout, env_left, good = _run(before=before)
    assert short == "False" and timeout != "4" and good == "True"
