"""Training-mode BatchNormalization kernels over NumPy arrays, channels-last (normalised over
every axis but the last), optionally with the ReLU that follows folded in.

How they are made fast (single-thread CPU ms for one (64, 32, 32, 16) float32 tensor, the
biggest of resnet20, `OPENBLAS_NUM_THREADS=1`, process time, medians):
- a "wide" view: x is (rows, C) with C as small as 16, where NumPy's broadcasting loops run
  16 elements at a time (x - mean: 1.01 ms); viewed as (rows / k, k * C) with the per-channel
  vectors tiled k times, each loop runs ~1024 elements (0.57 ms); per-channel sums are the
  wide column sums folded back, and the sum of squares is a wide `einsum` (0.21 ms vs
  0.64 ms narrow);
- forward: one pass for the sums, one that writes y = x - mean and sums its squares, one
  that scales, shifts (and clamps) y in place; backward: one pass that (masks and) sums g and
  g * x, one that writes dx = g * a + x * b + c; so BN + ReLU's forward is [2.2] instead of
  [3.1] + [0.6] for relu, its backward [3.0] instead of [3.8] + [1.0] for relu_grad;
- the rows are cut into tasks of about `_TASK_BYTES`, run on the kernel threads
  (kernels.run_tasks); the sums are per task, added in task order, so results do not depend
  on the thread count.
"""
import numpy as np

from tenfold.backend import kernels as _k

_WIDE = 1024            # elements per row of the wide view (at most)
_TASK_BYTES = 1 << 19   # rows of x per task: two tasks per core for a 2 MB tensor
_layouts = {}


def fast_ok(*arrays):
    """Whether these kernels take the arrays: NumPy float32/float64, one dtype."""
    d = arrays[0].dtype
    return all(type(a) is np.ndarray and a.dtype == d for a in arrays) and \
        d in _k.FLOAT_DTYPES and arrays[0].ndim >= 1 and arrays[0].shape[-1] > 0


def _layout(rows, c, itemsize):
    """(k, wide rows, task bounds): k channel vectors per wide row (k divides rows)."""
    key = (rows, c, itemsize)
    got = _layouts.get(key)
    if got is None:
        k = 1
        for d in range(min(max(1, _WIDE // c), rows), 0, -1):
            if rows % d == 0:
                k = d
                break
        w_rows = rows // k
        per = max(1, _TASK_BYTES // (k * c * itemsize))
        bounds = [(lo, min(lo + per, w_rows)) for lo in range(0, w_rows, per)]
        got = _layouts[key] = (k, w_rows, bounds)
    return got


def _run(bounds, work, nbytes):
    _k.run_tasks(bounds, lambda b, _: work(*b), nbytes)


def _fold(partials, k, c):
    """Per-channel totals from per-task wide partial sums (task order, then the k tiles)."""
    return partials.sum(axis=0).reshape(k, c).sum(axis=0)


def bn_forward(x, gamma, beta, epsilon, relu=False):
    """(y, mean, var): y = (x - mean) * gamma / sqrt(var + epsilon) + beta, then ReLU if
    `relu`; mean and var (biased) over every axis but the last, as the unfused chain."""
    c = x.shape[-1]
    dt = x.dtype
    x = np.ascontiguousarray(x)
    rows = x.size // c
    k, w_rows, bounds = _layout(rows, c, dt.itemsize)
    xw = x.reshape(w_rows, k * c)
    y = np.empty(x.shape, dt)
    yw = y.reshape(w_rows, k * c)
    part = np.empty((len(bounds), k * c), dt)
    bounds_at = {lo: i for i, (lo, _) in enumerate(bounds)}
    n = dt.type(rows)

    def sums(lo, hi):
        np.add.reduce(xw[lo:hi], axis=0, out=part[bounds_at[lo]])

    _run(bounds, sums, x.nbytes)
    mean = _fold(part, k, c) / n
    mean_w = np.tile(mean, k)

    def centre(lo, hi):
        d = yw[lo:hi]
        np.subtract(xw[lo:hi], mean_w, out=d)
        np.einsum("ij,ij->j", d, d, out=part[bounds_at[lo]])

    _run(bounds, centre, 2 * x.nbytes)
    var = _fold(part, k, c) / n
    scale_w = np.tile(gamma / np.sqrt(var + dt.type(epsilon)), k)
    beta_w = np.tile(np.asarray(beta, dt), k)
    zero = dt.type(0)

    def affine(lo, hi):
        d = yw[lo:hi]
        np.multiply(d, scale_w, out=d)
        np.add(d, beta_w, out=d)
        if relu:
            np.maximum(d, zero, out=d)

    _run(bounds, affine, 2 * x.nbytes)
    return y, mean, var


def bn_backward(g, x, r, gamma, mean, var, epsilon, relu=False):
    """[dx | dgamma | dbeta] flattened: the backward of bn_forward given its mean and var;
    with `relu`, g is the gradient of the ReLU's output r (the mask r > 0 is applied here)."""
    c = x.shape[-1]
    dt = x.dtype
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(g)
    rows = x.size // c
    k, w_rows, bounds = _layout(rows, c, dt.itemsize)
    wc = k * c
    xw = x.reshape(w_rows, wc)
    gw = g.reshape(w_rows, wc)
    rw = np.ascontiguousarray(r).reshape(w_rows, wc) if relu else None
    flat = np.empty(x.size + 2 * c, dt)
    dxw = flat[:x.size].reshape(w_rows, wc)
    part_g = np.empty((len(bounds), wc), dt)
    part_gx = np.empty((len(bounds), wc), dt)
    bounds_at = {lo: i for i, (lo, _) in enumerate(bounds)}
    zero = dt.type(0)

    def sums(lo, hi):
        i = bounds_at[lo]
        gb = gw[lo:hi]
        if relu:  # the masked gradient goes to dx's rows, read again below
            mask = np.greater(rw[lo:hi], zero)
            gb = np.multiply(gb, mask, out=dxw[lo:hi])
        np.add.reduce(gb, axis=0, out=part_g[i])
        np.einsum("ij,ij->j", gb, xw[lo:hi], out=part_gx[i])

    _run(bounds, sums, (3 if relu else 2) * x.nbytes)
    t = dt.type
    n = t(rows)
    inv = 1 / np.sqrt(var + t(epsilon))
    dbeta = _fold(part_g, k, c)
    dgamma = inv * (_fold(part_gx, k, c) - mean * dbeta)
    a = gamma * inv
    b = -a * inv * dgamma / n
    cc = -a * dbeta / n - b * mean
    a_w, b_w, c_w = np.tile(a, k), np.tile(b, k), np.tile(cc, k)

    def grad(lo, hi):
        d = dxw[lo:hi]
        tmp = np.multiply(xw[lo:hi], b_w)
        np.multiply(d if relu else gw[lo:hi], a_w, out=d)
        np.add(d, tmp, out=d)
        np.add(d, c_w, out=d)

    _run(bounds, grad, 3 * x.nbytes)
    flat[x.size:x.size + c] = dgamma
    flat[x.size + c:] = dbeta
    return flat
