"""tenfold.backend.memory: glibc keeps freed buffers in the process (see the module)."""
import os
import platform
import subprocess
import sys

import pytest

from tenfold.backend import memory

glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _tuned_in_child(**env):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("MALLOC_") and k != "TENFOLD_MALLOC"}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", "import tenfold; from tenfold.backend import "
                          "memory; print(memory.tuned())"], env=e, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.skipif(not glibc, reason="glibc's mallopt only")
def test_import_tunes_glibc_unless_told_not_to():
    assert _tuned_in_child()
    assert not _tuned_in_child(TENFOLD_MALLOC="default")
    assert not _tuned_in_child(MALLOC_ARENA_MAX="2")  # the user's own malloc settings win


def test_tune_is_idempotent():
    first = memory.tuned()
    assert memory.tune() == first
    assert memory.tuned() == first
