"""Bad input: each case must raise InvalidArgumentError (a ValueError) or TypeError, and the
message must name the op and the shapes / dtypes it got."""
import numpy as np
import pytest

import tenfold as tf

IAE = tf.errors.InvalidArgumentError


def test_invalid_argument_error_is_value_error():
    assert issubclass(IAE, ValueError)
    e = IAE(None, None, "boom")  # TensorFlow's constructor order
    assert e.message == "boom" and str(e) == "boom" and e.error_code == 3
    assert str(IAE("short form")) == "short form"


CASES = [
    # (callable, error class, substrings the message must contain)
    (lambda: tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5])), IAE, ["matmul", "[2, 3]", "[4, 5]"]),
    (lambda: tf.matmul(tf.zeros([3]), tf.zeros([3, 2])), IAE, ["matmul", "rank"]),
    (lambda: tf.matmul(tf.zeros([2, 2, 3]), tf.zeros([3, 3, 2])), IAE, ["matmul", "batch"]),
    (lambda: tf.add(tf.zeros([2, 3]), tf.zeros([4])), IAE, ["add", "[2, 3]", "[4]"]),
    (lambda: tf.zeros([2, 3]) * tf.zeros([3, 2]), IAE, ["multiply", "[2, 3]", "[3, 2]"]),
    (lambda: tf.where(tf.constant([True, False]), tf.zeros([3]), tf.zeros([3])), IAE,
     ["select", "[2]", "[3]"]),
    (lambda: tf.reshape(tf.zeros([2, 3]), [4, 2]), IAE, ["reshape", "[2, 3]", "[4, 2]"]),
    (lambda: tf.reshape(tf.zeros([2, 3]), [-1, 4]), IAE, ["reshape", "[2, 3]"]),
    (lambda: tf.concat([tf.zeros([2, 3]), tf.zeros([2, 4])], 0), IAE,
     ["concat", "[2, 3]", "[2, 4]"]),
    (lambda: tf.concat([tf.zeros([2, 3]), tf.zeros([2, 3, 1])], 0), IAE, ["concat"]),
    (lambda: tf.stack([tf.zeros([2]), tf.zeros([3])]), IAE, ["stack", "[2]", "[3]"]),
    (lambda: tf.add(tf.constant([1, 2]), tf.constant([1.0, 2.0])), IAE,
     ["add", "int32", "float32"]),
    (lambda: tf.constant([1, 2]) + tf.constant([1.0, 2.0]), IAE, ["add", "int32", "float32"]),
    (lambda: tf.matmul(tf.zeros([2, 2], tf.float64), tf.zeros([2, 2])), IAE,
     ["matmul", "float64", "float32"]),
    (lambda: tf.concat([tf.zeros([2]), tf.zeros([2], tf.int32)], 0), IAE,
     ["concat", "int32", "float32"]),
    (lambda: tf.reduce_sum(tf.zeros([2, 3]), axis=2), IAE, ["reduce_sum", "axis 2", "rank 2"]),
    (lambda: tf.reduce_mean(tf.zeros([2, 3]), axis=-3), IAE, ["reduce_mean", "-3"]),
    (lambda: tf.reduce_sum(tf.constant(1.0), axis=0), IAE, ["reduce_sum", "rank 0"]),
    (lambda: tf.argmax(tf.zeros([2, 3]), axis=2), IAE, ["argmax", "axis 2"]),
    (lambda: tf.concat([tf.zeros([2]), tf.zeros([2])], 1), IAE, ["concat", "axis 1"]),
    (lambda: tf.expand_dims(tf.zeros([2]), 3), IAE, ["expand_dims", "axis 3"]),
    (lambda: tf.squeeze(tf.zeros([2, 3]), 0), IAE, ["squeeze", "[2, 3]"]),
    (lambda: tf.transpose(tf.zeros([2, 3]), [0, 0]), IAE, ["transpose", "[2, 3]"]),
    (lambda: tf.gather(tf.zeros([3, 2]), [0, 3]), IAE, ["gather", "3", "[0, 3)"]),
    (lambda: tf.gather(tf.zeros([3, 2]), [-1]), IAE, ["gather", "-1"]),  # no NumPy wrap
    (lambda: tf.gather(tf.zeros([3, 2]), [0], axis=2), IAE, ["gather", "axis 2"]),
    (lambda: tf.gather(tf.zeros([3]), [0.5]), TypeError, ["gather", "float32"]),
    (lambda: tf.gather_nd(tf.zeros([3, 2]), [[-1, 0]]), IAE, ["gather_nd", "-1"]),
    (lambda: tf.gather_nd(tf.zeros([3, 2]), [[0, 2]]), IAE, ["gather_nd", "2"]),
    (lambda: tf.scatter_nd([[5]], [1.0], [3]), IAE, ["scatter_nd", "5"]),
    (lambda: tf.scatter_nd([[1]], [1.0, 2.0], [3]), IAE, ["scatter_nd", "[1]", "[2]"]),
    (lambda: tf.tensor_scatter_nd_update(tf.zeros([3]), [[-1]], [1.0]), IAE,
     ["tensor_scatter_nd_update", "-1"]),
    (lambda: tf.constant([1, 2, 3])[3], IAE, ["index 3", "size 3"]),
    (lambda: tf.constant([1, 2, 3])[-4], IAE, ["-4", "size 3"]),
    (lambda: tf.split(tf.zeros([5]), 2), IAE, ["split", "5"]),
    (lambda: tf.split(tf.zeros([5]), [2, 2]), IAE, ["split", "5"]),
    (lambda: tf.tile(tf.zeros([2, 3]), [2]), IAE, ["tile", "[2, 3]"]),
    (lambda: tf.pad(tf.zeros([2, 3]), [[1, 1]]), IAE, ["pad", "[2, 3]"]),
    (lambda: tf.broadcast_to(tf.zeros([3]), [2, 4]), IAE, ["broadcast_to", "[3]", "[2, 4]"]),
    (lambda: tf.one_hot(tf.constant([1.0]), 3), TypeError, ["one_hot", "float32"]),
    (lambda: tf.exp(tf.constant([1, 2])), TypeError, ["exp", "int32", "tf.cast"]),
    (lambda: tf.math.log(tf.constant(1)), TypeError, ["log", "int32"]),
    (lambda: tf.logical_and(tf.constant([1]), tf.constant([True])), TypeError,
     ["logical_and", "int32"]),
    (lambda: tf.reduce_sum(tf.constant([True])), TypeError, ["reduce_sum", "bool"]),
    (lambda: tf.nn.softmax_cross_entropy_with_logits(tf.zeros([2, 3]), tf.zeros([2, 4])), IAE,
     ["softmax_cross_entropy_with_logits", "[2, 3]", "[2, 4]"]),
    (lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([0, 3]), tf.zeros([2, 3])),
     IAE, ["label value of 3", "[0, 3)"]),
    (lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([0]), tf.zeros([2, 3])),
     IAE, ["[1]", "[2]"]),
    (lambda: tf.nn.bias_add(tf.zeros([2, 3]), tf.zeros([4])), IAE, ["bias_add", "[4]", "[2, 3]"]),
    (lambda: tf.linalg.inv(tf.zeros([2, 3])), IAE, ["inv", "[2, 3]"]),
    (lambda: tf.linalg.inv(tf.zeros([2, 2])), IAE, ["not invertible"]),
    (lambda: tf.linalg.cholesky(tf.constant([[1.0, 2.0], [2.0, 1.0]])), IAE, ["Cholesky"]),
    (lambda: tf.linalg.solve(tf.eye(3), tf.zeros([2, 1])), IAE, ["solve", "[2, 1]"]),
    (lambda: tf.math.top_k(tf.zeros([3]), 4), IAE, ["top_k", "k=4"]),
    (lambda: tf.math.floordiv(tf.constant([1]), tf.constant([0])), IAE, ["division by zero"]),
    (lambda: tf.math.unsorted_segment_sum(tf.zeros([3]), [0, 1, 5], 3), IAE, ["segment", "5"]),
    (lambda: tf.math.bincount(tf.constant([-1, 2])), IAE, ["bincount", "non-negative"]),
    (lambda: tf.range(5, 0, 1), IAE, ["range"]),
    (lambda: tf.random.uniform([2], maxval=None, dtype=tf.int32), ValueError, ["maxval"]),
    (lambda: tf.random.stateless_normal([2], seed=[1]), IAE, ["seed", "[2]"]),
    (lambda: tf.ensure_shape(tf.zeros([2, 3]), [2, 4]), IAE, ["[2, 3]", "(2, 4)"]),
    (lambda: tf.image.resize(tf.zeros([4, 4]), [2, 2]), IAE, ["resize", "[4, 4]"]),
]


