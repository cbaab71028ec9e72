"""`tf.test`: a TestCase with TensorFlow's assertion helpers, and device queries."""
import contextlib
import unittest

import numpy as np


def _np(x):
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    if isinstance(x, (list, tuple)) and any(hasattr(v, "numpy") for v in x):
        return np.asarray([_np(v) for v in x])
    return np.asarray(x)


class TestCase(unittest.TestCase):
    """unittest.TestCase plus assertAllClose, assertAllEqual, evaluate, ..."""

    def evaluate(self, tensors):
        from tenfold.util import nest
        return nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, tensors)

    def assertAllClose(self, a, b, rtol=1e-6, atol=1e-6, msg=None):  # noqa: N802
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=msg or "")

    def assertNotAllClose(self, a, b, rtol=1e-6, atol=1e-6, msg=None):  # noqa: N802
        if np.allclose(_np(a), _np(b), rtol=rtol, atol=atol):
            raise AssertionError(msg or "the two values are close")

    def assertAllEqual(self, a, b, msg=None):  # noqa: N802
        a_, b_ = _np(a), _np(b)
        self.assertEqual(a_.shape, b_.shape, msg)
        np.testing.assert_array_equal(a_, b_, err_msg=msg or "")

    def assertNotAllEqual(self, a, b, msg=None):  # noqa: N802
        if np.array_equal(_np(a), _np(b)):
            raise AssertionError(msg or "the two values are equal")

    def assertAllGreater(self, a, comparison_target):  # noqa: N802
        self.assertTrue(np.all(_np(a) > comparison_target))

    def assertAllLess(self, a, comparison_target):  # noqa: N802
        self.assertTrue(np.all(_np(a) < comparison_target))

    def assertAllGreaterEqual(self, a, comparison_target):  # noqa: N802
        self.assertTrue(np.all(_np(a) >= comparison_target))

    def assertAllLessEqual(self, a, comparison_target):  # noqa: N802
        self.assertTrue(np.all(_np(a) <= comparison_target))

    def assertAllInRange(self, target, lower_bound, upper_bound, open_lower_bound=False,  # noqa
                         open_upper_bound=False):
        t = _np(target)
        lo = t > lower_bound if open_lower_bound else t >= lower_bound
        hi = t < upper_bound if open_upper_bound else t <= upper_bound
        self.assertTrue(np.all(lo & hi))

    def assertShapeEqual(self, a, b, msg=None):  # noqa: N802
        self.assertEqual(tuple(_np(a).shape), tuple(b.shape), msg)

    def assertDTypeEqual(self, target, expected_dtype):  # noqa: N802
        from tenfold.framework import dtypes
        self.assertEqual(dtypes.as_dtype(_np(target).dtype), dtypes.as_dtype(expected_dtype))

    def assertArrayNear(self, farray1, farray2, err, msg=None):  # noqa: N802
        np.testing.assert_allclose(_np(farray1), _np(farray2), atol=err, rtol=0)

    def assertNear(self, f1, f2, err, msg=None):  # noqa: N802
        self.assertTrue(abs(float(f1) - float(f2)) <= err, msg)

    @contextlib.contextmanager
    def cached_session(self, *args, **kwargs):
        yield self

    session = cached_session

    def get_temp_dir(self):
        import tempfile
        if not hasattr(self, "_tmp"):
            self._tmp = tempfile.mkdtemp()
        return self._tmp


def main(argv=None):
    unittest.main(argv=argv)


def is_gpu_available(cuda_only=False, min_cuda_compute_capability=None):
    from tenfold import config
    return bool(config.list_physical_devices("GPU"))


def gpu_device_name():
    return "/device:GPU:0" if is_gpu_available() else ""


def is_built_with_cuda():
    import importlib.util
    return importlib.util.find_spec("cupy") is not None


def is_built_with_gpu_support():
    return is_built_with_cuda()


def is_built_with_rocm():
    return False


def is_built_with_xla():
    return False
