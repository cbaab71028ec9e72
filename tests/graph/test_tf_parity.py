"""tf.function behaviours compared with TensorFlow 2.21's (goldens: tests/fixtures/tfgraph/,
made by make_goldens.py there): printing traced tensors, pruning unused ops while keeping
stateful ones, tf.py_function as a graph node and as a decorator."""
import json
import os
import sys

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import InvalidArgumentError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tfgraph")
sys.path.insert(0, FIXTURES)
import print_cases as cases  # noqa: E402

with open(os.path.join(FIXTURES, "tf_behaviour.json")) as fh:
    GOLD = json.load(fh)


def test_print_traced_tensors_as_tensorflow():
    result, lines = cases.print_ops(tf)
    assert result.numpy() == 3
    assert lines == GOLD["print_ops"]


def test_print_keeps_signature_none_dims_and_format():
    assert cases.print_signature(tf) == GOLD["print_signature"]


def test_print_nested_argument_names_and_variables():
    assert cases.print_nested(tf) == GOLD["print_nested"]
    assert cases.print_variable(tf) == GOLD["print_variable"]


def test_print_outside_trace_is_eager_form():
    t = tf.constant([1, 2])
    assert repr(t) == "<tf.Tensor: shape=(2,), dtype=int32, numpy=array([1, 2], dtype=int32)>"
    assert str(t) == "tf.Tensor([1 2], shape=(2,), dtype=int32)"


def test_unused_failing_gather_is_pruned():
    @tf.function
    def unused_gather(x):
        tf.gather(x, 10)
        tf.gather_nd(x, [[7]])
        return x + 1

    for _ in range(2):  # the trace and the graph run
        assert unused_gather(tf.constant([1., 2.])).numpy().tolist() == GOLD["unused_gather"]


def test_used_failing_gather_raises():
    assert GOLD["used_gather"] == "InvalidArgumentError"

    @tf.function
    def used_gather(x):
        return tf.gather(x, 10) * 2

    with pytest.raises(InvalidArgumentError, match="gather"):
        used_gather(tf.constant([1., 2.]))

    @tf.function
    def returned(x):
        return tf.gather(x, 10)

    with pytest.raises(InvalidArgumentError):
        returned(tf.constant([1., 2.]))


def test_used_gather_in_range_on_later_call_fails_at_run():
    @tf.function
    def pick(x, i):
        return tf.gather(x, i)

    assert pick(tf.constant([1., 2.]), tf.constant(1)).numpy() == 2.0
    with pytest.raises(InvalidArgumentError):
        pick(tf.constant([1., 2.]), tf.constant(5))


def test_stateful_checks_are_kept():
    assert GOLD["unused_assert"] == GOLD["unused_check_numerics"] == "InvalidArgumentError"

    @tf.function
    def unused_assert(x):
        tf.debugging.assert_equal(x, 0.0)
        return x

    with pytest.raises(InvalidArgumentError):
        unused_assert(tf.constant(1.))

    @tf.function
    def unused_check_numerics(x):
        tf.debugging.check_numerics(tf.math.log(x - 2.0), "bad")
        return x

    with np.errstate(all="ignore"), pytest.raises(InvalidArgumentError):
        unused_check_numerics(tf.constant(1.))


def test_py_function_and_numpy_function_run_each_call():
    calls = []

    @tf.function
    def side_effects(x):
        tf.py_function(lambda: calls.append("py"), [], [])
        tf.numpy_function(lambda: calls.append("np") or 0, [], tf.int64)
        return x

    side_effects(1)
    side_effects(1)
    assert calls == GOLD["side_effect_calls"]


def test_py_function_decorator_eager_and_graph():
    seen = []

    @tf.py_function(Tout=tf.float32)
    def double(x):
        seen.append(float(x.numpy()))  # a real value: runs eagerly, also inside graphs
        return x * 2

    assert double(tf.constant(3.0)).numpy() == 6.0

    @tf.function
    def f(x):
        return double(x) + 1

    assert f(tf.constant(1.0)).numpy() == 3.0
    assert f(tf.constant(4.0)).numpy() == 9.0
    assert seen == [3.0, 1.0, 4.0]


