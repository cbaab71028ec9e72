"""Regression tests for the op hardening of issue 14: each found class, with its example and
a few more cases of the same class."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import InvalidArgumentError, ResourceExhaustedError
from tenfold.ops import _checks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _raises(cls, match, fn):
    with pytest.raises(cls, match=match) as info:
        fn()
    return info.value


# -- internal errors leaking --------------------------------------------------------------

@pytest.mark.parametrize("block", [0, 1, -2])
def test_space_to_depth_block_size(block):
    x = tf.zeros([1, 4, 4, 2])
    _raises(InvalidArgumentError, "space_to_depth: block_size", lambda: tf.nn.space_to_depth(
        x, block))
    _raises(InvalidArgumentError, "depth_to_space: block_size", lambda: tf.nn.depth_to_space(
        x, block))


def test_space_to_depth_still_works():
    x = tf.reshape(tf.range(16.), [1, 4, 4, 1])
    y = tf.nn.space_to_depth(x, 2)
    assert y.shape == (1, 2, 2, 4)
    np.testing.assert_array_equal(tf.nn.depth_to_space(y, 2).numpy(), x.numpy())


@pytest.mark.parametrize("shape", [[0, 4, 3], [4, 0, 3], [2, 0, 0, 1]])
def test_resize_of_an_empty_image(shape):
    _raises(InvalidArgumentError, "image.resize: input image must be of non-zero size",
            lambda: tf.image.resize(tf.zeros(shape), [2, 2]))


@pytest.mark.parametrize("args", [(0., float("inf")), (float("nan"),), (0, 5, float("inf")),
                                  (float("-inf"), 0.)])
def test_range_of_non_finite_values(args):
    _raises(InvalidArgumentError, "range: .* must be finite", lambda: tf.range(*args))


@pytest.mark.parametrize("args", [(-1,), (3, -2), ([2, 2],)])
def test_eye_bad_sizes(args):
    _raises(InvalidArgumentError, "eye: num_", lambda: tf.eye(*args))


def test_eye_still_works():
    np.testing.assert_array_equal(tf.eye(2, 3, batch_shape=[2]).numpy(),
                                  np.broadcast_to(np.eye(2, 3), (2, 2, 3)))


# -- bad arguments accepted ---------------------------------------------------------------

@pytest.mark.parametrize("perm", [[0, 1, 5], [0, 1], [0, 0, 1], [0, 1, 2, 3], [0, 1, -4]])
def test_transpose_perm_must_be_a_permutation(perm):
    _raises(InvalidArgumentError, "transpose: perm", lambda: tf.transpose(tf.zeros([2, 3, 4]),
                                                                          perm))


def test_transpose_still_accepts_permutations():
    x = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(tf.transpose(x, [2, 0, 1]).numpy(), x.transpose(2, 0, 1))


@pytest.mark.parametrize("begin,size", [([0], [-2]), ([0, 0], [1]), ([5], [1]), ([-1], [1]),
                                        ([2], [3])])
def test_slice_bad_begin_or_size(begin, size):
    _raises(InvalidArgumentError, "slice: ", lambda: tf.slice(tf.zeros([4]) if len(begin) == 1
                                                              and len(size) == 1
                                                              else tf.zeros([4]), begin, size))


def test_slice_still_works():
    x = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(tf.slice(x, [1, 1], [2, -1]).numpy(), x[1:3, 1:])


@pytest.mark.parametrize("b,e,s", [([0, 0], [1], [1, 1]), ([0], [1, 1], None),
                                   ([0, 0], [1, 1], [1]), ([0], [2], [0])])
def test_strided_slice_lengths_and_strides(b, e, s):
    _raises(InvalidArgumentError, "strided_slice: ",
            lambda: tf.strided_slice(tf.zeros([3, 3]), b, e, s))


@pytest.mark.parametrize("axes", [[[5], [0]], [[0], [3]], [[0, 1], [0]], 4, -1, [[0, 0], [0, 1]]])
def test_tensordot_axes_out_of_range(axes):
    _raises(InvalidArgumentError, "tensordot: ",
            lambda: tf.tensordot(tf.ones([2, 3, 4]), tf.ones([2, 3, 4]), axes))


def test_tensordot_still_works():
    a, b = np.random.rand(2, 3, 4), np.random.rand(4, 3, 5)
    np.testing.assert_allclose(tf.tensordot(a, b, [[1, 2], [1, 0]]).numpy(),
                               np.tensordot(a, b, [[1, 2], [1, 0]]), rtol=1e-6)
    np.testing.assert_allclose(tf.tensordot(a, b, [[-1], [0]]).numpy(),
                               np.tensordot(a, b, [[2], [0]]), rtol=1e-6)


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_frame_axis_out_of_range(axis):
    _raises(InvalidArgumentError, "signal.frame: axis", lambda: tf.signal.frame(
        tf.zeros([3, 10]), 4, 2, axis=axis))


def test_frame_along_an_inner_axis():
    x = np.arange(3 * 10 * 2, dtype=np.float32).reshape(3, 10, 2)
    y = tf.signal.frame(x, 4, 3, axis=1).numpy()
    assert y.shape == (3, 3, 4, 2)
    np.testing.assert_array_equal(y[:, 1], x[:, 3:7])


@pytest.mark.parametrize("length,step", [(0, 1), (4, 0), (-1, 2)])
def test_frame_sizes(length, step):
    _raises(InvalidArgumentError, "signal.frame: frame_",
            lambda: tf.signal.frame(tf.zeros([10]), length, step))


def test_sparse_to_dense_duplicate_and_unsorted_indices():
    dup = tf.sparse.SparseTensor([[0, 0], [0, 0]], [1., 2.], [2, 3])
    _raises(InvalidArgumentError, r"indices\[1\] = \[0, 0\] is repeated",
            lambda: tf.sparse.to_dense(dup))
    unsorted = tf.sparse.SparseTensor([[1, 0], [0, 0]], [1., 2.], [2, 3])
    _raises(InvalidArgumentError, "is out of order", lambda: tf.sparse.to_dense(unsorted))
    outside = tf.sparse.SparseTensor([[2, 0]], [1.], [2, 3])
    _raises(InvalidArgumentError, "out of bounds", lambda: tf.sparse.to_dense(outside))
    # validate_indices=False: TensorFlow's unchecked path (repeats add up here)
    assert tf.sparse.to_dense(dup, validate_indices=False).numpy()[0, 0] == 3.
    ok = tf.sparse.SparseTensor([[0, 1], [1, 2]], [1., 2.], [2, 3])
    np.testing.assert_array_equal(tf.sparse.to_dense(ok).numpy(), [[0, 1, 0], [0, 0, 2]])


@pytest.mark.parametrize("op,x,w", [
    (lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), [1, 4, 4, 1], [0, 3, 1, 2]),
    (lambda x, w: tf.nn.conv2d(x, w, 1, "VALID"), [1, 4, 4, 1], [3, 3, 1, 0]),
    (lambda x, w: tf.nn.conv1d(x, w, 1, "SAME"), [1, 4, 1], [0, 1, 2]),
    (lambda x, w: tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME"), [1, 4, 4, 1],
     [3, 0, 1, 1]),
    (lambda x, w: tf.nn.conv2d_transpose(x, w, [1, 4, 4, 1], 1, "SAME"), [1, 4, 4, 2],
     [0, 3, 1, 2]),
])
def test_conv_with_an_empty_filter(op, x, w):
    _raises(InvalidArgumentError, "must not have zero elements",
            lambda: op(tf.zeros(x), tf.zeros(w)))


# -- silently wrong values ----------------------------------------------------------------

def test_saturate_cast_float32_to_int32_keeps_the_sign():
    x = tf.constant([3e9, -3e9, 1e30, -1e30, 2147483520., 5.5, -5.5], tf.float32)
    y = tf.saturate_cast(x, tf.int32).numpy()
    assert y.dtype == np.int32
    assert (y[[0, 2]] > 2 ** 31 - 200).all() and (y[[1, 3]] == -2 ** 31).all()
    assert y[4] == 2147483520 and y[5] == 5 and y[6] == -5
    z = tf.saturate_cast(tf.constant([1e20, -1e20], tf.float64), tf.int64).numpy()
    assert z[0] > 0 and z[1] < 0
    u = tf.saturate_cast(tf.constant([300., -4.], tf.float32), tf.uint8).numpy()
    np.testing.assert_array_equal(u, [255, 0])


def test_range_past_int32():
    # Python ints beyond int32 infer int64, as TensorFlow; never a wrapped sequence
    r = tf.range(2 ** 31 - 2, 2 ** 31 + 2)
    assert r.dtype == tf.int64
    np.testing.assert_array_equal(r.numpy(), np.arange(2 ** 31 - 2, 2 ** 31 + 2))
    _raises(InvalidArgumentError, "range: limit=2147483650 does not fit in int32",
            lambda: tf.range(2 ** 31 - 2, 2 ** 31 + 2, dtype=tf.int32))
    assert tf.range(5).dtype == tf.int32


def test_random_uniform_int_bounds_must_fit():
    with pytest.raises(TypeError, match="random.uniform: maxval=2147483648 does not fit"):
        tf.random.uniform([3], maxval=2 ** 31, dtype=tf.int32)
    v = tf.random.uniform([1000], minval=2 ** 31 - 10, maxval=2 ** 31 - 1, dtype=tf.int32)
    assert (v.numpy() >= 2 ** 31 - 10).all()
    w = tf.random.uniform([100], maxval=2 ** 40, dtype=tf.int64).numpy()
    assert (w >= 0).all() and (w < 2 ** 40).all()


def test_gather_nd_with_zero_depth_indices():
    params = np.arange(6).reshape(2, 3)
    out = tf.gather_nd(params, tf.zeros([4, 0], tf.int32))
    assert out.shape == (4, 2, 3)
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(params, (4, 2, 3)))
    assert tf.gather_nd(params, tf.zeros([0], tf.int32)).shape == (2, 3)


# -- huge sizes ---------------------------------------------------------------------------

HUGE = [2 ** 40]


@pytest.mark.parametrize("make", [
    lambda: tf.zeros(HUGE), lambda: tf.ones([2 ** 20, 2 ** 20, 8]), lambda: tf.fill(HUGE, 1.),
    lambda: tf.eye(2 ** 30), lambda: tf.range(2 ** 40), lambda: tf.random.normal(HUGE),
    lambda: tf.random.uniform(HUGE), lambda: tf.image.resize(tf.zeros([1, 2, 2, 1]),
                                                             [2 ** 20, 2 ** 20]),
    lambda: tf.sparse.to_dense(tf.sparse.SparseTensor([[0]], [1.], HUGE)),
    lambda: tf.tile(tf.ones([2]), HUGE), lambda: tf.one_hot([1], 2 ** 40),
    lambda: tf.linspace(0., 1., 2 ** 40), lambda: tf.repeat([1], 2 ** 40),
    lambda: tf.math.bincount([1], minlength=2 ** 40),
    lambda: tf.math.unsorted_segment_sum([1.], [0], 2 ** 40),
    lambda: tf.math.unsorted_segment_mean([1.], [0], 2 ** 40),
    lambda: tf.signal.hann_window(2 ** 40), lambda: tf.signal.rfft(tf.ones([3]), [2 ** 40]),
    lambda: tf.linalg.diag([1., 2.], num_cols=2 ** 40), lambda: tf.scatter_nd([[0]], [1.], HUGE),
    lambda: tf.split(tf.zeros([0]), 2 ** 40),
], ids=["zeros", "ones", "fill", "eye", "range", "normal", "uniform", "resize", "sparse", "tile",
        "one_hot", "linspace", "repeat", "bincount", "segment_sum", "segment_mean", "window",
        "rfft", "diag", "scatter_nd", "split"])
def test_huge_sizes_are_refused_before_allocating(make):
    err = _raises(ResourceExhaustedError, "OOM when allocating", make)
    msg = str(err)
    assert "bytes" in msg and "shape [" in msg
    assert isinstance(err, MemoryError)  # TensorFlow's class is also a MemoryError here


def test_the_size_limit_names_op_shape_and_bytes():
    err = _raises(ResourceExhaustedError, r"zeros: .*shape \[1099511627776\].*float32",
                  lambda: tf.zeros([2 ** 40]))
    assert "4,398,046,511,104 bytes" in str(err)


def test_the_size_limit_can_be_changed():
    old = _checks.set_max_tensor_bytes(1000)
    try:
        assert tf.zeros([250]).shape == (250,)  # exactly 1000 bytes
        _raises(ResourceExhaustedError, "zeros", lambda: tf.zeros([251]))
        _raises(ResourceExhaustedError, "fill", lambda: tf.fill([251], 2.))
    finally:
        _checks.set_max_tensor_bytes(old)
    assert tf.zeros([251]).shape == (251,)


def test_the_size_limit_from_the_environment():
    code = ("import tenfold as tf\n"
            "try:\n    tf.ones([300])\nexcept tf.errors.ResourceExhaustedError as e:\n"
            "    print('refused', 'limit of 1,000 bytes' in str(e))\n")
    env = dict(os.environ, TENFOLD_MAX_TENSOR_BYTES="1000")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "refused True", out.stderr


def test_fill_is_a_real_array_not_a_lazy_view():
    t = tf.fill([3, 2], 7.)
    arr = t.numpy()
    assert arr.flags.owndata or arr.base is None or arr.strides != (0, 0)
    assert arr.strides[-1] != 0
    np.testing.assert_array_equal(arr, np.full([3, 2], 7., np.float32))
    with tf.GradientTape() as tape:
        v = tf.constant(2.)
        tape.watch(v)
        y = tf.reduce_sum(tf.fill([3, 4], v))
    assert float(tape.gradient(y, v)) == 12.


# -- regular expressions: RE2 -------------------------------------------------------------

def test_catastrophic_pattern_finishes():
    # backtracking engines take ~2**n steps on (a*)*b against "aaa...c"; RE2 is linear.
    # Run in a subprocess with a generous timeout rather than asserting a time.
    code = ("import tenfold as tf\n"
            "s = tf.constant(['a' * 20000 + 'c', 'a' * 30 + 'b'])\n"
            "print(tf.strings.regex_full_match(s, '(a*)*b').numpy().tolist())\n"
            "print(tf.strings.regex_replace(s, '(a*)*b', 'X').numpy()[1])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[False, True]", "b'X'"]


def test_regex_uses_re2_syntax_and_errors():
    s = tf.constant(["hello world", "foo"])
    _raises(InvalidArgumentError, "Invalid pattern: \\(a, error: missing \\)",
            lambda: tf.strings.regex_full_match(s, "(a"))
    # lookaround and backreferences are not RE2
    _raises(InvalidArgumentError, "Invalid pattern", lambda: tf.strings.regex_full_match(
        s, "(?=h).*"))
    _raises(InvalidArgumentError, "Invalid pattern", lambda: tf.strings.regex_replace(
        s, r"(o)\1", "x"))
    _raises(InvalidArgumentError, "asks for group 2",
            lambda: tf.strings.regex_replace(s, "(o)", r"\2"))


def test_regex_results():
    s = tf.constant(["hello world", "foo", ""])
    np.testing.assert_array_equal(tf.strings.regex_full_match(s, r"\w+").numpy(),
                                  [False, True, False])
    np.testing.assert_array_equal(tf.strings.regex_replace(s, "(o+)", r"<\1>").numpy(),
                                  [b"hell<o> w<o>rld", b"f<oo>", b""])
    np.testing.assert_array_equal(
        tf.strings.regex_replace(s, "o", "0", replace_global=False).numpy(),
        [b"hell0 world", b"f0o", b""])
    np.testing.assert_array_equal(tf.strings.regex_replace(s, "l+", r"[\0]").numpy()[0],
                                  b"he[ll]o wor[l]d")
    assert tf.strings.regex_full_match(tf.constant("été"), "..." ).numpy()  # UTF-8 characters


# -- a hang in LAPACK ---------------------------------------------------------------------

def test_svd_and_pinv_of_a_matrix_holding_inf_give_nan():
    # LAPACK's gesdd never returns on inf; such matrices give NaN, the rest of the batch is
    # computed as usual. Run in a subprocess so a regression fails instead of hanging.
    code = ("import numpy as np, tenfold as tf\n"
            "a = np.array([[[np.inf, 1., 0.], [1., 2., 3.], [0., 0., 1.]],\n"
            "              np.diag([1., 2., 3.])])\n"
            "s = tf.linalg.svd(a, compute_uv=False).numpy()\n"
            "p = tf.linalg.pinv(a).numpy()\n"
            "print(np.isnan(s[0]).all(), s[1].tolist(), np.isnan(p[0]).all(), "
            "np.allclose(p[1], np.diag([1., .5, 1. / 3])))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True [3.0, 2.0, 1.0] True True"


def test_conversion_errors_name_the_op():
    with pytest.raises(TypeError, match="^add: Cannot convert 1099511627776 to int32"):
        tf.add(2 ** 40, tf.constant([1]))
    with pytest.raises(TypeError, match="add_n: inputs must be a list of tensors"):
        tf.add_n(3.)


# -- strings meeting numbers (round 3 of the fuzzer) --------------------------------------

S = tf.constant(b"ab")


@pytest.mark.parametrize("make", [
    lambda: tf.constant(1, dtype=tf.string), lambda: tf.constant([1.5], dtype=tf.string),
    lambda: tf.add(tf.constant(["a"]), 1), lambda: tf.math.scalar_mul(np.int64(3), S),
    lambda: tf.math.atan2(np.int8(1), S), lambda: tf.truncatemod(2 ** 31 - 1, S),
], ids=["constant", "constant_list", "add", "scalar_mul", "atan2", "truncatemod"])
def test_numbers_do_not_convert_to_strings(make):
    _raises(TypeError, "Cannot convert .* dtype string: numbers don't convert", make)


def test_python_strings_do_not_convert_to_numbers_but_numpy_bytes_do():
    _raises(TypeError, "constant: value: .*strings don't convert to numbers",
            lambda: tf.constant("1.5", dtype=tf.float32))
    _raises(TypeError, "strings don't convert", lambda: tf.constant(["1"], dtype=tf.int32))
    # TensorFlow converts NumPy byte strings holding numbers
    assert tf.convert_to_tensor(np.array(b"1.5"), dtype=tf.float32).numpy() == 1.5


@pytest.mark.parametrize("make", [
    lambda: tf.multiply(S, S), lambda: tf.negative(S), lambda: tf.math.atan2(S, S),
    lambda: tf.nn.compute_average_loss(tf.constant(["a", "b"])),
    lambda: tf.nn.batch_normalization(S, S, S, None, None, S),
], ids=["multiply", "negative", "atan2", "compute_average_loss", "batch_normalization"])
def test_numeric_ops_refuse_string_tensors(make):
    # TensorFlow: InvalidArgumentError (its kernels have no string type); here naming the op
    with pytest.raises((InvalidArgumentError, TypeError), match="string"):
        make()


def test_scalar_string_results_are_tensors():
    out = tf.add(S, S)
    assert out.dtype == tf.string and out.shape == () and out.numpy() == b"abab"
    rows = list(tf.constant([b"a", b"b"]))
    assert [r.numpy() for r in rows] == [b"a", b"b"] and rows[0].dtype == tf.string
    assert tf.reshape(tf.add(S, tf.constant(b"c")), [1]).numpy().tolist() == [b"abc"]


def test_bool_arguments_are_checked():
    _raises(TypeError, "norm: keepdims must be a bool",
            lambda: tf.norm(tf.constant([3., 4.]), keepdims=tf.zeros([3], tf.int32)))
    _raises(TypeError, "count_nonzero: keepdims must be a bool",
            lambda: tf.math.count_nonzero([1, 0], keepdims=np.zeros([0])))
    assert tf.norm(tf.constant([3., 4.]), keepdims=tf.constant(True)).shape == (1,)


def test_categorical_gen_must_be_a_generator():
    _raises(TypeError, "random.categorical: gen must be a tf.random.Generator",
            lambda: tf.random.categorical([[1., 2.]], 3, gen=5))
    g = tf.random.Generator.from_seed(1)
    assert tf.random.categorical([[1., 2.]], 3, gen=g).shape == (1, 3)


def test_psnr_matches_tensorflow_for_uint8_and_broadcasts_max_val():
    rng = np.random.RandomState(0)
    a = rng.randint(0, 255, (2, 4, 4, 3)).astype(np.uint8)
    b = rng.randint(0, 255, (2, 4, 4, 3)).astype(np.uint8)
    mse = ((a / 255. - b / 255.) ** 2).mean(axis=(1, 2, 3))
    want = -10 * np.log10(mse)  # max_val 255 -> 1.0 once cast and rescaled with the images
    np.testing.assert_allclose(tf.image.psnr(a, b, 255).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(tf.image.psnr(a / 255., b / 255., 1.0).numpy(), want,
                               rtol=1e-5)
    # a max_val tensor broadcasts against the per-image result, as in TensorFlow
    assert tf.image.psnr(a[:1], b[:1], max_val=tf.fill([1, 4, 4, 2], 255)).shape == (1, 4, 4, 2)
    _raises(InvalidArgumentError, "incompatible shapes",
            lambda: tf.image.psnr(tf.zeros([0, 4, 4, 2], tf.uint8),
                                  tf.zeros([0, 4, 4, 2], tf.uint8),
                                  max_val=tf.zeros([0, 4, 4, 2], tf.uint8)))


def test_debugging_namespace_exports_no_helpers():
    public = {n for n in dir(tf.debugging) if not n.startswith("_")}
    assert not public & {"binary", "tensor", "np", "Tensor", "dtypes", "InvalidArgumentError"}


@pytest.mark.parametrize("make", [
    lambda: tf.pad(tf.zeros([2]), [[0, 2 ** 40]]),
    lambda: tf.dynamic_stitch([[2 ** 40]], [[1.]]),
    lambda: tf.math.segment_min([1., 2.], [0, 2 ** 40]),
    lambda: tf.image.resize_with_crop_or_pad(tf.zeros([2, 2, 2, 3]), 2 ** 40, 3),
    lambda: tf.linspace(tf.zeros([0]), tf.zeros([0]), 2 ** 40),
    lambda: tf.signal.frame(tf.zeros([0]), 2 ** 62, 2 ** 62),
    lambda: tf.image.resize_with_pad(tf.zeros([1, 2, 2, 0]), 2 ** 31 - 1, 2 ** 31 - 1),
], ids=["pad", "dynamic_stitch", "segment_min", "crop_or_pad", "linspace", "frame",
        "resize_with_pad"])
def test_huge_intermediates_are_refused_before_allocating(make):
    _raises(ResourceExhaustedError, "OOM when allocating", make)


def test_other_argument_classes_of_round_3():
    _raises(InvalidArgumentError, "gather_nd: batch_dims=",
            lambda: tf.gather_nd([1, -2], [2, 5], batch_dims=2 ** 40))
    assert tf.gather_nd([[1, 2], [3, 4]], [[1], [0]], batch_dims=1).numpy().tolist() == [2, 3]
    _raises(InvalidArgumentError, "tensordot: axes .* out of range",
            lambda: tf.tensordot(3., 4., axes=[0, 0]))
    out = tf.linalg.expm(tf.constant([[np.inf, 0.], [0., 1.]])).numpy()
    assert np.isnan(out).any()


def test_string_dimensions_are_refused():
    _raises(TypeError, "eye.*must be a list of ints", lambda: tf.eye(2, batch_shape="ab"))
    _raises(TypeError, "must be a list of ints", lambda: tf.zeros(["3"]))
    assert tf.eye(2, batch_shape=[3]).shape == (3, 2, 2)
