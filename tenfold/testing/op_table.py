"""The table-driven op runner: one `OpCase` per op, checked against a NumPy reference over
several shapes (broadcasting, size-0 dims, 0-d), dtypes and keyword variants; float64 variants
also get a finite-difference gradient check.
"""
import dataclasses
import itertools
from typing import Any, Callable, Optional, Sequence

import numpy as np

_FLOAT_TOL = {"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 2e-2), "float32": (1e-5, 1e-6),
              "float64": (1e-10, 1e-12)}


@dataclasses.dataclass
class OpCase:
    """One op in the table.

    fn: the tenfold op, called as fn(*tensors, **kwargs).
    ref: the NumPy reference, called as ref(*arrays, **kwargs), computed in float64.
    shapes: a list of input-shape tuples, one tuple of shapes per call
        (e.g. [((2, 3), (3,)), ((0, 3), (3,)), ((), ())]).
    dtypes: input dtypes to try (all inputs share it unless `input_dtypes` is given).
    domain: how inputs are drawn: 'real', 'positive', 'unit' (-0.9..0.9), 'nonzero',
        'int' (small ints), 'bool', 'index' (valid indices, see `index_range`), or a callable
        (rng, shape, dtype, position) -> array.
    kwargs: keyword variants, each a dict (one run per variant).
    out_dtype: expected output dtype name, or a callable from the input dtype name.
    grad: check gradients (float64 runs) by finite differences; grad_argnums limits inputs.
    """
    name: str
    fn: Callable
    ref: Callable
    shapes: Sequence[Any]
    dtypes: Sequence[str] = ("float32", "float64")
    domain: Any = "real"
    kwargs: Sequence[dict] = (dict(),)
    out_dtype: Any = None
    grad: bool = True
    grad_argnums: Optional[Sequence[int]] = None
    rtol: Optional[float] = None
    atol: Optional[float] = None
    grad_rtol: float = 1e-5
    grad_atol: float = 1e-6
    grad_max_size: int = 40
    multi_output: bool = False

    def __str__(self):
        return self.name


def _draw(rng, shape, dtype, domain, position):
    if callable(domain):
        return np.asarray(domain(rng, shape, dtype, position))
    if isinstance(domain, (list, tuple)):
        domain = domain[position]
    if domain == "bool":
        return rng.random(shape) < 0.5
    if domain == "int":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    if domain == "posint":
        return rng.integers(1, 6, size=shape).astype(dtype)
    if domain == "positive":
        v = rng.uniform(0.5, 2.0, size=shape)
    elif domain == "unit":
        v = rng.uniform(-0.9, 0.9, size=shape)
    elif domain == "nonzero":
        v = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
    elif domain == "distinct":  # well separated values (no ties for sorts, max, ...)
        n = int(np.prod(shape)) if shape else 1
        v = (rng.permutation(n) * 0.37 - n * 0.15 + position * 0.113).reshape(shape)
    else:
        v = rng.standard_normal(shape)
    if np.dtype(dtype).kind in "iu":
        return np.round(v * 3).astype(dtype)
    return np.asarray(v).astype(dtype)


def make_inputs(case, shapes, dtype, seed=0):
    import ml_dtypes  # noqa: F401 - bfloat16 names resolve through it
    rng = np.random.default_rng(seed)
    return [_draw(rng, s, dtype, case.domain, i) for i, s in enumerate(shapes)]


def _np_dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _expected_dtype(case, dtype):
    if case.out_dtype is None:
        return dtype
    return case.out_dtype(dtype) if callable(case.out_dtype) else case.out_dtype


def _check_one(case, out, expected, dtype, label):
    import tenfold as tf
    want_dtype = _expected_dtype(case, dtype)
    if not isinstance(out, tf.Tensor):
        raise AssertionError(f"{label}: returned {type(out).__name__}, expected a tf.Tensor")
    if want_dtype is not None and out.dtype.name != want_dtype:
        raise AssertionError(f"{label}: output dtype {out.dtype.name}, expected {want_dtype}")
    got = np.asarray(out.numpy())
    exp = np.asarray(expected)
    if got.shape != exp.shape:
        raise AssertionError(f"{label}: output shape {got.shape}, NumPy gives {exp.shape}")
    if got.dtype.kind in "fc" or got.dtype.name == "bfloat16":
        rtol, atol = _FLOAT_TOL.get(dtype if dtype in _FLOAT_TOL else out.dtype.name,
                                    (1e-5, 1e-6))
        rtol = max(rtol, case.rtol) if case.rtol is not None else rtol
        atol = max(atol, case.atol) if case.atol is not None else atol
        np.testing.assert_allclose(got.astype(np.float64) if got.dtype.kind != "c" else got,
                                   exp.astype(got.dtype.kind == "c" and np.complex128
                                              or np.float64),
                                   rtol=rtol, atol=atol, err_msg=label)
    else:
        np.testing.assert_array_equal(got, exp.astype(got.dtype) if exp.size else exp,
                                      err_msg=label)


def run_op_case(case, seed=0):
    """Runs every (shapes, dtype, kwargs) combination of case; raises AssertionError on the
    first mismatch. Returns the number of combinations checked."""
    import tenfold as tf
    n = 0
    for (shapes, dtype, kwargs) in itertools.product(case.shapes, case.dtypes, case.kwargs):
        shapes = tuple(shapes)
        arrays = make_inputs(case, shapes, _np_dtype(dtype), seed)
        label = f"{case.name} shapes={list(shapes)} dtype={dtype} kwargs={kwargs}"
        tensors = [tf.constant(a) for a in arrays]
        out = case.fn(*tensors, **kwargs)
        ref_in = [a.astype(np.float64) if a.dtype.kind == "f" or a.dtype.name == "bfloat16"
                  else a for a in arrays]
        expected = case.ref(*ref_in, **kwargs)
        if case.multi_output:
            for i, (o, e) in enumerate(zip(out, expected)):
                _check_one(dataclasses.replace(case, out_dtype=(
                    case.out_dtype[i] if isinstance(case.out_dtype, (list, tuple))
                    else case.out_dtype)), o, e, dtype, f"{label} output {i}")
        else:
            _check_one(case, out, expected, dtype, label)
        n += 1
        if case.grad and dtype == "float64" and not case.multi_output:
            sizes = [a.size for a in arrays]
            if 0 < max(sizes + [0]) <= case.grad_max_size and all(s > 0 for s in sizes):
                from tenfold.testing.gradcheck import gradient_check
                argnums = case.grad_argnums
                if argnums is None:
                    argnums = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
                gradient_check(lambda *xs: case.fn(*xs, **kwargs), arrays, argnums=argnums,
                               rtol=case.grad_rtol, atol=case.grad_atol, name=label)
    return n
