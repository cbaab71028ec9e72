"""The TFRecord file format: records framed as TensorFlow frames them.

Each record is `uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)`
(little-endian), the CRCs being CRC-32C (Castagnoli) rotated and offset by TensorFlow's mask.
A whole file may be compressed with GZIP or ZLIB (`compression_type`). The CRC comes from
`google-crc32c` (`pip install tenfold[tfrecord]`).

    with tf.io.TFRecordWriter("data.tfrecord") as w:
        w.write(example.SerializeToString())
    for raw in tf.data.TFRecordDataset("data.tfrecord"):
        ...
"""
import gzip
import os
import struct
import zlib

import numpy as np

from tenfold.framework.errors import DataLossError, InvalidArgumentError, NotFoundError
from tenfold.framework.tensor import Tensor

_MASK_DELTA = 0xA282EAD8
_COMPRESSIONS = {"": "", "NONE": "", "GZIP": "GZIP", "ZLIB": "ZLIB"}


def _crc32c(data):
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("TFRecord files need google-crc32c for their checksums: pip install "
                          "google-crc32c (or pip install 'tenfold[tfrecord]').") from None
    return google_crc32c.value(data)


def masked_crc(data):
    """TensorFlow's masked CRC-32C of `data`."""
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data):
    """One record's bytes as they are stored in the file."""
    header = struct.pack("<Q", len(data))
    return b"".join((header, struct.pack("<I", masked_crc(header)), data,
                     struct.pack("<I", masked_crc(data))))


def _compression(value, what):
    if isinstance(value, TFRecordOptions):
        value = value.compression_type
    if value is None:
        value = ""
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, bytes):
        value = value.decode()
    key = value.upper() if isinstance(value, str) else value
    if key not in _COMPRESSIONS:
        raise InvalidArgumentError(f"{what}: compression_type must be '', 'ZLIB' or 'GZIP', "
                                   f"got {value!r}.")
    return _COMPRESSIONS[key]


def _path(x):
    if isinstance(x, Tensor):
        x = x.numpy()
    if isinstance(x, np.ndarray):
        x = x.item()
    return os.fsdecode(x)


class TFRecordOptions:
    """Options for TFRecord files (`tf.io.TFRecordOptions`): the compression and its level."""

    def __init__(self, compression_type=None, flush_mode=None, input_buffer_size=None,
                 output_buffer_size=None, window_bits=None, compression_level=None,
                 compression_method=None, mem_level=None, compression_strategy=None):
        self.compression_type = _compression(compression_type, "TFRecordOptions")
        self.compression_level = compression_level

    @classmethod
    def get_compression_type_string(cls, options):
        if options is None:
            return ""
        return _compression(options, "TFRecordOptions")


class TFRecordWriter:
    """Writes records to a TFRecord file (`tf.io.TFRecordWriter`); a context manager."""

    def __init__(self, path, options=None):
        self._path = _path(path)
        compression = _compression(options, "TFRecordWriter")
        level = getattr(options, "compression_level", None)
        level = 6 if level is None or level < 0 else int(level)
        try:
            raw = open(self._path, "wb")
        except FileNotFoundError:
            raise NotFoundError(f"TFRecordWriter: cannot create {self._path}: its folder does "
                                "not exist.") from None
        self._raw = raw
        if compression == "GZIP":
            self._out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=level)
        elif compression == "ZLIB":
            self._out = _ZlibWriter(raw, level)
        else:
            self._out = raw

    def write(self, record):
        if self._out is None:
            raise ValueError(f"TFRecordWriter for {self._path} is closed.")
        if isinstance(record, Tensor):
            record = record.numpy()
        if isinstance(record, np.ndarray):
            record = record.item()
        if isinstance(record, str):
            record = record.encode("utf-8")
        if not isinstance(record, (bytes, bytearray, memoryview)):
            raise TypeError("TFRecordWriter.write expects bytes (for example "
                            f"example.SerializeToString()), got {type(record).__name__}.")
        self._out.write(frame(bytes(record)))

    def flush(self):
        if self._out is not None:
            self._out.flush()

    def close(self):
        if self._out is not None:
            if self._out is not self._raw:
                self._out.close()
            self._raw.close()
            self._out = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class _ZlibWriter:
    def __init__(self, raw, level):
        self._raw = raw
        self._z = zlib.compressobj(level)

    def write(self, data):
        self._raw.write(self._z.compress(data))

    def flush(self):
        self._raw.write(self._z.flush(zlib.Z_SYNC_FLUSH))
        self._raw.flush()

    def close(self):
        self._raw.write(self._z.flush())


class _ZlibReader:
    def __init__(self, raw):
        self._raw = raw
        self._z = zlib.decompressobj()
        self._buf = b""

    def read(self, n):
        while len(self._buf) < n:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                self._buf += self._z.flush()
                break
            self._buf += self._z.decompress(chunk)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self):
        self._raw.close()


def _open(path, compression):
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise NotFoundError(f"TFRecordDataset: {path}: no such file.") from None
    if compression == "GZIP":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "ZLIB":
        return _ZlibReader(raw)
    return raw


def read_records(path, compression_type=""):
    """Yields the records of one TFRecord file as bytes, checking both CRCs of each; a bad
    or cut-off record raises DataLossError naming the file and the record's number."""
    compression = _compression(compression_type, "TFRecordDataset")
    f = _open(path, compression)
    index = 0
    try:
        while True:
            try:
                header = f.read(12)
            except (OSError, EOFError, zlib.error) as e:
                raise _loss(path, index, f"the {compression} stream is damaged ({e})") from None
            if not header:
                return
            if len(header) < 12:
                raise _loss(path, index, "the file ends inside a record's header (truncated)")
            length, crc = struct.unpack("<QI", header)
            if masked_crc(header[:8]) != crc:
                raise _loss(path, index, "the length's CRC does not match (corrupted record"
                            f"{' or the file is compressed: pass compression_type' if not compression else ''})")
            try:
                body = f.read(length + 4)
            except (OSError, EOFError, zlib.error) as e:
                raise _loss(path, index, f"the {compression} stream is damaged ({e})") from None
            if len(body) < length + 4:
                raise _loss(path, index, f"the file ends inside the record ({length} bytes "
                            "announced; truncated)")
            data = body[:length]
            if masked_crc(data) != struct.unpack("<I", body[length:])[0]:
                raise _loss(path, index, "the data's CRC does not match (corrupted record)")
            yield data
            index += 1
    finally:
        f.close()


def _loss(path, index, why):
    return DataLossError(f"TFRecord file {path}, record {index} (counting from 0): {why}.")


def tf_record_iterator(path, options=None):
    """The records of a file as bytes (`tf.compat.v1.io.tf_record_iterator`)."""
    return read_records(_path(path), _compression(options, "tf_record_iterator"))


def file_list(filenames, what="TFRecordDataset"):
    from tenfold.data.dataset import DatasetV2
    if isinstance(filenames, DatasetV2):
        filenames = [x for x in filenames.as_numpy_iterator()]
    if isinstance(filenames, Tensor):
        filenames = filenames.numpy()
    if isinstance(filenames, (str, bytes, os.PathLike)):
        filenames = [filenames]
    out = [os.fsdecode(f) for f in np.asarray(filenames, dtype=object).ravel()]
    if not out:
        raise InvalidArgumentError(f"{what}: the list of files is empty.")
    return out
