"""HDF5 weight stores with Keras 3's layout (`<path>/vars/<i>`), checked on the way in.

Opening a file walks all of it once, reading no data: links that could lead out of the file
(soft and external links, external or virtual datasets) are refused anywhere in it, and so is
any dataset whose declared size is more than the file could hold (a "shape bomb": a chunked
or never-written dataset declaring gigabytes in a 2 KB file). Datasets are then handed out as
`LazyArray`s (shape and dtype only), so the loader checks them against the model before any
array is read.

Files written by tenfold carry a SHA-256 of their contents (`CHECKSUM_ATTR`, over every
dataset's path, dtype, shape and bytes and the model-config attributes); a load checks it when
it is present. Files from Keras have none and load as Keras loads them.
"""
import contextlib
import hashlib
import io
import math
import os

import numpy as np

CHECKSUM_ATTR = "tenfold_sha256"
CONFIG_CHECKSUM_ATTR = "tenfold_config_sha256"
_CHECKSUMMED_ATTRS = ("model_config", "training_config", "layer_names")
MAX_RATIO = 1100            # deflate's limit is ~1032x; anything beyond is not real data
SIZE_FLOOR = 1 << 20        # datasets under 1 MiB are never refused for size
MAX_OBJECTS = 1_000_000
MAX_DEPTH = 256


def h5py():
    try:
        import h5py as _h5py
    except ImportError:
        raise ImportError("Saving and loading .keras / .h5 files needs h5py (a dependency of "
                          "tenfold), which is missing from this environment. Install it with "
                          "`pip install h5py`.") from None
    return _h5py


class H5FormatError(ValueError):
    """An HDF5 file is corrupted, hostile or not a weights file; names the file."""


@contextlib.contextmanager
def h5_errors(display):
    """Turns an exception raised inside h5py (KeyError, RuntimeError, OSError... on a damaged
    file) into an H5FormatError naming the file; other exceptions pass through."""
    try:
        yield
    except H5FormatError:
        raise
    except Exception as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
        if not (module.startswith("h5py") or type(e).__module__.startswith("h5py")):
            raise
        raise H5FormatError(f"{display} is corrupted: {type(e).__name__} from the HDF5 "
                            f"library: {e}. The file is damaged or truncated; use another "
                            "copy.") from None


