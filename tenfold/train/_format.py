"""tenfold's checkpoint file: one file `<prefix>.index` holding named arrays, checksummed.

Layout (all integers little-endian):
    b"TFLDCKPT"  u32 format version  u64 header length  header (JSON)  32-byte SHA-256 of
    everything before it  then the array bytes (each 64-byte aligned).
The header lists each entry's dtype, shape, offset, size and CRC-32, and the SHA-256 of the
array bytes. A reader checks all of it before returning anything, so a truncated or damaged
file is reported (naming the file), never half-read.

One file, written under a temporary name and renamed into place: a crash during a save leaves
the previous checkpoint whole.
"""
import hashlib
import json
import os
import struct
import time
import zlib

import numpy as np

from tenfold.util import fileio as _fileio

MAGIC = b"TFLDCKPT"
FORMAT_VERSION = 1
_ALIGN = 64
INDEX_SUFFIX = ".index"


class CheckpointFormatError(ValueError):
    """The checkpoint file is not readable: corrupted, truncated, not a tenfold checkpoint,
    or written by a newer format version."""


def _dtype_name(dt):
    return np.dtype(dt).name


def _dtype(name, where):
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    try:
        dt = np.dtype(name)
    except TypeError:
        raise CheckpointFormatError(f"{where}: unknown dtype {name!r}") from None
    if dt.kind not in "biufc":
        raise CheckpointFormatError(f"{where}: dtype {name!r} is not a numeric dtype")
    return dt


def encode(arrays, metadata=None):
    """Bytes of a checkpoint holding `arrays` (dict key -> np.ndarray)."""
    entries = {}
    chunks = []
    offset = 0
    for key, value in arrays.items():
        arr = np.asarray(value)
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        raw = arr.tobytes()
        pad = (-offset) % _ALIGN
        if pad:
            chunks.append(b"\0" * pad)
            offset += pad
        entries[key] = {"dtype": _dtype_name(arr.dtype), "shape": list(arr.shape),
                        "offset": offset, "nbytes": len(raw), "crc32": zlib.crc32(raw)}
        chunks.append(raw)
        offset += len(raw)
    data = b"".join(chunks)
    from tenfold._version import __tenfold_version__ as __version__
    header = json.dumps({
        "format": "tenfold-checkpoint", "format_version": FORMAT_VERSION,
        "tenfold_version": __version__, "created": time.time(), "data_size": len(data),
        "data_sha256": hashlib.sha256(data).hexdigest(), "entries": entries,
        "metadata": metadata or {}}, sort_keys=True).encode("utf-8")
    head = MAGIC + struct.pack("<IQ", FORMAT_VERSION, len(header)) + header
    return head + hashlib.sha256(head).digest() + data


def write(prefix, arrays, metadata=None):
    """Writes `<prefix>.index` atomically; returns its path."""
    path = os.fspath(prefix) + INDEX_SUFFIX
    _fileio.atomic_write_bytes(path, encode(arrays, metadata))
    return path


def index_path(prefix):
    prefix = os.fspath(prefix)
    return prefix if prefix.endswith(INDEX_SUFFIX) else prefix + INDEX_SUFFIX


def read_header(prefix):
    path = index_path(prefix)
    with open(path, "rb") as f:
        blob = f.read()
    return _parse_header(blob, path)[0]


def _parse_header(blob, path):
    if len(blob) < 20 or not blob.startswith(MAGIC):
        if not blob:
            raise CheckpointFormatError(f"Checkpoint {path} is empty (truncated write?).")
        raise CheckpointFormatError(
            f"{path} is not a tenfold checkpoint (no tenfold header). If it was written by "
            "TensorFlow, tenfold cannot read TensorFlow's TensorBundle format: re-save the model "
            "from TensorFlow with model.save('model.keras') or save_weights('x.weights.h5').")
    version, hlen = struct.unpack("<IQ", blob[8:20])
    if version > FORMAT_VERSION:
        raise CheckpointFormatError(
            f"Checkpoint {path} uses format version {version}, newer than this tenfold reads "
            f"({FORMAT_VERSION}). Upgrade tenfold to read it.")
    end = 20 + hlen
    if len(blob) < end + 32:
        raise CheckpointFormatError(f"Checkpoint {path} is truncated (the header is incomplete).")
    if hashlib.sha256(blob[:end]).digest() != blob[end:end + 32]:
        raise CheckpointFormatError(f"Checkpoint {path} is corrupted: its header checksum does "
                                    "not match.")
    try:
        header = json.loads(blob[20:end].decode("utf-8"))
    except ValueError as e:
        raise CheckpointFormatError(f"Checkpoint {path} is corrupted ({e}).") from None
    return header, end + 32


def read(prefix):
    """(dict key -> np.ndarray, metadata) from a checkpoint, fully checked."""
    path = index_path(prefix)
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"No checkpoint found at {os.fspath(prefix)} (no file "
                                f"{path}).") from None
    header, start = _parse_header(blob, path)
    data = memoryview(blob)[start:]
    size = header.get("data_size")
    if len(data) != size:
        raise CheckpointFormatError(
            f"Checkpoint {path} is truncated or damaged: it holds {len(data)} bytes of array "
            f"data, the header says {size}.")
    if hashlib.sha256(data).hexdigest() != header.get("data_sha256"):
        raise CheckpointFormatError(f"Checkpoint {path} is corrupted: the array data fails its "
                                    "SHA-256 check.")
    out = {}
    for key, e in header.get("entries", {}).items():
        where = f"Checkpoint {path}, entry {key!r}"
        dt = _dtype(e["dtype"], where)
        shape = tuple(int(d) for d in e["shape"])
        n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        off, nbytes = int(e["offset"]), int(e["nbytes"])
        if n != nbytes or off < 0 or off + nbytes > len(data):
            raise CheckpointFormatError(f"{where} is inconsistent (shape {shape}, {nbytes} "
                                        "bytes at an impossible offset).")
        raw = data[off:off + nbytes]
        if zlib.crc32(raw) != e.get("crc32"):
            raise CheckpointFormatError(f"{where} fails its CRC-32 check.")
        out[key] = np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    return out, header.get("metadata", {})


def exists(prefix):
    return os.path.exists(index_path(prefix))


def remove(prefix):
    """Deletes a checkpoint's files (and TensorFlow-style data shards, if any)."""
    import glob
    prefix = os.fspath(prefix)
    for p in [prefix + INDEX_SUFFIX] + glob.glob(glob.escape(prefix) + ".data-*"):
        try:
            os.remove(p)
        except OSError:
            pass
