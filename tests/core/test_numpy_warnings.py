"""NumPy's RuntimeWarnings from tenfold's own code never reach the user; the user's own NumPy
code warns exactly as before (tenfold/framework/numpy_warnings.py).

TensorFlow computes log(0) = -inf, 0/0 = nan, exp(1000) = inf silently. The checks run in a
fresh interpreter with Python's default warning settings (as a user's script has them), and
in-process under the filters the user may set after `import tenfold`.
"""
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import tenfold as tf

ROOT = Path(__file__).resolve().parents[2]


def _run_script(code, *flags):
    proc = subprocess.run([sys.executable, *flags, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


EAGER_AND_GRAPH = """
    import numpy as np
    import tenfold as tf
    x = tf.constant([0.0, -1.0, 1000.0])
    outs = [tf.math.log(tf.constant(0.)), tf.math.log(x), tf.sqrt(x), tf.exp(x), x / 0.,
            tf.constant(0.) / tf.constant(0.), tf.math.reciprocal(x), tf.pow(x, 1000.),
            tf.reduce_sum(tf.constant([3e38, 3e38])), tf.reduce_prod(tf.constant([1e30] * 3)),
            tf.reduce_mean(tf.constant([3e38, 3e38])), tf.cast(tf.constant(np.nan), tf.int32),
            tf.math.cumprod(tf.constant([1e30] * 3)), tf.nn.softmax(tf.constant([np.inf, 1.]))]

    @tf.function
    def graph(v):
        return tf.math.log(v) * 2.0, tf.exp(v) / tf.sqrt(v)
    outs += list(graph(x)) + list(graph(x))
    print(float(outs[0].numpy()))
"""


@pytest.mark.parametrize("flags", [(), ("-W", "default"), ("-W", "always")],
                         ids=["defaults", "W-default", "W-always"])
def test_tenfold_ops_print_nothing(flags):
    out, err = _run_script(EAGER_AND_GRAPH, *flags)
    assert out.strip() == "-inf"
    assert "Warning" not in err, err


def test_user_numpy_code_still_warns_after_import():
    _, err = _run_script("""
        import numpy as np
        import tenfold as tf
        tf.math.log(tf.constant(0.))
        np.log(np.float64(0.0))
        np.float64(1.0) / np.float64(0.0)
    """)
    assert err.count("RuntimeWarning: divide by zero encountered") == 2, err


def test_user_numpy_code_in_a_callback_tenfold_runs_still_warns():
    _, err = _run_script("""
        import numpy as np
        import tenfold as tf
        def user_fn(x):
            return np.log(x)  # the user's own NumPy: warns as NumPy does
        tf.numpy_function(user_fn, [np.float32(0.0)], tf.float32)
    """)
    assert "divide by zero encountered in log" in err, err


def _record():
    """catch_warnings recording every RuntimeWarning the filters let through (appended, so
    the filters installed before stay in front)."""
    cm = warnings.catch_warnings(record=True)
    log = cm.__enter__()
    warnings.simplefilter("always", RuntimeWarning, append=True)
    return cm, log


def test_in_process_tenfold_silent_user_warned():
    cm, log = _record()
    try:
        assert tf.math.log(tf.constant(0.0)).numpy() == -np.inf
        assert np.isnan(tf.sqrt(tf.constant(-1.0)).numpy())
        assert not log, [str(w.message) for w in log]
        np.log(np.float64(0.0))
        assert [str(w.message) for w in log] == ["divide by zero encountered in log"]
        assert log[0].filename == __file__
    finally:
        cm.__exit__(None, None, None)


def test_user_error_filters_and_seterr_raise_do_not_break_ops():
    # settings a user makes for their own code: tenfold still computes as TensorFlow does
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tf.math.log(tf.constant(0.0)).numpy() == -np.inf
        assert np.isinf(tf.divide(tf.constant(1.0), tf.constant(0.0)).numpy())
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            np.log(np.float64(0.0))  # ... and the user's own code still obeys them
    with np.errstate(all="raise"):
        assert tf.math.log(tf.constant(0.0)).numpy() == -np.inf
        assert np.isnan(tf.sqrt(tf.constant([-1.0])).numpy()).all()
        with pytest.raises(FloatingPointError):
            np.log(np.float64(0.0))


def test_install_is_idempotent_and_scoped():
    from tenfold.framework import numpy_warnings
    numpy_warnings.install()
    before = list(warnings.filters)
    numpy_warnings.install()
    assert warnings.filters == before
    ours = [f for f in warnings.filters if getattr(f[3], "pattern", None) ==
            numpy_warnings.MODULES]
    assert len(ours) == 1 and ours[0][0] == "ignore" and ours[0][2] is RuntimeWarning


def test_import_inside_catch_warnings_keeps_tenfold_quiet():
    # the filter list a catch_warnings block restores lacks the filter installed inside it
    # (pytest imports test modules that way): the next op installs it again
    _, err = _run_script("""
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tenfold as tf
        tf.math.log(tf.constant(0.))
        tf.exp(tf.constant(1000.))
    """)
    assert "Warning" not in err, err
