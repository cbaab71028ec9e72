"""`keras.utils.get_file`: download a file once into a cache folder, checked by hash.

Downloads are written to a temporary file beside the target and renamed into place only
once complete and (when a hash is given) verified, so a download cut off midway, or one
that does not match its hash, never leaves a file that a later call takes for good.

The cache root is `cache_dir` if given, else `$TENFOLD_CACHE_DIR`, else `$TENFOLD_HOME`,
else `~/.tenfold` (falling back to `/tmp/.tenfold` when that is not writable); files go in
its `cache_subdir` ("datasets" by default). `TENFOLD_OFFLINE=1` forbids downloads.
"""
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

_CHUNK = 1 << 16
_TIMEOUT = 60


class DownloadError(OSError):
    """A file could not be downloaded (or is missing and downloads are off). `reason` is
    the short cause ("HTTP 404 Not Found", "downloads are off", ...)."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason or message

    def __str__(self):
        return self.args[0]


def cache_root(cache_dir=None):
    """The folder under which cached files live (before `cache_subdir`)."""
    if cache_dir is None:
        cache_dir = (os.environ.get("TENFOLD_CACHE_DIR") or os.environ.get("TENFOLD_HOME")
                     or os.path.join("~", ".tenfold"))
    root = os.path.expanduser(os.fspath(cache_dir))
    probe = root
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.access(probe, os.W_OK):
        root = os.path.join(tempfile.gettempdir(), ".tenfold")
    return root


def offline():
    return os.environ.get("TENFOLD_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


# ----------------------------------------------------------------------------------------
# Hashes

def resolve_hasher(algorithm, file_hash=None):
    """A hashlib object: sha256, md5, or 'auto' (sha256 for a 64-character hash, else md5)."""
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', got "
                     f"{algorithm!r}.")


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK):
    """The hex digest of a file (`algorithm`: 'sha256', 'md5', or a hashlib object)."""
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            hasher.update(block)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK):
    """True when the file's hash equals `file_hash`."""
    return hash_file(fpath, resolve_hasher(algorithm, file_hash), chunk_size) == str(file_hash)


# ----------------------------------------------------------------------------------------
# Download

class _Progress:
    def __init__(self, total):
        self.total = total
        self.last = 0.0
        self.show = sys.stdout.isatty()

    def __call__(self, done, final=False):
        if not self.show:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.25:
            return
        self.last = now
        if self.total:
            pct = 100.0 * done / self.total
            bar = "=" * int(pct / 100 * 30)
            sys.stdout.write(f"\r{done / 1e6:8.1f}/{self.total / 1e6:.1f} MB [{bar:<30}] "
                             f"{pct:5.1f}%")
        else:
            sys.stdout.write(f"\r{done / 1e6:8.1f} MB")
        if final:
            sys.stdout.write("\n")
        sys.stdout.flush()


def download(origin, target, file_hash=None, hash_algorithm="auto"):
    """Downloads `origin` to `target` atomically, checking the hash when given."""
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".",
                               suffix=".part")
    from tenfold.util.fileio import chmod_default
    chmod_default(fd)    # the user's umask, not tempfile's private 0600
    ok = False
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(origin, timeout=_TIMEOUT)
            except urllib.error.HTTPError as e:
                raise DownloadError(f"URL fetch failure on {origin}: HTTP {e.code} "
                                    f"{e.reason}", f"HTTP {e.code} {e.reason}") from None
            except (urllib.error.URLError, OSError, ValueError) as e:
                reason = getattr(e, "reason", e)
                raise DownloadError(f"URL fetch failure on {origin}: {reason}",
                                    str(reason)) from None
            with response:
                length = response.headers.get("Content-Length") if hasattr(
                    response, "headers") else None
                total = int(length) if length and length.isdigit() else None
                progress = _Progress(total)
                done = 0
                try:
                    while True:
                        block = response.read(_CHUNK)
                        if not block:
                            break
                        out.write(block)
                        done += len(block)
                        progress(done)
                except (OSError, ValueError, EOFError) as e:  # IncompleteRead, reset, ...
                    raise DownloadError(f"The download of {origin} was cut off after "
                                        f"{done} bytes: {e}", f"cut off after {done} bytes"
                                        ) from None
                progress(done, final=True)
                if total is not None and done != total:
                    raise DownloadError(f"The download of {origin} was cut off: got {done} "
                                        f"of {total} bytes.",
                                        f"cut off after {done} of {total} bytes")
        if file_hash is not None and not validate_file(tmp, file_hash, hash_algorithm):
            got = hash_file(tmp, resolve_hasher(hash_algorithm, file_hash))
            raise ValueError(f"Incomplete or corrupted file detected: the "
                             f"{resolve_hasher(hash_algorithm, file_hash).name} hash of the file "
                             f"downloaded from {origin} is {got}, expected {file_hash}. The "
                             "file was not kept.")
        os.replace(tmp, target)
        ok = True
    finally:
        if not ok and os.path.exists(tmp):
            os.remove(tmp)
    return target


