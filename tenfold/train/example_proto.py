"""`tf.train.Example` and its parts, as real protobuf message classes.

TensorFlow's own compiled modules (`tensorflow/core/example/{feature,example}_pb2.py`) are not
shipped by any small package (the `tensorboard` wheel has graph/summary protos but not these),
so the two files' descriptors are declared here with the protobuf runtime's own
`FileDescriptorProto` and registered under TensorFlow's file names and package
(`tensorflow.Example`, ...). The classes are then ordinary protobuf messages: same field numbers,
types and packing as TensorFlow's, so `SerializeToString()` gives the bytes TensorFlow writes
and `FromString()` reads TensorFlow's bytes. If TensorFlow's modules are already loaded in the
process, their registered descriptors are used instead.

Needs the `protobuf` package (`pip install tenfold[tfrecord]`).
"""
try:
    from google.protobuf import descriptor_pb2 as _dpb, descriptor_pool as _pool
    from google.protobuf import message_factory as _factory
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tf.train.Example needs the protobuf package: pip install protobuf (or "
        "pip install 'tenfold[tfrecord]').") from _e

_F = _dpb.FieldDescriptorProto
_FEATURE_FILE = "tensorflow/core/example/feature.proto"
_EXAMPLE_FILE = "tensorflow/core/example/example.proto"


def _field(msg, name, number, ftype, label=_F.LABEL_OPTIONAL, type_name=None, packed=None,
           oneof=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed
    if oneof is not None:
        f.oneof_index = oneof
    return f


def _map_entry(msg, entry_name, value_type):
    """A proto3 `map<string, value_type>` field's nested entry message."""
    entry = msg.nested_type.add(name=entry_name)
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name=value_type)
    return entry


def _feature_file():
    fd = _dpb.FileDescriptorProto(name=_FEATURE_FILE, package="tensorflow", syntax="proto3")
    rep = _F.LABEL_REPEATED
    _field(fd.message_type.add(name="BytesList"), "value", 1, _F.TYPE_BYTES, rep)
    _field(fd.message_type.add(name="FloatList"), "value", 1, _F.TYPE_FLOAT, rep, packed=True)
    _field(fd.message_type.add(name="Int64List"), "value", 1, _F.TYPE_INT64, rep, packed=True)
    feature = fd.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for i, (n, t) in enumerate((("bytes_list", "BytesList"), ("float_list", "FloatList"),
                                ("int64_list", "Int64List")), start=1):
        _field(feature, n, i, _F.TYPE_MESSAGE, type_name=".tensorflow." + t, oneof=0)
    features = fd.message_type.add(name="Features")
    _map_entry(features, "FeatureEntry", ".tensorflow.Feature")
    _field(features, "feature", 1, _F.TYPE_MESSAGE, rep, ".tensorflow.Features.FeatureEntry")
    _field(fd.message_type.add(name="FeatureList"), "feature", 1, _F.TYPE_MESSAGE, rep,
           ".tensorflow.Feature")
    lists = fd.message_type.add(name="FeatureLists")
    _map_entry(lists, "FeatureListEntry", ".tensorflow.FeatureList")
    _field(lists, "feature_list", 1, _F.TYPE_MESSAGE, rep,
           ".tensorflow.FeatureLists.FeatureListEntry")
    return fd


def _example_file():
    fd = _dpb.FileDescriptorProto(name=_EXAMPLE_FILE, package="tensorflow", syntax="proto3",
                                  dependency=[_FEATURE_FILE])
    _field(fd.message_type.add(name="Example"), "features", 1, _F.TYPE_MESSAGE,
           type_name=".tensorflow.Features")
    seq = fd.message_type.add(name="SequenceExample")
    _field(seq, "context", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.Features")
    _field(seq, "feature_lists", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.FeatureLists")
    return fd


def _register():
    pool = _pool.Default()
    for name, make in ((_FEATURE_FILE, _feature_file), (_EXAMPLE_FILE, _example_file)):
        try:
            pool.FindFileByName(name)  # already there (TensorFlow loaded, or a second import)
        except KeyError:
            pool.Add(make())
    return pool


_POOL = _register()


def _cls(name):
    return _factory.GetMessageClass(_POOL.FindMessageTypeByName("tensorflow." + name))


BytesList = _cls("BytesList")
FloatList = _cls("FloatList")
Int64List = _cls("Int64List")
Feature = _cls("Feature")
Features = _cls("Features")
FeatureList = _cls("FeatureList")
FeatureLists = _cls("FeatureLists")
Example = _cls("Example")
SequenceExample = _cls("SequenceExample")