# ------------------------------------------------------------------------------------------
# signatures, tf.types and misuse (goldens: make_signature_goldens.py)

with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "tfgraph",
                       "tf_signatures.json")) as fh:
    SIG = json.load(fh)


def test_pretty_printed_concrete_signatures():
    @tf.function
    def f(x, y=2):
        return x * y

    f(tf.constant(1.0))
    f(tf.constant([1.0, 2.0]), 3)
    f(tf.constant(1), y=tf.constant(2))
    assert f.pretty_printed_concrete_signatures() == SIG["pretty_f"]

    @tf.function
    def g(x):
        return tf.reduce_sum(x), {"a": x}

    g(tf.zeros((2, 3)))
    assert g.pretty_printed_concrete_signatures() == SIG["pretty_g"]


def _error_type(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - comparing the type with TensorFlow's
        return type(e).__name__
    return None


def test_misuse_raises_tensorflow_exception_types():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def s(x):
        return x

    @tf.function
    def plain(x):
        return x

    made = []

    @tf.function
    def make_var(x):
        made.append(tf.Variable(x))
        return x

    make_var(tf.constant(1.0))  # tenfold traces once: the first trace may create variables
    got = {
        "signature_extra_arg": _error_type(lambda: s(tf.zeros(2), tf.zeros(2))),
        "signature_dtype": _error_type(lambda: s(tf.zeros(2, tf.int32))),
        "signature_shape": _error_type(lambda: s(tf.zeros((2, 2)))),
        "signature_missing": _error_type(lambda: s()),
        "signature_unknown_kw": _error_type(lambda: s(tf.zeros(2), z=1)),
        "signature_not_spec": _error_type(lambda: tf.function(lambda x: x,
                                                             input_signature=[1])),
        "signature_too_long": _error_type(lambda: tf.function(
            lambda x: x, input_signature=[tf.TensorSpec([]), tf.TensorSpec([])])),
        "plain_extra_arg": _error_type(lambda: plain(1, 2)),
        "plain_unknown_kw": _error_type(lambda: plain(1, z=2)),
        "plain_missing": _error_type(lambda: plain()),
        "variable_on_retrace": _error_type(lambda: make_var(tf.constant([1.0]))),
        "not_callable": _error_type(lambda: tf.function(3)),
    }
    assert got == SIG["errors"]
    with pytest.raises(TypeError, match="too many positional arguments"):
        plain(1, 2)
    with pytest.raises(ValueError, match="singleton tf.Variables"):
        make_var(tf.constant([[1.0]]))


def test_guarded_variable_creation_is_allowed():
    class M:
        v = None

        @tf.function
        def __call__(self, x):
            if self.v is None:
                self.v = tf.Variable(2.0)
            return x * self.v

    m = M()
    assert m(tf.constant(1.0)).numpy() == 2.0
    assert m(tf.constant([1.0, 3.0])).numpy().tolist() == [2.0, 6.0]


def test_tf_types():
    want = SIG["types"]
    assert sorted(n for n in dir(tf.types.experimental) if not n.startswith("_")) == \
        want["experimental"]
    assert dir(tf.types) == ["experimental"]

    @tf.function
    def f(x):
        return x

    assert isinstance(f, tf.types.experimental.GenericFunction) == want["function_is_generic"]
    assert isinstance(f, tf.types.experimental.PolymorphicFunction) == \
        want["function_is_polymorphic"]
    assert isinstance(f.get_concrete_function(tf.constant(1.0)),
                      tf.types.experimental.ConcreteFunction) == want["concrete"]
    like = tf.types.experimental.TensorLike
    assert [isinstance(v, like) for v in (tf.constant(1), 1.0, tf.Variable(1.0), [1], "s")] \
        == want["tensor_like"]
    assert [isinstance(v, like) for v in (None, {})] == want["not_tensor_like"]
    assert not isinstance(lambda x: x, tf.types.experimental.GenericFunction)
