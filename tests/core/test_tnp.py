"""tf.experimental.numpy (`import tenfold.experimental.numpy as tnp`) against TensorFlow 2.21
(goldens: tests/fixtures/tfgraph/tf_numpy.json from make_tnp_goldens.py; the cases are
tests/fixtures/tfgraph/tnp_cases.py, run by both)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tenfold as tf
import tenfold.experimental.numpy as tnp

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tfgraph")
sys.path.insert(0, FIXTURES)
from tnp_cases import cases, desc  # noqa: E402

with open(os.path.join(FIXTURES, "tf_numpy.json")) as fh:
    GOLD = json.load(fh)

CASES = cases(tnp, tf)


def _close(got, want):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w)
        return
    assert got.keys() == want.keys()
    if "py" in want:
        assert got["py"] == want["py"]
        return
    assert got["dtype"] == want["dtype"]
    assert got["shape"] == want["shape"]
    np.testing.assert_allclose(np.asarray(got["value"], dtype=float),
                               np.asarray(want["value"], dtype=float), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_tnp_function_matches_tensorflow(name):
    _close(desc(CASES[name]()), GOLD[name])


def test_tnp_is_importable_both_ways():
    assert tf.experimental.numpy is tnp
    assert isinstance(tnp.array([1.0]), tnp.ndarray)


def test_methods_are_absent_until_enabled_and_match_tensorflow_after():
    assert not hasattr(tf.constant([1.0]), "reshape")  # the eager Tensor is untouched
    # enabling changes the Tensor class for the whole process: check it in a fresh one
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {FIXTURES!r})\n"
        "import tenfold as tf, tenfold.experimental.numpy as tnp\n"
        "from tnp_cases import desc, methods\n"
        "out = {k: (lambda r: r if isinstance(r, dict) else desc(r))(f())\n"
        "       for k, f in methods(tnp, tf).items()}\n"
        "print(json.dumps(out))\n")
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.path.abspath(root)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for k, v in got.items():
        _close(v, GOLD[k])


def test_tnp_is_differentiable():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tnp.sum(tnp.square(x) * 3.0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [6.0, 12.0])