# ----------------------------------------------------------------------------------------
# Archives

def _safe_members_tar(archive, path):
    root = os.path.realpath(path)
    for m in archive.getmembers():
        dest = os.path.realpath(os.path.join(path, m.name))
        if os.path.commonpath([root, dest]) != root or m.issym() or m.islnk() or \
                m.isdev():
            continue
        yield m


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar(.gz/.bz2/.xz) or zip archive into `path`; True if it was one. Members
    that would land outside `path` (absolute names, `..`, links) are skipped."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    file_path, path = os.fspath(file_path), os.fspath(path)
    for fmt in formats:
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            opener = tarfile.open
        elif fmt == "zip" and zipfile.is_zipfile(file_path):
            opener = zipfile.ZipFile
        else:
            continue
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(path) + ".")
        from tenfold.util.fileio import chmod_default
        chmod_default(tmp, is_dir=True)
        try:
            with opener(file_path) as archive:
                if isinstance(archive, tarfile.TarFile):
                    members = list(_safe_members_tar(archive, tmp))
                    if hasattr(tarfile, "data_filter"):
                        archive.extractall(tmp, members=members, filter="data")
                    else:
                        archive.extractall(tmp, members=members)
                else:
                    root = os.path.realpath(tmp)
                    names = [n for n in archive.namelist() if os.path.commonpath(
                        [root, os.path.realpath(os.path.join(tmp, n))]) == root]
                    archive.extractall(tmp, members=names)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
            os.replace(tmp, path)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ValueError(f"Could not extract the archive {file_path}: it looks truncated "
                             f"or corrupted ({e}). Delete it and download it again.") from None
        return True
    return False


# ----------------------------------------------------------------------------------------
# get_file

def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Downloads `origin` into the cache unless it is already there; returns its path.

    With `file_hash` (sha256, or md5), a cached file that does not match is downloaded
    again, and a download that does not match is refused (nothing is kept). With `extract`
    (or `untar`) the archive is unpacked and the folder's path returned.

        path = keras.utils.get_file(origin="https://example.com/data.tgz", extract=True)
    """
    if origin is None:
        raise ValueError('get_file: please specify the "origin" argument (URL of the file to '
                         "download).")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(cache_root(cache_dir), os.fspath(cache_subdir))
    os.makedirs(datadir, exist_ok=True)

    provided = fname
    fname = os.fspath(fname) if fname else ""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"get_file: can't tell the file name from the origin {origin!r}; "
                             "pass `fname`.")
    elif os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(f"get_file: `fname` must be a file name, not a path (got {fname!r}); "
                         "use `cache_dir` / `cache_subdir` to choose the folder.")

    extracting = bool(extract or untar)
    if extracting:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, fname[:fname.find(".")] + "_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, fname + "_archive")
    else:
        target = os.path.join(datadir, fname)

    downloaded = False
    need = force_download or not os.path.exists(target)
    if not need and file_hash is not None and not validate_file(target, file_hash,
                                                                hash_algorithm):
        print(f"A local file was found at {target}, but its "
              f"{resolve_hasher(hash_algorithm, file_hash).name} hash does not match "
              f"{file_hash} (incomplete or outdated): downloading it again.")
        need = True
    if need:
        if offline():
            raise DownloadError(f"{fname} is not in the cache ({target}) and downloads are "
                                "off (TENFOLD_OFFLINE is set). Download it from "
                                f"{origin} and put it at {target}.",
                                "downloads are off: TENFOLD_OFFLINE is set")
        print(f"Downloading data from {origin}")
        download(origin, target, file_hash, hash_algorithm)
        downloaded = True

    if extracting:
        if downloaded or not os.path.isdir(extraction_dir):
            fmt = "tar" if untar else archive_format
            if not extract_archive(target, extraction_dir, fmt):
                import warnings
                warnings.warn(f"get_file: could not extract {target} (not a {fmt} archive).",
                              stacklevel=2)
        return extraction_dir
    return target
