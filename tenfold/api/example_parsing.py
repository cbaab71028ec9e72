"""`tf.io.parse_single_example` / `parse_example` and their feature specs.

    spec = {"image": tf.io.FixedLenFeature([784], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.int64),
            "tags": tf.io.VarLenFeature(tf.string)}
    parsed = tf.io.parse_single_example(record, spec)   # a dict; "tags" is a SparseTensor

As in TensorFlow: float32 reads a feature's `float_list`, int64 its `int64_list`, string its
`bytes_list`; a FixedLenFeature without a default must be present with exactly
prod(shape) values; a VarLenFeature gives a SparseTensor (indices [n, 1] for one example,
[n, 2] for a batch).
"""
import collections

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.tensor import Tensor

_KINDS = {"float32": "float_list", "int64": "int64_list", "string": "bytes_list"}
_TF_NAMES = {"float32": "float", "int64": "int64", "string": "string"}


def _check_dtype(dtype, what):
    d = dtypes.as_dtype(dtype)
    if d.name not in _KINDS:
        raise ValueError(f"{what}: dtype must be tf.float32, tf.int64 or tf.string (the three "
                         f"kinds a tf.train.Feature holds), got {d.name}.")
    return d


class FixedLenFeature(collections.namedtuple(
        "FixedLenFeature", ["shape", "dtype", "default_value"])):
    """A feature with a fixed number of values, parsed to a dense tensor of `shape`."""

    def __new__(cls, shape, dtype, default_value=None):
        return super().__new__(cls, shape, _check_dtype(dtype, "FixedLenFeature"),
                               default_value)


class FixedLenSequenceFeature(collections.namedtuple(
        "FixedLenSequenceFeature", ["shape", "dtype", "allow_missing", "default_value"])):
    """Any number of values, each of `shape`, parsed to a dense [n, *shape] tensor (padded
    to the longest example in a batch with `default_value`)."""

    def __new__(cls, shape, dtype, allow_missing=False, default_value=None):
        return super().__new__(cls, shape, _check_dtype(dtype, "FixedLenSequenceFeature"),
                               allow_missing, default_value)


class VarLenFeature(collections.namedtuple("VarLenFeature", ["dtype"])):
    """Any number of values, parsed to a SparseTensor."""

    def __new__(cls, dtype):
        return super().__new__(cls, _check_dtype(dtype, "VarLenFeature"))


def _np_dtype(d):
    return object if d.name == "string" else d.as_numpy_dtype


def _bytes_of(serialized, what):
    if isinstance(serialized, Tensor):
        serialized = serialized.numpy()
    if isinstance(serialized, np.ndarray) and serialized.ndim == 0:
        serialized = serialized.item()
    if isinstance(serialized, str):
        serialized = serialized.encode("utf-8")
    if not isinstance(serialized, (bytes, bytearray)):
        raise TypeError(f"{what}: expected a serialized tf.train.Example (a scalar string "
                        f"tensor or bytes), got {type(serialized).__name__}.")
    return bytes(serialized)


def _decode(data, index):
    from tenfold.train.example_proto import Example
    from google.protobuf.message import DecodeError
    try:
        return Example.FromString(data)
    except DecodeError as e:
        raise InvalidArgumentError(f"Could not parse example input, value {index} "
                                   f"({len(data)} bytes) is not a serialized tf.train.Example "
                                   f"({e}).") from None


def _values(example, key, spec, index):
    """The values of feature `key` as a 1-D NumPy array, or None when it is absent."""
    if key not in example.features.feature:
        return None
    feat = example.features.feature[key]
    kind = feat.WhichOneof("kind")
    want = _KINDS[spec.dtype.name]
    if kind is None:
        return np.zeros([0], _np_dtype(spec.dtype))
    if kind != want:
        got = {v: k for k, v in _KINDS.items()}[kind]
        raise InvalidArgumentError(
            f"Key: {key}, Index: {index}.  Data types don't match. Data type: "
            f"{_TF_NAMES[got]} but expected type: {_TF_NAMES[spec.dtype.name]} (the feature "
            f"holds a {kind}: declare it with dtype tf.{got}, or write it as a {want}).")
    vals = getattr(feat, kind).value
    if spec.dtype.name == "string":
        out = np.empty(len(vals), dtype=object)
        out[:] = list(vals)
        return out
    return np.asarray(vals, dtype=spec.dtype.as_numpy_dtype)


def _shape(spec):
    return [int(d) for d in (spec.shape if spec.shape is not None else [])]


def _default(spec, key):
    shape = _shape(spec)
    try:
        arr = np.asarray(spec.default_value, dtype=_np_dtype(spec.dtype))
        return arr.reshape(shape) if arr.size == int(np.prod(shape)) else \
            np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"FixedLenFeature {key!r}: default_value {spec.default_value!r} does "
                         f"not fit the shape {shape}.") from None