# ---------------------------------------------------------------------------------- checksum
def _attr_bytes(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    arr = np.asarray(value)
    if arr.dtype.kind in "SO":
        return repr([x.decode("utf-8") if isinstance(x, bytes) else str(x)
                     for x in arr.ravel().tolist()]).encode("utf-8")
    return arr.tobytes()


def checksum(h5file, read=None):
    """SHA-256 (hex) of a file's datasets (sorted by path) and model-config attributes.
    `read(path, dataset)` returns a dataset's array (default: read it now)."""
    hp = h5py()
    h = hashlib.sha256()
    for name in _CHECKSUMMED_ATTRS:
        if name in h5file.attrs:
            h.update(f"attr:{name}:".encode() + _attr_bytes(h5file.attrs[name]) + b"\0")
    paths = []
    h5file.visititems(lambda p, o: paths.append(p) if isinstance(o, hp.Dataset) else None)
    for path in sorted(paths):
        ds = h5file[path]
        arr = np.asarray(read(path, ds) if read is not None else ds[()])
        h.update(f"ds:{path}:{ds.dtype.str}:{tuple(ds.shape)}:".encode())
        h.update(np.ascontiguousarray(arr).tobytes() if arr.dtype.kind != "O" else
                 _attr_bytes(arr))
        h.update(b"\0")
    return h.hexdigest()


def config_checksum(h5file):
    """SHA-256 (hex) of the model-config attributes alone, checked before they are parsed."""
    h = hashlib.sha256()
    for name in _CHECKSUMMED_ATTRS:
        if name in h5file.attrs:
            h.update(f"attr:{name}:".encode() + _attr_bytes(h5file.attrs[name]) + b"\0")
    return h.hexdigest()


def stamp_checksum(h5file):
    h5file.attrs[CHECKSUM_ATTR] = checksum(h5file)
    if "model_config" in h5file.attrs:
        h5file.attrs[CONFIG_CHECKSUM_ATTR] = config_checksum(h5file)


# ---------------------------------------------------------------------------------- writing
class H5Writer:
    """Writes groups `<path>/vars` (with a `name` attribute) holding datasets "0", "1", ..."""

    def __init__(self, target):
        """`target`: a path or a binary file object (io.BytesIO)."""
        self.file = h5py().File(target, "w")

    def write_group(self, path, values, name=None):
        """Creates `<path>/vars` (always, when `name` is given, as Keras does) and its
        datasets from `values`, a dict key -> array."""
        if not values and name is None:
            return
        grp = self.file.require_group(f"{path}/vars" if path else "vars")
        if name is not None:
            grp.attrs["name"] = name
        for key, value in values.items():
            arr = np.asarray(value)
            if arr.dtype.name == "bfloat16":
                ds = grp.create_dataset(str(key), data=arr.view(np.dtype("V2")))
                ds.attrs["dtype"] = "bfloat16"
            else:
                grp.create_dataset(str(key), data=arr)

    def close(self):
        try:
            stamp_checksum(self.file)
        finally:
            self.file.close()


# ---------------------------------------------------------------------------------- reading
class LazyArray:
    """A dataset's shape and dtype, read on demand (after the loader has checked them)."""

    def __init__(self, reader, path, shape, dtype):
        self._reader = reader
        self.path = path
        self.shape = tuple(shape)
        self.dtype = dtype
        self.ndim = len(self.shape)

    def read(self):
        return self._reader.read(self.path)


class H5Reader:
    """Reads the `vars` groups of a weights file (path, file object or bytes)."""

    def __init__(self, source, display_name):
        self.name = display_name
        hp = h5py()
        if isinstance(source, (bytes, bytearray)):
            size = len(source)
            source = io.BytesIO(source)
        elif isinstance(source, (str, os.PathLike)):
            size = os.path.getsize(source)
        else:
            size = _size_of(source)
        self.file_size = size
        try:
            self.file = hp.File(source, "r")
        except Exception as e:
            raise H5FormatError(f"Cannot read weights from {display_name}: it is not a valid "
                                f"HDF5 file (corrupted or truncated?). {type(e).__name__}: "
                                f"{e}") from None
        self._cache = {}
        self._verified = False
        try:
            with h5_errors(display_name):
                self.declared_elements = self._scan()
        except BaseException:
            self.close()
            raise

    def close(self):
        try:
            self.file.close()
        except Exception:
            pass

    # ----------------------------------------------------------------- whole-file checks
    def _scan(self):
        """Walks every object once: refuses links out of the file and impossible sizes.
        Returns the number of elements all datasets declare."""
        hp = h5py()
        seen, stack, elements, declared_total = set(), [(self.file, "", 0)], 0, 0
        limit = max(SIZE_FLOOR, self.file_size * MAX_RATIO)
        while stack:
            grp, path, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise H5FormatError(f"Refusing to load {self.name}: groups nest more than "
                                    f"{MAX_DEPTH} deep at {path!r}.")
            for key in self._call(lambda: list(grp.keys()), path):
                sub = f"{path}/{key}" if path else key
                link = self._call(lambda: grp.get(key, getlink=True), sub)
                if isinstance(link, (hp.SoftLink, hp.ExternalLink)):
                    raise H5FormatError(f"Refusing to load {self.name}: it contains a "
                                        f"{type(link).__name__} at {sub!r} (links can point "
                                        "elsewhere in the file or to other files; tenfold and "
                                        "Keras never write them).")
                obj = self._call(lambda: grp[key], sub)
                ident = hash(obj.id)
                if ident in seen:
                    continue
                seen.add(ident)
                if len(seen) > MAX_OBJECTS:
                    raise H5FormatError(f"Refusing to load {self.name}: more than "
                                        f"{MAX_OBJECTS} objects.")
                if isinstance(obj, hp.Group):
                    stack.append((obj, sub, depth + 1))
                elif isinstance(obj, hp.Dataset):
                    n = self._check_dataset(obj, sub)
                    elements += n
                    declared_total += n * obj.dtype.itemsize
                    if declared_total > limit:
                        raise H5FormatError(
                            f"Refusing to load {self.name}: its datasets declare "
                            f"{declared_total} bytes in all, more than a {self.file_size}-"
                            "byte file can hold.")
        return elements

    def _call(self, fn, where):
        try:
            return fn()
        except H5FormatError:
            raise
        except Exception as e:
            raise H5FormatError(f"{self.name} is corrupted: cannot read {where or '/'!r} "
                                f"({type(e).__name__}: {e}).") from None

    def _check_dataset(self, ds, where):
        if self._call(lambda: ds.external, where):
            raise H5FormatError(f"Refusing to load {self.name}: dataset {where!r} stores its "
                                "data in an external file.")
        if self._call(lambda: ds.is_virtual, where):
            raise H5FormatError(f"Refusing to load {self.name}: dataset {where!r} is virtual "
                                "(its data comes from other datasets or files).")
        shape = self._call(lambda: ds.shape, where)
        if shape is None:
            return 0
        elements = math.prod(shape)
        declared = elements * ds.dtype.itemsize
        if declared <= SIZE_FLOOR:
            return elements
        stored = self._call(ds.id.get_storage_size, where)
        compressed = bool(self._call(lambda: ds._filters, where))
        kind = "chunked" if ds.chunks is not None else "contiguous"
        if stored == 0:
            raise H5FormatError(f"Refusing to load {self.name}: dataset {where!r} declares "
                                f"shape {tuple(shape)} ({declared} bytes) but stores no data.")
        room = (MAX_RATIO if compressed else 1) * min(stored, self.file_size)
        if declared > room or stored > self.file_size:
            raise H5FormatError(f"Refusing to load {self.name}: {kind} dataset {where!r} "
                                f"declares shape {tuple(shape)} ({declared} bytes) but the "
                                f"{self.file_size}-byte file holds {stored} bytes of it.")
        return elements

    def verify_config(self):
        """Checks the model-config attributes against their own checksum, when present."""
        want = self._call(lambda: self.file.attrs.get(CONFIG_CHECKSUM_ATTR), "/")
        if want is None:
            return
        if isinstance(want, bytes):
            want = want.decode("ascii", "replace")
        if self._call(lambda: config_checksum(self.file), "/") != str(want):
            raise H5FormatError(f"{self.name} is corrupted: its model configuration does not "
                                "match the SHA-256 checksum stored when it was written (a "
                                "damaged copy or a modified file). Nothing was loaded.")

    def verify(self):
        """Checks the file's checksum, when it has one (reading, and caching, every dataset);
        raises H5FormatError naming the file when it does not match."""
        if self._verified:
            return
        self._verified = True
        want = self._call(lambda: self.file.attrs.get(CHECKSUM_ATTR), CHECKSUM_ATTR)
        if want is None:
            return
        if isinstance(want, bytes):
            want = want.decode("ascii", "replace")
        got = self._call(lambda: checksum(self.file, lambda p, ds: self.read(p)), "/")
        if got != str(want):
            self._cache.clear()
            raise H5FormatError(f"{self.name} is corrupted: its contents do not match the "
                                "SHA-256 checksum stored when it was written (a damaged copy "
                                "or a modified file). Nothing was loaded.")

    # ----------------------------------------------------------------- access
    def has(self, path):
        try:
            return path in self.file
        except Exception:
            return False

    def get(self, path):
        """dict key -> LazyArray for `<path>/vars` ({} if absent)."""
        grp = self._group(f"{path}/vars" if path else "vars")
        if grp is None and path and "_layer_checkpoint_dependencies" in self.file:
            # Files written by Keras 2.13 name the layers container differently.
            legacy = path.replace("layers", "_layer_checkpoint_dependencies")
            grp = self._group(f"{legacy}/vars")
        if grp is None:
            return {}
        out = {}
        for key in self._call(lambda: list(grp.keys()), path):
            ds = self._call(lambda: grp[key], f"{grp.name}/{key}")
            if not isinstance(ds, h5py().Dataset):
                raise H5FormatError(f"{self.name} is not a valid weights file: "
                                    f"'{grp.name}/{key}' is not a dataset.")
            out[key] = self.lazy(ds)
        return out

    def lazy(self, ds):
        return LazyArray(self, ds.name.lstrip("/"), ds.shape or (), self._dtype_of(ds))

    def _dtype_of(self, ds):
        if ds.attrs.get("dtype", None) in ("bfloat16", b"bfloat16"):
            import ml_dtypes
            return np.dtype(ml_dtypes.bfloat16)
        return ds.dtype

    def _group(self, path):
        hp = h5py()
        cur = self.file
        for part in path.split("/"):
            if not part:
                raise H5FormatError(f"Invalid path {path!r} in {self.name}")
            if not self._call(lambda: part in cur, path):
                return None
            cur = self._call(lambda: cur[part], path)
            if not isinstance(cur, hp.Group):
                raise H5FormatError(f"{self.name} is not a valid weights file: {path!r} is a "
                                    f"{type(cur).__name__}, expected a group.")
        return cur

    def read(self, path):
        """The array at dataset `path` (cached: each dataset is read once)."""
        if path in self._cache:
            return self._cache[path]
        ds = self._call(lambda: self.file[path], path)
        try:
            arr = np.asarray(ds[()])
        except Exception as e:
            raise H5FormatError(f"{self.name} is corrupted: cannot read {path!r} "
                                f"({type(e).__name__}: {e})") from None
        if ds.attrs.get("dtype", None) in ("bfloat16", b"bfloat16"):
            import ml_dtypes
            arr = arr.view(ml_dtypes.bfloat16) if arr.dtype.itemsize == 2 and \
                arr.dtype.kind == "V" else arr.astype(ml_dtypes.bfloat16)
        self._cache[path] = arr
        return arr

    def read_group(self, lazy_group):
        """Reads a dict of LazyArrays (checksum first)."""
        self.verify()
        return {k: v.read() for k, v in lazy_group.items()}


def _size_of(fileobj):
    pos = fileobj.tell()
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(pos)
    return size
