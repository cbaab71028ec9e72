"""`tf.io.decode_raw`, `decode_compressed`, `encode_base64` / `decode_base64`,
`matching_files`: the byte-level helpers TFRecord pipelines use (images stored as raw bytes,
compressed payloads, web-safe base64), as TensorFlow defines them."""
import base64
import binascii
import glob
import gzip
import zlib

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.tensor import Tensor, convert_to_tensor


def _strings(x):
    """An object array of bytes (any shape) from a string tensor, bytes or a list."""
    arr = x.numpy() if isinstance(x, Tensor) else convert_to_tensor(x).numpy()
    arr = np.asarray(arr, dtype=object)
    return arr


def _map_bytes(x, fn):
    arr = _strings(x)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        out[idx] = fn(arr[idx])
    return Tensor._wrap(out)


def decode_raw(input_bytes, out_type, little_endian=True, fixed_length=None, name=None):
    """Each string's bytes as a vector of `out_type`: shape input.shape + [n]. All strings
    must have the same length (or give `fixed_length` to pad / cut each one)."""
    want = dtypes.as_dtype(out_type)
    if want.name == "string":
        raise InvalidArgumentError("decode_raw: out_type must be a numeric type, got string.")
    np_dtype = np.dtype(want.as_numpy_dtype).newbyteorder("<" if little_endian else ">")
    size = np_dtype.itemsize
    arr = _strings(input_bytes)
    flat = [bytes(b) for b in arr.ravel()]
    if fixed_length is not None:
        n = int(fixed_length)
        if n % size:
            raise InvalidArgumentError(f"decode_raw: fixed_length ({n}) must be a multiple of "
                                       f"the size of {want.name} ({size}).")
        flat = [b[:n].ljust(n, b"\0") for b in flat]
    lengths = {len(b) for b in flat}
    if len(lengths) > 1:
        sizes = [len(b) for b in flat]
        bad = next(i for i, s in enumerate(sizes) if s != sizes[0])
        raise InvalidArgumentError(f"DecodeRaw requires input strings to all be the same size, "
                                   f"but element {bad} has size {sizes[bad]} != {sizes[0]}. "
                                   "Pass fixed_length=... to pad or cut them.")
    length = lengths.pop() if lengths else 0
    if length % size:
        raise InvalidArgumentError(f"Input to DecodeRaw has length {length} that is not a "
                                   f"multiple of {size}, the size of {want.name}.")
    values = np.frombuffer(b"".join(flat), dtype=np_dtype).astype(np_dtype.newbyteorder("="))
    return Tensor._wrap(values.reshape(arr.shape + (length // size,)))


def decode_compressed(bytes, compression_type="", name=None):  # noqa: A002 - TF's name
    """Decompresses each string: compression_type '' (none), 'ZLIB' or 'GZIP'."""
    kind = (compression_type or "").upper()
    if kind not in ("", "ZLIB", "GZIP"):
        raise InvalidArgumentError(f"decode_compressed: compression_type must be '', 'ZLIB' or "
                                   f"'GZIP', got {compression_type!r}.")

    def one(b):
        try:
            if kind == "ZLIB":
                return zlib.decompress(b)
            if kind == "GZIP":
                return gzip.decompress(b)
            return b
        except (OSError, EOFError, zlib.error) as e:
            raise InvalidArgumentError(f"decode_compressed: the {kind} data is damaged "
                                       f"({e}).") from None
    return _map_bytes(bytes, one)


def encode_base64(input, pad=False, name=None):  # noqa: A002 - TF's name
    """Web-safe base64 (`-` and `_` for `+` and `/`); no `=` padding unless `pad`."""
    def one(b):
        out = base64.urlsafe_b64encode(b)
        return out if pad else out.rstrip(b"=")
    return _map_bytes(input, one)


def decode_base64(input, name=None):  # noqa: A002 - TF's name
    """The bytes of web-safe base64 strings (with or without `=` padding)."""
    def one(b):
        b = b.rstrip(b"=")
        try:
            return base64.urlsafe_b64decode(b + b"=" * (-len(b) % 4))
        except (binascii.Error, ValueError) as e:
            raise InvalidArgumentError(f"decode_base64: invalid web-safe base64 {b[:20]!r} "
                                       f"({e}).") from None
    return _map_bytes(input, one)


def matching_files(pattern, name=None):
    """The files matching a glob pattern (or each of a list of patterns), sorted."""
    pats = _strings(pattern).ravel()
    found = sorted({p for pat in pats for p in glob.glob(bytes(pat).decode()
                                                          if isinstance(pat, bytes) else pat)})
    out = np.empty(len(found), dtype=object)
    out[:] = [f.encode() for f in found]
    return Tensor._wrap(out)