def _fixed(vals, spec, key, index):
    shape = _shape(spec)
    if vals is None:
        if spec.default_value is None:
            raise InvalidArgumentError(
                f"Feature: {key} (data type: {_TF_NAMES[spec.dtype.name]}) is required but "
                f"could not be found (example {index}). Give it a default_value in "
                "FixedLenFeature, or use VarLenFeature for features that may be missing.")
        return _default(spec, key)
    need = int(np.prod(shape))
    if vals.size != need:
        raise InvalidArgumentError(
            f"Key: {key}, Index: {index}.  Number of {_TF_NAMES[spec.dtype.name]} values != "
            f"expected.  Values size: {vals.size} but output shape: {shape}. Use "
            "VarLenFeature (or FixedLenSequenceFeature) for a feature whose length varies.")
    return vals.reshape(shape)


def _sequence(vals, spec, key, index):
    shape = _shape(spec)
    if vals is None:
        if not spec.allow_missing:
            raise InvalidArgumentError(
                f"Feature: {key} (data type: {_TF_NAMES[spec.dtype.name]}) is required but "
                f"could not be found (example {index}); pass allow_missing=True to "
                "FixedLenSequenceFeature to accept examples without it.")
        vals = np.zeros([0], _np_dtype(spec.dtype))
    step = int(np.prod(shape))
    if step and vals.size % step:
        raise InvalidArgumentError(
            f"Key: {key}, Index: {index}.  Number of values ({vals.size}) is not a multiple "
            f"of the inner shape {shape}.")
    return vals.reshape([vals.size // step if step else 0] + shape)


def _check_features(features, what):
    if not isinstance(features, dict) or not features:
        raise ValueError(f"{what}: features must be a non-empty dict of feature name -> "
                         "tf.io.FixedLenFeature / VarLenFeature / FixedLenSequenceFeature.")
    for k, s in features.items():
        if not isinstance(s, (FixedLenFeature, VarLenFeature, FixedLenSequenceFeature)):
            raise ValueError(f"{what}: feature {k!r} has an unsupported spec "
                             f"{type(s).__name__}; tenfold supports FixedLenFeature, "
                             "VarLenFeature and FixedLenSequenceFeature.")


def _wrap(arr, spec):
    return Tensor._wrap(np.asarray(arr, order="C"))


def _sparse(indices, values, dense_shape, spec):
    from tenfold.api.sparse import SparseTensor
    values = np.asarray(values, dtype=_np_dtype(spec.dtype))
    return SparseTensor(np.asarray(indices, np.int64).reshape(-1, len(dense_shape)),
                        Tensor._wrap(values), np.asarray(dense_shape, np.int64))


def parse_example(serialized, features, example_names=None, name=None):
    """Parses a batch (1-D) of serialized Examples into a dict of batched tensors."""
    _check_features(features, "parse_example")
    if isinstance(serialized, Tensor):
        serialized = serialized.numpy()
    batch = np.asarray(serialized, dtype=object)
    if batch.ndim != 1:
        raise ValueError(f"parse_example: serialized must be a vector (a batch) of strings, "
                         f"got shape {list(batch.shape)}; use parse_single_example for one.")
    examples = [_decode(_bytes_of(s, "parse_example"), i) for i, s in enumerate(batch)]
    out = {}
    for key, spec in features.items():
        per = [_values(ex, key, spec, i) for i, ex in enumerate(examples)]
        if isinstance(spec, FixedLenFeature):
            parts = [_fixed(v, spec, key, i) for i, v in enumerate(per)]
            shape = [len(parts)] + _shape(spec)
            out[key] = _wrap(np.stack(parts) if parts else
                             np.zeros(shape, _np_dtype(spec.dtype)), spec)
        elif isinstance(spec, FixedLenSequenceFeature):
            parts = [_sequence(v, spec, key, i) for i, v in enumerate(per)]
            longest = max((p.shape[0] for p in parts), default=0)
            fill = 0 if spec.default_value is None else spec.default_value
            if spec.dtype.name == "string" and spec.default_value is None:
                fill = b""
            arr = np.empty([len(parts), longest] + _shape(spec), dtype=_np_dtype(spec.dtype))
            arr[...] = fill
            for i, p in enumerate(parts):
                arr[i, :p.shape[0]] = p
            out[key] = _wrap(arr, spec)
        else:
            idx, vals, longest = [], [], 0
            for b, v in enumerate(per):
                n = 0 if v is None else v.size
                idx.extend((b, j) for j in range(n))
                if n:
                    vals.extend(v.tolist())
                longest = max(longest, n)
            out[key] = _sparse(idx, vals, [len(per), longest], spec)
    return out


def parse_single_example(serialized, features, name=None, example_names=None):
    """Parses one serialized Example into a dict of tensors (SparseTensor for VarLen)."""
    _check_features(features, "parse_single_example")
    ex = _decode(_bytes_of(serialized, "parse_single_example"), 0)
    out = {}
    for key, spec in features.items():
        vals = _values(ex, key, spec, 0)
        if isinstance(spec, FixedLenFeature):
            out[key] = _wrap(_fixed(vals, spec, key, 0), spec)
        elif isinstance(spec, FixedLenSequenceFeature):
            out[key] = _wrap(_sequence(vals, spec, key, 0), spec)
        else:
            n = 0 if vals is None else vals.size
            out[key] = _sparse([[j] for j in range(n)], [] if vals is None else vals.tolist(),
                               [n], spec)
    return out
