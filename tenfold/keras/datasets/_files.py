"""Finding a dataset's file: the folder named by `TENFOLD_DATASETS` first (a file there is
taken as it is), then Keras's own cache (`$KERAS_HOME/datasets`, by default
`~/.keras/datasets`: a file Keras already downloaded, at the path Keras gives it, is taken as
it is), then tenfold's cache (checked by hash), then a download (checked by hash, written
atomically). With none of these, an error says which file is missing and where to put it."""
import io
import os
import pickle
import zipfile

import numpy as np

from tenfold.keras.utils import file_utils
from tenfold.keras.utils.file_utils import DownloadError

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def local_folder():
    folder = os.environ.get("TENFOLD_DATASETS")
    return folder if folder and os.path.isdir(folder) else None


def find_local(*names):
    """The first of `names` (files or folders) present in the TENFOLD_DATASETS folder."""
    folder = local_folder()
    if folder:
        for n in names:
            p = os.path.join(folder, n)
            if os.path.exists(p):
                return p
    return None


def keras_home():
    """Keras's own folder, as Keras 3 finds it: `KERAS_HOME`, else `~/.keras`."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def find_keras_cached(fname, cache_subdir="datasets"):
    """A file (or, for archives, the extracted folder) that Keras's `get_file` already put
    in its cache: `<keras home>/<cache_subdir>/<fname>`, or None."""
    path = os.path.join(keras_home(), cache_subdir, fname)
    return path if os.path.exists(path) else None


def fetch(fname, origin, file_hash=None, cache_subdir="datasets", extract=False,
          local_names=()):
    """The path of a dataset file (or extracted folder), from wherever it can be had."""
    local = find_local(*(tuple(local_names) or (fname,)))
    if local is not None:
        return local
    cached = find_keras_cached(fname, cache_subdir)
    if cached is not None:
        return cached
    try:
        return file_utils.get_file(fname, origin, file_hash=file_hash,
                                   cache_subdir=cache_subdir, extract=extract)
    except DownloadError as e:
        target = os.path.join(file_utils.cache_root(), cache_subdir,
                              fname if not extract else fname + "_archive")
        where = os.environ.get("TENFOLD_DATASETS")
        looked = (f"the folder named by TENFOLD_DATASETS ({where})" if where else
                  "TENFOLD_DATASETS (not set)")
        looked += f", nor in Keras's cache ({os.path.join(keras_home(), cache_subdir)}),"
        shown = os.path.basename(origin)
        short = (f"{shown} is neither in {looked} nor in tenfold's cache, and downloading it "
                 f"failed ({e.reason})")
        raise DownloadError(
            f"The dataset file {short}. To use it offline, download {origin} and put it at "
            f"{target}, or put {' or '.join(local_names or (fname,))} in a folder and set "
            "TENFOLD_DATASETS to that folder.", short) from None


def corrupt(path, err, hint=""):
    return ValueError(f"The dataset file {path} is corrupted or truncated ({err}). Delete it "
                      f"so that it is downloaded again{hint}.")


def load_npz(path, keys):
    """The arrays `keys` from an .npz file (no pickle), with a clear error if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ValueError(f"it has no {', '.join(missing)} (it holds {f.files})")
            return [f[k] for k in keys]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise corrupt(path, e) from None


# ----------------------------------------------------------------------------------------
# Object arrays without running code from the file

_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode")}


class SafeUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain Python data only; refuses anything else."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file "
                                     "(only NumPy arrays and plain data are allowed)")


def safe_unpickle(data, encoding="ASCII"):
    return SafeUnpickler(io.BytesIO(data), encoding=encoding).load()


def load_npz_objects(path, keys):
    """Like load_npz, for files holding object arrays (lists of ints, as IMDB's)."""
    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            for k in keys:
                with z.open(k + ".npy") as member:
                    buf = io.BytesIO(member.read())
                version = np.lib.format.read_magic(buf)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
                if dtype.hasobject:
                    arr = SafeUnpickler(buf).load()
                else:
                    buf.seek(0)
                    arr = np.lib.format.read_array(buf, allow_pickle=False)
                out[k] = arr
    except KeyError as e:
        raise corrupt(path, f"missing member {e}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, pickle.UnpicklingError) as e:
        raise corrupt(path, e) from None
    return [out[k] for k in keys]
