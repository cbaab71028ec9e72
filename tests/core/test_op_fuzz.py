"""Property test over every public op: hostile arguments end in a result or a clear error.

Each op gets a fixed number of derandomized Hypothesis examples drawn from its signature (see
tenfold/testing/op_fuzz.py for the strategies and the outcome classes). An example passes when
the op returns (and its cheap oracle, if any, agrees) or raises a tenfold error that names the
op; it fails on a leaked Python/NumPy exception, a wrong result, or a hang (an alarm). The
longer run with per-class counts is `python3 tools/fuzz_ops.py --examples N`.
"""
import contextlib
import faulthandler
import resource
import signal
import zlib

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tenfold.ops import _checks
from tenfold.testing import op_fuzz

EXAMPLES = 8
CASE_SECONDS = 20  # generous: a hang, not a slow machine, is what this catches
OPS = op_fuzz.public_ops()



class _Hang(Exception):
    pass


@contextlib.contextmanager
def _guards():
    """A small tensor-size limit and a capped address space, so a missed size check fails the
    test instead of exhausting the machine; an alarm for hangs."""
    old_limit = _checks.set_max_tensor_bytes(1 << 28)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
        cap = vm + (3 << 30)
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, StopIteration, ValueError):
        pass

    def on_alarm(signum, frame):
        raise _Hang()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    # a hang inside C code (LAPACK, a regex engine) can't see the alarm: as a last resort
    # end the worker with a traceback rather than hang CI
    faulthandler.dump_traceback_later(CASE_SECONDS * EXAMPLES + 60, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        _checks.set_max_tensor_bytes(old_limit)


@pytest.mark.parametrize("qual,fn", [pytest.param(q, f, id=q) for q, f in OPS])
def test_op_gives_result_or_clear_error(qual, fn):
    bad = []

    # a seed from the op's name: the same examples in every process (derandomize would hash
    # the strategies' reprs, which hold addresses)
    @seed(zlib.crc32(qual.encode()))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(op_fuzz.call_args(fn))
    def one(call):
        args, kwargs = call
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            cls, detail = op_fuzz.run_case(qual, fn, args, kwargs)
        except _Hang:
            cls, detail = "timeout", f"no result in {CASE_SECONDS} s"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if cls not in ("ok", "clear"):
            bad.append(f"{cls}: {detail}\n    <- {qual}({op_fuzz.describe(args, kwargs)})")

    with _guards():
        one()
    assert not bad, f"{len(bad)} of the fuzzed calls of tf.{qual} misbehaved:\n" + \
        "\n".join(bad[:5])


def test_every_namespace_is_fuzzed():
    names = {q for q, _ in OPS}
    for must in ("zeros", "range", "transpose", "nn.space_to_depth", "image.resize",
                 "strings.regex_full_match", "sparse.to_dense", "signal.frame",
                 "random.uniform", "linalg.inv", "bitwise.left_shift", "math.top_k"):
        assert must in names
    assert len(OPS) > 300


def test_classification_of_errors():
    fn = dict(OPS)["nn.space_to_depth"]
    from tenfold.framework.errors import InvalidArgumentError
    try:
        1 / 0
    except ZeroDivisionError as e:
        assert op_fuzz.classify_exception(e, "nn.space_to_depth", fn) == "foreign"
    assert op_fuzz.classify_exception(InvalidArgumentError("x"), "nn.space_to_depth",
                                      fn) == "clear"
    # a ValueError raised inside NumPy is foreign even if it is a ValueError
    import numpy as np
    try:
        np.eye(-1)
    except ValueError as e:
        assert op_fuzz.classify_exception(e, "eye", fn) == "foreign"


def test_conversion_errors_name_the_op_and_argument():
    import tenfold as tf
    from tenfold.framework.errors import InvalidArgumentError
    mixed = [tf.constant(1.0), tf.constant(2)]
    with pytest.raises(ValueError, match=r"^sort: values: .*requested dtype"):
        tf.sort(mixed)
    with pytest.raises(ValueError, match=r"^searchsorted: sorted_sequence: "):
        tf.searchsorted(None, [1])
    with pytest.raises(ValueError, match=r"^reverse_sequence: seq_axis is required"):
        tf.reverse_sequence(tf.zeros([2, 3]), [1, 2])
    with pytest.raises(InvalidArgumentError, match="invert_permutation: x must be a vector"):
        tf.math.invert_permutation(3)
    with pytest.raises(InvalidArgumentError, match="dynamic_stitch: indices and data"):
        tf.dynamic_stitch([], [[1, 2]])
    # the success path is untouched
    assert tf.sort([3.0, 1.0]).numpy().tolist() == [1.0, 3.0]


def test_dtype_and_constant_errors_name_the_op():
    import tenfold as tf
    from tenfold.framework.errors import InvalidArgumentError, ResourceExhaustedError
    with pytest.raises(TypeError, match="^as_dtype: cannot convert"):
        tf.as_dtype([])
    with pytest.raises(ValueError, match="^convert_to_tensor: value: .*requested dtype int32"):
        tf.convert_to_tensor(tf.constant(1.0), dtype=tf.int32)
    with pytest.raises(TypeError, match="^constant: value: .*out of range"):
        tf.constant(300, dtype=tf.uint8)
    with pytest.raises(InvalidArgumentError, match="^constant: shape must have non-negative"):
        tf.constant(1.0, shape=[2, -1])
    with pytest.raises(ResourceExhaustedError, match="constant"):
        tf.constant(1.0, shape=[2 ** 60])
    with pytest.raises(TypeError, match="^ensure_shape: shape must be"):
        tf.ensure_shape(tf.zeros([2]), [[1]])
    assert tf.constant(2.0, shape=[2, 2]).numpy().tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_scalar_arguments_are_checked():
    import tenfold as tf
    from tenfold.framework.errors import InvalidArgumentError
    img = tf.zeros([4, 4, 3])
    with pytest.raises(InvalidArgumentError, match="image.central_crop: central_fraction"):
        tf.image.central_crop(img, [0.5, 0.5])
    with pytest.raises(InvalidArgumentError, match="image.random_brightness: max_delta"):
        tf.image.random_brightness(img, [0.1, 0.2])
    with pytest.raises(InvalidArgumentError, match="image.random_contrast: lower"):
        tf.image.random_contrast(img, [0.1, 0.2], 0.5)
    with pytest.raises(InvalidArgumentError, match="linalg.pinv: rcond"):
        tf.linalg.pinv(tf.eye(2), rcond=[1e-3, 1e-3])
    with pytest.raises(ValueError, match="nn.conv_transpose: filters must have rank"):
        tf.nn.conv_transpose(tf.zeros([1, 4, 4, 1]), tf.zeros([]), [1, 4, 4, 1], 1)
    with pytest.raises(ValueError, match="filter_sizes"):
        tf.nn.depthwise_conv2d_backprop_filter(tf.zeros([1, 4, 4, 1]), tf.constant(b"x"),
                                              tf.zeros([1, 4, 4, 1]), [1, 1, 1, 1], "SAME")
    with pytest.raises(TypeError, match="sequence_mask: maxlen must be an integer"):
        tf.sequence_mask([1, 2], maxlen="float64")
    with pytest.raises(InvalidArgumentError, match="nn.compute_average_loss: global_batch_size"):
        tf.nn.compute_average_loss([1.0, 2.0], global_batch_size=[[1, 2]])
    assert tf.nn.compute_average_loss([1.0, 2.0], global_batch_size=4).numpy() == 0.75


def test_assert_shapes_checks_its_spec():
    import tenfold as tf
    from tenfold.framework.errors import InvalidArgumentError
    x = tf.zeros([2, 3])
    with pytest.raises(ValueError, match="assert_shapes: shapes must be"):
        tf.debugging.assert_shapes(3)
    with pytest.raises(ValueError, match="assert_shapes: each entry must be a"):
        tf.debugging.assert_shapes([(x,)])
    with pytest.raises(ValueError, match="assert_shapes: dimension 1.5"):
        tf.debugging.assert_shapes([(x, ("N", 1.5))])
    tf.debugging.assert_shapes([(x, ("N", 3))])
    with pytest.raises(InvalidArgumentError, match="assert_shapes"):
        tf.debugging.assert_shapes([(x, ("N", 4))])


def test_strided_slice_masks_and_gamma_params_are_checked():
    import tenfold as tf
    x = tf.reshape(tf.range(6), [2, 3])
    with pytest.raises(TypeError, match="strided_slice: ellipsis_mask must be an integer"):
        tf.strided_slice(x, [0, 0], [1, 1], ellipsis_mask="x")
    assert tf.strided_slice(x, [0, 0], [2, 3], begin_mask=tf.constant(1)).shape == (2, 3)
    with pytest.raises(ValueError, match="random.gamma: alpha and beta"):
        tf.random.gamma([2], 1.0, beta="bogus")
