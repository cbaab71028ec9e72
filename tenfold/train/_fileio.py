"""Crash-safe file writes: write to a temporary name in the same folder, fsync, rename.

A process killed mid-save leaves the previous file intact (and, at worst, a hidden `.tmp` file
beside it); a reader never sees half a file under the real name.
"""
import contextlib
import hashlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """`with atomic_open(path) as f: f.write(...)`: the file appears at `path` only when the
    block finishes without an exception."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    with atomic_open(path, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def atomic_directory(path):
    """Yields a temporary folder to fill; it then replaces `path` (a folder) as a whole."""
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        old = None
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".old",
                                   dir=parent)
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_dir(parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256(data):
    return hashlib.sha256(data).hexdigest()
