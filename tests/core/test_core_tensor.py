"""The Tensor protocol: repr/str as TensorFlow prints them, Python conversions, slicing,
dtype comparisons, TensorShape, Variables and conversion rules."""
import copy
import pickle

import numpy as np
import pytest

import tenfold as tf


# --- repr / str ---------------------------------------------------------------------------

def test_repr_and_str_like_tensorflow():
    t = tf.constant([1.0, 2.0, 3.0])
    assert repr(t) == ("<tf.Tensor: shape=(3,), dtype=float32, "
                       "numpy=array([1., 2., 3.], dtype=float32)>")
    assert str(t) == "tf.Tensor([1. 2. 3.], shape=(3,), dtype=float32)"
    assert repr(tf.constant(1.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"
    assert str(tf.constant(7)) == "tf.Tensor(7, shape=(), dtype=int32)"
    assert repr(tf.constant(True)) == "<tf.Tensor: shape=(), dtype=bool, numpy=True>"
    assert repr(tf.constant([[1, 2]])) == ("<tf.Tensor: shape=(1, 2), dtype=int32, "
                                           "numpy=array([[1, 2]], dtype=int32)>")
    assert str(tf.constant("hi")) == "tf.Tensor(b'hi', shape=(), dtype=string)"


def test_multiline_values_start_on_their_own_line_as_in_tensorflow():
    # TensorFlow 2.21 prints these exact strings (checked with its own repr/str).
    t = tf.constant([[1, 2], [3, 4]])
    assert repr(t) == ("<tf.Tensor: shape=(2, 2), dtype=int32, numpy=\n"
                       "array([[1, 2],\n       [3, 4]], dtype=int32)>")
    assert str(t) == "tf.Tensor(\n[[1 2]\n [3 4]], shape=(2, 2), dtype=int32)"
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
    assert repr(v) == ("<tf.Variable 'w:0' shape=(2, 2) dtype=float32, numpy=\n"
                       "array([[1., 2.],\n       [3., 4.]], dtype=float32)>")


def test_variable_repr():
    v = tf.Variable([1.0, 2.0], name="w")
    assert repr(v) == ("<tf.Variable 'w:0' shape=(2,) dtype=float32, "
                       "numpy=array([1., 2.], dtype=float32)>")
    assert repr(tf.Variable(3.0, name="s")) == \
        "<tf.Variable 's:0' shape=() dtype=float32, numpy=3.0>"


# --- Python conversions -------------------------------------------------------------------

def test_scalar_conversions():
    assert float(tf.constant(2.5)) == 2.5
    assert int(tf.constant(7)) == 7
    assert int(tf.constant(7.9)) == 7
    assert bool(tf.constant(True)) is True
    assert bool(tf.constant([0.0])) is False
    assert [10, 20, 30][tf.constant(1)] == 20  # __index__
    assert complex(tf.constant(1.0)) == 1 + 0j
    assert f"{tf.constant(3.14159):.2f}" == "3.14"


def test_conversion_errors():
    with pytest.raises(TypeError):
        [1, 2][tf.constant(1.0)]  # float is not an index
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tf.constant([1, 2]))
    with pytest.raises(TypeError):
        float(tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError):
        len(tf.constant(1.0))
    with pytest.raises(TypeError):
        iter(tf.constant(1.0)).__next__()
    with pytest.raises(TypeError, match="unhashable"):
        hash(tf.constant(1.0))


def test_len_iter_numpy_array():
    t = tf.constant([[1, 2], [3, 4], [5, 6]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and isinstance(rows[0], tf.Tensor)
    np.testing.assert_array_equal(rows[2].numpy(), [5, 6])
    assert isinstance(tf.constant(1.0).numpy(), np.float32)
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    assert np.add(t.numpy(), 1).dtype == np.int32


def test_ref_and_copy_and_pickle():
    t = tf.constant([1.0, 2.0])
    d = {t.ref(): "x"}
    assert d[t.ref()] == "x" and t.ref().deref() is t
    assert copy.copy(t) is t
    np.testing.assert_array_equal(copy.deepcopy(t).numpy(), t.numpy())
    back = pickle.loads(pickle.dumps(t))
    assert back.dtype == tf.float32
    np.testing.assert_array_equal(back.numpy(), t.numpy())


# --- slicing ------------------------------------------------------------------------------

X = np.arange(60).reshape(3, 4, 5)


@pytest.mark.parametrize("key", [
    0, -1, (1, 2), (slice(None), 1), (slice(1, None),), (slice(None, None, 2),),
    (slice(None, None, -1),), (slice(-2, None), slice(None, None, -2)), (Ellipsis, 0),
    (Ellipsis, slice(1, 3)), (None, 0), (slice(None), None, Ellipsis, None),
    (0, Ellipsis, -1), (slice(5, 10),), (slice(None), slice(3, 1, -1)), (-3,),
    ([0, 2],), (slice(None), [3, 0, 3]),
])
def test_getitem_matches_numpy(key):
    t = tf.constant(X)
    np.testing.assert_array_equal(t[key].numpy(), X[key])


def test_getitem_with_tensor_indices():
    t = tf.constant(X)
    np.testing.assert_array_equal(t[tf.constant(1)].numpy(), X[1])
    np.testing.assert_array_equal(t[:, tf.constant(1):tf.constant(3)].numpy(), X[:, 1:3])


@pytest.mark.parametrize("key", [3, -4, (0, 4), (0, 0, 5), (0, 0, 0, 0), ([0, 3],)])
def test_getitem_out_of_range(key):
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(X)[key]


def test_getitem_rejects_floats_and_masks():
    t = tf.constant(X)
    with pytest.raises(TypeError):
        t[1.5]
    with pytest.raises(TypeError, match="boolean_mask"):
        t[np.array([True, False, True])]


# --- dtypes ---------------------------------------------------------------------------------

def test_dtype_comparisons():
    t = tf.constant([1.0])
    assert t.dtype == tf.float32
    assert t.dtype == "float32"
    assert t.dtype == np.float32
    assert t.dtype == np.dtype("float32")
    assert t.dtype != tf.float64 and t.dtype != "int32"
    assert tf.as_dtype("float") == tf.float32 and tf.as_dtype(int) == tf.int32
    assert tf.as_dtype(np.int64) is tf.int64
    assert tf.float32.as_numpy_dtype is np.float32
    assert tf.float32.is_floating and tf.int8.is_integer and tf.bool.is_bool
    assert tf.uint8.is_unsigned and not tf.int8.is_unsigned
    assert tf.bfloat16.is_floating and tf.bfloat16 == "bfloat16"
    assert tf.float16.max == np.finfo(np.float16).max and tf.int8.min == -128
    assert str(tf.float32) == "<dtype: 'float32'>" and repr(tf.float32) == "tf.float32"
    assert tf.float32.as_datatype_enum == 1 and tf.as_dtype(9) is tf.int64
    assert {tf.float32: 1}[tf.float32] == 1
    assert pickle.loads(pickle.dumps(tf.float64)) is tf.float64


def test_constant_dtype_inference():
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.constant(2 ** 40).dtype == tf.int64
    assert tf.constant(True).dtype == tf.bool
    assert tf.constant(np.float64(1.0)).dtype == tf.float64
    assert tf.constant(np.array([1.0])).dtype == tf.float64
    assert tf.constant([1, 2], dtype=tf.float32).dtype == tf.float32
    assert tf.constant([]).dtype == tf.float32
    assert tf.constant("a").dtype == tf.string and tf.constant("a").numpy() == b"a"
    assert tf.convert_to_tensor([1, 2], dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor([1.5], dtype_hint=tf.int32).dtype == tf.float32
    assert tf.constant(0, shape=[2, 3]).shape == (2, 3)


def test_constant_errors():
    with pytest.raises(ValueError):
        tf.constant([[1, 2], [3]])
    with pytest.raises(ValueError):
        tf.constant(None)
    with pytest.raises(TypeError):
        tf.constant([1.5], dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.constant(300, dtype=tf.int8)
    with pytest.raises(TypeError):
        tf.constant([1, 2, 3], shape=[2, 2])


def test_python_scalars_adopt_tensor_dtype():
    assert (tf.constant([1.0], tf.float64) * 2).dtype == tf.float64
    assert (tf.constant([1], tf.int64) + 2).dtype == tf.int64
    assert (2.5 * tf.constant([1.0], tf.float16)).dtype == tf.float16
    u8 = tf.constant([0, 255], tf.uint8)
    assert (u8 / 255.0).dtype == tf.float32  # a float meeting ints: float32
    assert (tf.constant([3, 4]) / tf.constant([2, 2])).dtype == tf.float64
    assert (tf.constant([3], tf.int16) / tf.constant([2], tf.int16)).dtype == tf.float32


# --- TensorShape ----------------------------------------------------------------------------

def test_tensor_shape_api():
    s = tf.TensorShape([2, None, 3])
    assert s.rank == 3 and s.ndims == 3 and len(s) == 3
    assert s.as_list() == [2, None, 3] and s[0] == 2 and s[1] is None
    assert s[1:] == tf.TensorShape([None, 3]) and s[-1] == 3
    assert not s.is_fully_defined() and s.num_elements() is None
    assert s.is_compatible_with([2, 5, 3]) and not s.is_compatible_with([2, 5])
    assert s.merge_with([None, 4, 3]).as_list() == [2, 4, 3]
    assert s.concatenate([1]).as_list() == [2, None, 3, 1]
    assert repr(s) == "TensorShape([2, None, 3])" and str(s) == "(2, None, 3)"
    assert str(tf.TensorShape([5])) == "(5,)" and str(tf.TensorShape([])) == "()"
    u = tf.TensorShape(None)
    assert u.rank is None and str(u) == "<unknown>" and u.is_compatible_with([1, 2])
    with pytest.raises(ValueError):
        u.as_list()
    with pytest.raises(ValueError):
        s.merge_with([3, None, 3])
    t = tf.zeros([2, 3])
    assert t.shape == (2, 3) and t.shape == [2, 3] and t.shape.as_list() == [2, 3]
    assert t.shape.num_elements() == 6 and t.get_shape() == t.shape
    assert tf.TensorShape([1, 2]) + tf.TensorShape([3]) == [1, 2, 3]
    with pytest.raises(ValueError):
        tf.TensorShape([2]).with_rank(2)


def test_set_shape_checks_compatibility():
    t = tf.zeros([2, 3])
    t.set_shape([None, 3])
    with pytest.raises(ValueError):
        t.set_shape([3, 3])


# --- operators --------------------------------------------------------------------------------

def test_operators_match_numpy():
    a = np.array([[1.0, -2.0], [3.0, 4.5]], np.float32)
    b = np.array([[0.5, 2.0], [-1.0, 3.0]], np.float32)
    ta, tb = tf.constant(a), tf.constant(b)
    for fn in [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x / y,
               lambda x, y: x // y, lambda x, y: x % y, lambda x, y: abs(x) ** y,
               lambda x, y: x @ y, lambda x, y: -x, lambda x, y: 2 - x, lambda x, y: 3 / x,
               lambda x, y: x < y, lambda x, y: x >= y, lambda x, y: x == y, lambda x, y: x != y]:
        np.testing.assert_allclose(np.asarray(fn(ta, tb).numpy(), np.float64),
                                   np.asarray(fn(a, b), np.float64), rtol=1e-6)
    np.testing.assert_array_equal((ta > 0) & (tb > 0), (a > 0) & (b > 0))
    np.testing.assert_array_equal(~(ta > 0), ~(a > 0))
    np.testing.assert_array_equal(ta.T.numpy(), a.T)
    assert (tf.constant(1.0) == None) is False  # noqa: E711
    assert (tf.constant([1, 2]) == tf.constant([1, 2, 3])) is False  # incompatible: False


def test_integer_bitwise_operators():
    x, y = tf.constant([12, 10]), tf.constant([10, 6])
    np.testing.assert_array_equal((x & y).numpy(), [8, 2])
    np.testing.assert_array_equal((x | y).numpy(), [14, 14])
    np.testing.assert_array_equal((x ^ y).numpy(), [6, 12])
    np.testing.assert_array_equal((~x).numpy(), [-13, -11])


def test_numpy_arrays_defer_to_tensor_operators():
    out = np.array([1.0, 2.0], np.float32) + tf.constant([1.0, 1.0])
    assert isinstance(out, tf.Tensor)


# --- Variables --------------------------------------------------------------------------------

def test_variable_updates_and_snapshots():
    v = tf.Variable([1.0, 2.0, 3.0])
    view = tf.reshape(v, [3, 1])
    part = v[1:]
    snap = v.read_value()
    v.assign_add([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(view.numpy().ravel(), [1, 2, 3])  # earlier results don't move
    np.testing.assert_array_equal(part.numpy(), [2, 3])
    np.testing.assert_array_equal(snap.numpy(), [1, 2, 3])
    np.testing.assert_array_equal(v.numpy(), [2, 3, 4])
    v.assign_sub(tf.constant([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(v.numpy(), [0, 1, 2])
    v.assign([5, 6, 7])
    np.testing.assert_array_equal(v.numpy(), [5, 6, 7])
    arr = v.numpy()
    arr[0] = 100.0  # numpy() is a copy
    assert v.numpy()[0] == 5.0
    v.scatter_nd_update([[0]], [9.0])
    np.testing.assert_array_equal(v.numpy(), [9, 6, 7])


def test_variable_errors():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        v.assign(tf.constant([1, 2]))  # int32 tensor into float32 variable
    with pytest.raises(ValueError):
        tf.Variable(None)


def test_variable_properties():
    v = tf.Variable(tf.zeros([2, 2]), name="kernel", trainable=False)
    assert v.name == "kernel:0" and not v.trainable and v.shape == (2, 2)
    assert v.dtype == tf.float32 and "CPU" in v.device
    assert hash(v) == id(v)
    assert tf.Variable(lambda: tf.ones([3])).shape == (3,)
    np.testing.assert_array_equal(v.initial_value.numpy(), np.zeros((2, 2)))
