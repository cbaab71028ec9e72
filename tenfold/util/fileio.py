"""Crash-safe file writes: write to a temporary name in the same folder, fsync, rename.

A process killed mid-save leaves the previous file intact (and, at worst, a hidden temporary
file beside it, removed by the next save to the same path); a reader never sees half a file
under the real name. Files and folders get the permissions `open()` would give them (0666 /
0777 less the user's umask), as Keras's files do, not `tempfile`'s private 0600 / 0700.

Folders (`model.save(dir, zipped=False)`) are replaced as a whole: on Linux with one atomic
exchange of the new folder and the old one (renameat2 RENAME_EXCHANGE); elsewhere with two
renames whose half-done state `recover_directory` repairs before the next read or write.
"""
import contextlib
import ctypes
import glob
import hashlib
import os
import shutil
import sys
import tempfile
import threading

_TMP_SUFFIX = ".tfsave"
_OLD_SUFFIX = ".tfold"
_umask_lock = threading.Lock()


def step(name):
    """Called between the stages of a save (no-op). Tests replace it to kill the process at
    each stage and check that the last good save survives."""


# ---------------------------------------------------------------------------------- umask
def current_umask():
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:          # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_file_mode():
    return 0o666 & ~current_umask()


def default_dir_mode():
    return 0o777 & ~current_umask()


def chmod_default(fd_or_path, is_dir=False):
    """Gives a file made by `tempfile` the mode a plain `open()` would have given it."""
    mode = default_dir_mode() if is_dir else default_file_mode()
    try:
        if isinstance(fd_or_path, int):
            os.fchmod(fd_or_path, mode)
        else:
            os.chmod(fd_or_path, mode)
    except (OSError, AttributeError, NotImplementedError):
        pass


# ---------------------------------------------------------------------------------- files
@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """`with atomic_open(path) as f: f.write(...)`: the file appears at `path` only when the
    block finishes without an exception."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=_TMP_SUFFIX,
                               dir=folder)
    try:
        chmod_default(fd)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        step("file written")
        os.replace(tmp, path)
        step("file renamed")
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    with atomic_open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------- folders
def _leftovers(path, suffix):
    base = glob.escape(os.path.basename(path))
    return glob.glob(os.path.join(glob.escape(os.path.dirname(path)), f".{base}.*{suffix}"))


def recover_directory(path):
    """Repairs what a save killed part way may have left beside folder `path`: when `path`
    is missing but the previous version waits under its hidden `.old` name, puts it back;
    removes finished-with temporary folders. Safe to call at any time."""
    path = os.path.abspath(os.fspath(path))
    olds = sorted(_leftovers(path, _OLD_SUFFIX), key=os.path.getmtime)
    if olds and not os.path.lexists(path):
        os.replace(olds.pop(), path)      # the newest previous version comes back
        fsync_dir(os.path.dirname(path))
    for stale in olds + _leftovers(path, _TMP_SUFFIX):
        shutil.rmtree(stale, ignore_errors=True)


def _exchange(a, b):
    """Atomically swaps two paths (Linux renameat2 RENAME_EXCHANGE); False when the OS or
    file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    return False


@contextlib.contextmanager
def atomic_directory(path):
    """Yields a temporary folder to fill; it then replaces `path` (a folder) as a whole. A
    process killed at any point leaves either the old folder or the new one at `path` (on
    Linux), or, elsewhere, a state `recover_directory` turns into one of them."""
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    recover_directory(path)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=_TMP_SUFFIX,
                           dir=parent)
    chmod_default(tmp, is_dir=True)
    old = None
    try:
        yield tmp
        for name in os.listdir(tmp):
            chmod_default(os.path.join(tmp, name))
        fsync_dir(tmp)
        step("folder written")
        if not os.path.lexists(path):
            os.replace(tmp, path)
            step("folder renamed")
        elif os.path.isdir(path) and not os.path.islink(path) and _exchange(tmp, path):
            step("folder exchanged")   # `tmp` now holds the previous version
        else:
            if not os.path.isdir(path) or os.path.islink(path):
                raise FileExistsError(f"Cannot save a model folder at {path}: a file with "
                                      "that name exists. Remove it or pick another name.")
            old = tmp[:-len(_TMP_SUFFIX)] + _OLD_SUFFIX
            os.replace(path, old)
            step("old folder moved aside")
            os.replace(tmp, path)
            step("folder renamed")
            tmp, old = old, None
        fsync_dir(parent)
        shutil.rmtree(tmp, ignore_errors=True)
        step("previous folder removed")
    except BaseException:
        if old is not None and not os.path.lexists(path):
            with contextlib.suppress(OSError):
                os.replace(old, path)      # failed between the two renames: undo the first
        if os.path.isdir(tmp) and os.path.basename(tmp).endswith(_TMP_SUFFIX):
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
