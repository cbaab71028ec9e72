"""`tf.io`: whole-file reads and writes, `gfile`, tensor (de)serialization (TensorProto),
image codecs, TFRecord files and tf.train.Example parsing."""
import glob as _glob
import os as _os
import shutil as _shutil
import types as _types

import numpy as _np

from tenfold.framework.tensor import Tensor as _Tensor, convert_to_tensor as _to_tensor
from tenfold.framework.errors import NotFoundError as _NotFound


def read_file(filename, name=None):
    """The bytes of a file, as a scalar string tensor."""
    path = _name(filename)
    try:
        with open(path, "rb") as f:
            return _to_tensor(f.read())
    except FileNotFoundError:
        raise _NotFound(f"{path}; No such file or directory") from None


def write_file(filename, contents, name=None):
    data = contents.numpy() if isinstance(contents, _Tensor) else contents
    with open(_name(filename), "wb") as f:
        f.write(data if isinstance(data, bytes) else str(data).encode())


def _name(x):
    if isinstance(x, _Tensor):
        x = x.numpy()
    return x.decode() if isinstance(x, bytes) else str(x)


from tenfold.api.tensor_proto import serialize_tensor, parse_tensor  # noqa: E402,F401


class GFile:
    """File I/O as `tf.io.gfile.GFile` (local files)."""

    def __init__(self, name, mode="r"):
        self._f = open(_name(name), mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __iter__(self):
        return iter(self._f)

    def __getattr__(self, attr):
        return getattr(self._f, attr)


def _listdir(path):
    if not _os.path.isdir(path):
        raise _NotFound(f"Could not find directory {path}")
    return _os.listdir(path)


def _stat(path):
    st = _os.stat(path)
    return _types.SimpleNamespace(length=st.st_size, mtime_nsec=st.st_mtime_ns,
                                  is_directory=_os.path.isdir(path))


gfile = _types.SimpleNamespace(
    GFile=GFile, exists=lambda p: _os.path.exists(_name(p)), glob=lambda p: _glob.glob(_name(p)),
    isdir=lambda p: _os.path.isdir(_name(p)), listdir=lambda p: _listdir(_name(p)),
    makedirs=lambda p: _os.makedirs(_name(p), exist_ok=True), mkdir=lambda p: _os.mkdir(_name(p)),
    remove=lambda p: _os.remove(_name(p)), rmtree=lambda p: _shutil.rmtree(_name(p)),
    rename=lambda s, d, overwrite=False: _os.replace(_name(s), _name(d)) if overwrite
    else _os.rename(_name(s), _name(d)),
    copy=lambda s, d, overwrite=False: _shutil.copyfile(_name(s), _name(d)),
    join=_os.path.join, stat=lambda p: _stat(_name(p)),
    walk=lambda top, topdown=True, onerror=None: _os.walk(_name(top), topdown, onerror),
)


# TFRecord files and tf.train.Example parsing (tenfold/data/tfrecord.py,
# tenfold/api/example_parsing.py), loaded on first use.
_LAZY = {
    **{n: ("tenfold.data.tfrecord", n) for n in ("TFRecordWriter", "TFRecordOptions",
                                                  "tf_record_iterator")},
    **{n: ("tenfold.api.byte_codecs", n) for n in (
        "decode_raw", "decode_compressed", "encode_base64", "decode_base64", "matching_files")},
    **{n: ("tenfold.api.image_codecs", n) for n in (
        "decode_png", "decode_jpeg", "decode_gif", "decode_bmp", "decode_image", "encode_png",
        "encode_jpeg", "is_jpeg")},
    **{n: ("tenfold.api.example_parsing", n) for n in (
        "FixedLenFeature", "FixedLenSequenceFeature", "VarLenFeature", "parse_example",
        "parse_single_example")},
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'tenfold.io' has no attribute {name!r}")
