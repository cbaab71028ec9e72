"""NumPy-backend variants that the graph executor's in-place planning uses: kernels that write
into a given buffer (`out=`), and variable updates that reuse the variable's own array when
no other array can see it (decided by reference counts, a CPython + NumPy trick that stays
inside the NumPy backend). Primitives point at these from their declarations
(`out_kernel=`, `inplace_kernel=`)."""
import sys

import numpy as np


def unary_out(uf):
    """fn(x, out) for a NumPy ufunc."""
    return lambda x, out: uf(x, out=out)


def binary_out(uf):
    """fn(x, y, out) for a NumPy ufunc."""
    return lambda x, y, out: uf(x, y, out=out)


def add_out(x, y, out):
    """np.add(x, y, out=out), natively where one side is a bias (a vector along the other's
    last axis: NumPy runs one short loop per row of it)."""
    dx, dy = getattr(x, "ndim", 0), getattr(y, "ndim", 0)
    if dy == 1 and dx > 1 or dx == 1 and dy > 1:
        from tenfold.backend import kernels
        if kernels.bias_add(x, y, out) if dy == 1 else kernels.bias_add(y, x, out):
            return out
    return np.add(x, y, out=out)


def relu_out(x, out):
    from tenfold.backend import kernels
    return kernels.relu(x, out)


def sigmoid_out(x, out):
    h = x.dtype.type(0.5)
    np.multiply(x, h, out=out)
    np.tanh(out, out=out)
    np.add(out, x.dtype.type(1), out=out)
    return np.multiply(out, h, out=out)


def squared_difference_out(x, y, out):
    np.subtract(x, y, out=out)
    return np.square(out, out=out)


def matmul_out(a, b, out, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    from tenfold.backend import kernels
    return kernels.matmul_stack(a, b, out=out)


# ------------------------------------------------------------------------------------------
# variable updates in place

def _unshared(ref):
    """True if the variable's array is seen by nobody but the variable (no view, no tensor)."""
    return ref.base is None and sys.getrefcount(ref) <= _BASE_REFS and ref.flags.writeable


def _calibrate_refs():
    # the reference count of a variable's array when a generated line `k(V._value, ...)`
    # passes it to a kernel that asks `_unshared` (slot, frames, call arguments)
    class _Var:
        pass
    var = _Var()
    var._value = np.ones(2)
    seen = []

    def kernel(ref, value, var):
        seen.append(_count(ref))
    env = {"k": kernel, "V": var}
    exec("def run(a):\n    k(V._value, a, var=V)\n", env)
    env["run"](None)
    return seen[0]


def _count(ref):
    return sys.getrefcount(ref)


_BASE_REFS = _calibrate_refs()


def assign_add_inplace(ref, value, var):
    if _unshared(ref) and ref.shape == np.shape(value):
        return np.add(ref, value, out=ref)
    new = np.add(ref, value, out=np.empty_like(ref))
    var._value = new
    return new


def assign_sub_inplace(ref, value, var):
    if _unshared(ref) and ref.shape == np.shape(value):
        return np.subtract(ref, value, out=ref)
    new = np.subtract(ref, value, out=np.empty_like(ref))
    var._value = new
    return new


def assign_inplace(ref, value, var):
    if _unshared(ref) and ref.shape == np.shape(value) and ref.dtype == value.dtype:
        np.copyto(ref, value)
        return ref
    new = value.copy()
    var._value = new
    return new
