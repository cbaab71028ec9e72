"""`tf.io.serialize_tensor` / `parse_tensor` in TensorFlow's format: a serialized
`TensorProto` (dtype, shape, and the data as `tensor_content` bytes, or `string_val` for
strings), so tensors serialized by TensorFlow parse here and the reverse. The message class is
the compiled one the `tensorboard` package ships (`pip install tenfold[tensorboard]`)."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.tensor import Tensor, convert_to_tensor

# tenfold dtype name -> TensorFlow DataType enum name
_TF_NAMES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF",
             "bfloat16": "DT_BFLOAT16", "int8": "DT_INT8", "int16": "DT_INT16",
             "int32": "DT_INT32", "int64": "DT_INT64", "uint8": "DT_UINT8",
             "uint16": "DT_UINT16", "uint32": "DT_UINT32", "uint64": "DT_UINT64",
             "bool": "DT_BOOL", "complex64": "DT_COMPLEX64", "complex128": "DT_COMPLEX128",
             "string": "DT_STRING"}
# the repeated *_val field each dtype may use instead of tensor_content
_VAL_FIELDS = {"float32": "float_val", "float64": "double_val", "int32": "int_val",
               "int16": "int_val", "int8": "int_val", "uint8": "int_val", "uint16": "int_val",
               "int64": "int64_val", "bool": "bool_val", "uint32": "uint32_val",
               "uint64": "uint64_val", "float16": "half_val", "bfloat16": "half_val",
               "complex64": "scomplex_val", "complex128": "dcomplex_val"}


def _protos():
    try:
        from tensorboard.compat.proto import tensor_pb2, types_pb2
    except ImportError:
        raise ImportError("tf.io.serialize_tensor / parse_tensor write TensorFlow's TensorProto, "
                          "whose compiled class comes with the tensorboard package: pip install "
                          "tensorboard (or pip install 'tenfold[tensorboard]').") from None
    return tensor_pb2, types_pb2


def serialize_tensor(tensor, name=None):
    """A scalar string tensor: the tensor as a serialized TensorProto (TensorFlow's bytes)."""
    tensor_pb2, types_pb2 = _protos()
    t = convert_to_tensor(tensor)
    arr = np.asarray(t.numpy())
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DataType.Value(_TF_NAMES[t.dtype.name]))
    proto.tensor_shape.SetInParent()  # present even for scalars, as TensorFlow writes it
    for d in arr.shape:
        proto.tensor_shape.dim.add(size=int(d))
    if t.dtype.name == "string":
        proto.string_val.extend(x if isinstance(x, bytes) else str(x).encode()
                                for x in arr.ravel().tolist())
    else:
        proto.tensor_content = np.ascontiguousarray(arr).astype(
            arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return convert_to_tensor(proto.SerializeToString())


def parse_tensor(serialized, out_type, name=None):
    """The tensor held by a serialized TensorProto; `out_type` must be its dtype."""
    tensor_pb2, types_pb2 = _protos()
    data = serialized.numpy() if isinstance(serialized, Tensor) else serialized
    if isinstance(data, np.ndarray):
        data = data.item()
    try:
        proto = tensor_pb2.TensorProto.FromString(bytes(data))
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise InvalidArgumentError(f"parse_tensor: could not parse a TensorProto from "
                                   f"{len(data)} bytes ({e}).") from None
    want = dtypes.as_dtype(out_type)
    got = types_pb2.DataType.Name(proto.dtype)
    if _TF_NAMES.get(want.name) != got:
        raise InvalidArgumentError(f"Type mismatch between parsed tensor ({got[3:].lower()}) "
                                   f"and dtype ({want.name}).")
    shape = [d.size for d in proto.tensor_shape.dim]
    count = int(np.prod(shape))
    if want.name == "string":
        out = np.empty(count, dtype=object)
        vals = list(proto.string_val)
        out[:] = vals if len(vals) == count else (vals * count)[:count]
        return Tensor._wrap(out.reshape(shape))
    np_dtype = np.dtype(want.as_numpy_dtype)
    if proto.tensor_content:
        arr = np.frombuffer(proto.tensor_content, dtype=np_dtype.newbyteorder("<"))
        arr = arr.astype(np_dtype)
    else:
        vals = list(getattr(proto, _VAL_FIELDS[want.name]))
        if want.name in ("float16", "bfloat16"):
            arr = np.asarray(vals, np.uint16).view(np_dtype)
        elif want.is_complex:
            arr = np.asarray(vals, np_dtype.type(0).real.dtype).view(np_dtype)
        else:
            arr = np.asarray(vals).astype(np_dtype)
        if 0 < arr.size < count:  # TensorFlow repeats the last value to fill the shape
            arr = np.concatenate([arr, np.full(count - arr.size, arr[-1], np_dtype)])
        elif arr.size == 0:
            arr = np.zeros(count, np_dtype)
    if arr.size != count:
        raise InvalidArgumentError(f"parse_tensor: the TensorProto holds {arr.size} values "
                                   f"for shape {shape}.")
    return Tensor._wrap(arr.reshape(shape).copy())
