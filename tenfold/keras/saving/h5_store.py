"""HDF5 weight stores with Keras 3's layout (`<path>/vars/<i>`), checked on the way in.

Reading never follows links out of the file (external or soft links, external or virtual
datasets are refused) and refuses datasets whose declared size is far larger than what the
file stores (a "shape bomb"). Every dataset is read into memory before anything is assigned.
"""
import io
import math

import numpy as np

_BOMB_FLOOR = 1 << 32        # declared bytes above which a dataset must be backed by storage
_MAX_EXPANSION = 1000


def h5py():
    try:
        import h5py as _h5py
    except ImportError:
        raise ImportError("Saving and loading .keras / .h5 files needs h5py, which is not "
                          "installed. Install it with `pip install h5py` (or "
                          "`pip install tenfold[saving]`).") from None
    return _h5py


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
        self.file.close()


class H5Reader:
    """Reads the `vars` groups of a weights file (path, file object or bytes)."""

    def __init__(self, source, display_name):
        self.name = display_name
        hp = h5py()
        if isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        try:
            self.file = hp.File(source, "r")
        except Exception as e:
            raise ValueError(f"Cannot read weights from {display_name}: it is not a valid HDF5 "
                             f"file (corrupted or truncated?). {type(e).__name__}: {e}") from None

    def close(self):
        try:
            self.file.close()
        except Exception:
            pass

    def has(self, path):
        try:
            return path in self.file
        except Exception:
            return False

    def get(self, path):
        """dict key -> np.ndarray for `<path>/vars` ({} if absent)."""
        grp = self._group(f"{path}/vars" if path else "vars")
        if grp is None and path and "_layer_checkpoint_dependencies" in self.file:
            # Files written by Keras 2.13 name the layers container differently.
            legacy = path.replace("layers", "_layer_checkpoint_dependencies")
            grp = self._group(f"{legacy}/vars")
        if grp is None:
            return {}
        return {key: self._dataset(grp, key, f"{path}/vars/{key}") for key in grp.keys()}

    def _group(self, path):
        hp = h5py()
        cur = self.file
        for part in path.split("/"):
            if not part:
                raise ValueError(f"Invalid path {path!r} in {self.name}")
            try:
                if part not in cur:
                    return None
                link = cur.get(part, getclass=True, getlink=True)
            except Exception as e:
                raise ValueError(f"{self.name} is corrupted: cannot read group {path!r} "
                                 f"({type(e).__name__}: {e})") from None
            if link in (hp.ExternalLink, hp.SoftLink):
                raise ValueError(f"Refusing to load {self.name}: it contains a "
                                 f"{link.__name__} at {path!r} (links can point outside the "
                                 "file).")
            cur = cur[part]
            if not isinstance(cur, hp.Group):
                raise ValueError(f"{self.name} is not a valid weights file: {path!r} is a "
                                 f"{type(cur).__name__}, expected a group.")
        return cur

    def _dataset(self, grp, key, where):
        hp = h5py()
        link = grp.get(key, getclass=True, getlink=True)
        if link in (hp.ExternalLink, hp.SoftLink):
            raise ValueError(f"Refusing to load {self.name}: it contains a {link.__name__} at "
                             f"{where!r}.")
        ds = grp[key]
        if not isinstance(ds, hp.Dataset):
            raise ValueError(f"{self.name} is not a valid weights file: {where!r} is not a "
                             "dataset.")
        if ds.external:
            raise ValueError(f"Refusing to load {self.name}: dataset {where!r} stores its data "
                             "in an external file.")
        if ds.is_virtual:
            raise ValueError(f"Refusing to load {self.name}: dataset {where!r} is virtual.")
        declared = math.prod(ds.shape or ()) * ds.dtype.itemsize
        stored = ds.id.get_storage_size()
        if declared > _BOMB_FLOOR and declared > _MAX_EXPANSION * stored:
            raise ValueError(f"Refusing to load {self.name}: dataset {where!r} declares "
                             f"{declared} bytes but stores {stored} (a decompression/shape "
                             "bomb).")
        try:
            arr = ds[()]
        except Exception as e:
            raise ValueError(f"{self.name} is corrupted: cannot read {where!r} "
                             f"({type(e).__name__}: {e})") from None
        arr = np.asarray(arr)
        if ds.attrs.get("dtype", None) in ("bfloat16", b"bfloat16"):
            import ml_dtypes
            arr = arr.view(ml_dtypes.bfloat16) if arr.dtype.itemsize == 2 and \
                arr.dtype.kind == "V" else arr.astype(ml_dtypes.bfloat16)
        return arr