@pytest.mark.parametrize("fn,err,words", CASES,
                         ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input(fn, err, words):
    with pytest.raises(err) as info:
        fn()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"message {msg!r} should mention {w!r}"


def test_errors_namespace():
    for name in ["OpError", "InvalidArgumentError", "OutOfRangeError", "NotFoundError",
                 "ResourceExhaustedError", "FailedPreconditionError", "UnimplementedError",
                 "CancelledError", "UnknownError", "AlreadyExistsError", "InternalError",
                 "AbortedError", "PermissionDeniedError", "UnavailableError",
                 "DeadlineExceededError", "DataLossError", "UnauthenticatedError"]:
        cls = getattr(tf.errors, name)
        assert issubclass(cls, tf.errors.OpError) or cls is tf.errors.OpError
    assert issubclass(tf.errors.OutOfRangeError, tf.errors.OpError)


def test_debugging_asserts():
    tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 2]))
    with pytest.raises(IAE, match="x == y"):
        tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]), message="check")
    tf.debugging.assert_near(tf.constant(1.0), tf.constant(1.0 + 1e-7))
    with pytest.raises(IAE):
        tf.debugging.assert_less(tf.constant([1, 5]), 3)
    with pytest.raises(IAE):
        tf.debugging.assert_positive(tf.constant([1.0, -1.0]))
    with pytest.raises(IAE, match="rank 2"):
        tf.debugging.assert_rank(tf.zeros([3]), 2)
    with pytest.raises(TypeError):
        tf.debugging.assert_type(tf.zeros([3]), tf.int32)
    tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", 3)), (tf.zeros([2]), ("N",))])
    with pytest.raises(IAE, match="'N'"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", 3)), (tf.zeros([4]), ("N",))])
    x = tf.constant([1.0, np.nan])
    with pytest.raises(IAE, match="bad input : Tensor had NaN values"):
        tf.debugging.check_numerics(x, "bad input")
    ok = tf.debugging.check_numerics(tf.constant([1.0]), "fine")
    assert float(ok[0]) == 1.0
    with pytest.raises(IAE, match="assertion failed"):
        tf.debugging.Assert(tf.constant(False), ["value was", tf.constant([1, 2])])
