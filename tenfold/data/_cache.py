"""`Dataset.cache(filename)`: the first complete pass is written to `<filename>.tfcache`
(written to a temporary file and renamed when the pass completes, so an interrupted pass
leaves nothing behind); later passes, and later runs of the program, read that file without
running the pipeline above the cache.

Format: a magic line, a JSON line with the element structure, then for each element its
leaves in `tf.nest` order as pairs of `.npy` records (a kind code, then the array; no
pickle: strings are stored as fixed-width bytes / unicode arrays), and an end record with
the element count, so a damaged file is detected wherever it was cut.
"""
import json
import os
import tempfile

import numpy as np

from tenfold.framework.errors import DataLossError
from tenfold.data import _structure as S

_MAGIC = b"TENFOLD-DATASET-CACHE 2\n"
_END = -1


def cache_path(filename):
    return os.fspath(filename) + ".tfcache"


class _NoJson(Exception):
    pass


def _structure_json(x):
    if isinstance(x, tuple):
        if S._is_namedtuple(x):
            raise _NoJson
        return {"tuple": [_structure_json(c) for c in x]}
    if isinstance(x, S._Mapping):
        if not all(isinstance(k, str) for k in x):
            raise _NoJson
        return {"dict": [[k, _structure_json(v)] for k, v in x.items()]}
    return None


def _structure_from_json(j):
    if j is None:
        return 0
    if "tuple" in j:
        return tuple(_structure_from_json(c) for c in j["tuple"])
    return {k: _structure_from_json(v) for k, v in j["dict"]}


def _encode(a):
    if a.dtype.kind != "O":
        return a, 0
    flat = a.ravel().tolist()
    if all(isinstance(v, bytes) for v in flat):
        return np.array(flat, dtype="S").reshape(a.shape), 1
    return np.array([v if isinstance(v, str) else os.fsdecode(v) for v in flat],
                    dtype="U").reshape(a.shape), 2


def _decode(a, kind):
    if kind == 0:
        return a
    if kind == 1:
        return np.array([bytes(v) for v in a.ravel().tolist()], dtype=object).reshape(a.shape)
    return np.array([str(v) for v in a.ravel().tolist()], dtype=object).reshape(a.shape)


def iterate(ds):
    path = cache_path(ds._filename)
    if os.path.exists(path):
        return _read(path, ds)
    return _write(ds, path)


def _record(f, value, dtype):
    np.lib.format.write_array(f, np.asarray(value, dtype=dtype), allow_pickle=False)


def _write(ds, path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".part")
    from tenfold.util.fileio import chmod_default
    chmod_default(fd)    # the user's umask, not tempfile's private 0600
    done = False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            count = 0
            header_written = False
            for e in ds._inputs[0]._iter():
                if not header_written:
                    try:
                        head = json.dumps({"structure": _structure_json(e)})
                    except _NoJson:
                        head = json.dumps({"structure": "spec"})
                    f.write(head.encode() + b"\n")
                    header_written = True
                for a in S.flatten(e):
                    enc, kind = _encode(a)
                    _record(f, kind, np.int8)
                    np.lib.format.write_array(f, enc, allow_pickle=False)
                count += 1
                yield e
            if not header_written:
                f.write(json.dumps({"structure": None}).encode() + b"\n")
            _record(f, _END, np.int8)
            _record(f, count, np.int64)
        os.replace(tmp, path)
        done = True
    finally:
        if not done and os.path.exists(tmp):
            os.remove(tmp)


def _damaged(path, index, why):
    return DataLossError(f"Dataset.cache: the cache file {path} is truncated or corrupted at "
                         f"element {index} ({why}); delete it to rebuild the cache.")


def _read(path, ds):
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise DataLossError(f"Dataset.cache: {path} is not a tenfold dataset cache file "
                                "(delete it to rebuild the cache).")
        try:
            head = json.loads(f.readline().decode())
            structure = head["structure"]
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            raise _damaged(path, 0, f"bad header: {e}") from None
        template = ds.element_spec if structure == "spec" else _structure_from_json(structure)
        n = len(S.flatten(template))
        index = 0
        while True:
            leaves = []
            try:
                kind = int(np.lib.format.read_array(f, allow_pickle=False))
                if kind == _END:
                    count = int(np.lib.format.read_array(f, allow_pickle=False))
                    if count != index:
                        raise ValueError(f"it announces {count} elements but holds {index}")
                    return
                for p in range(n):
                    if p:
                        kind = int(np.lib.format.read_array(f, allow_pickle=False))
                    leaves.append(_decode(np.lib.format.read_array(f, allow_pickle=False),
                                          kind))
            except (ValueError, EOFError, OSError, TypeError) as err:
                raise _damaged(path, index, err) from None
            index += 1
            yield leaves[0] if not S.is_structure(template) else S.pack(template, leaves)
