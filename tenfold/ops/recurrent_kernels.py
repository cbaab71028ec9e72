"""Kernels of the whole-sequence recurrent primitives (declared in fused_ops.py): LSTM, GRU and
SimpleRNN forward and backward over all time steps in one call.

Forward: a loop over preallocated buffers, one `h @ recurrent_kernel` GEMM per step, gate
nonlinearities written in place; the input projections are one GEMM per chunk of _CHUNK steps
(LSTM, GRU). It returns one time-major workspace `ws` in processing order (reversed time
under go_backwards) holding the states after each step and the activated gates, so the
backward pass reads what it needs instead of recomputing it:

    LSTM       (time, 6, batch, H): h, c, o, i, f, g
    GRU        (time, 5, batch, H): h, z, r, hh (candidate), rh (the recurrent part added
               to hh's input)
    SimpleRNN  (time, batch, H):    h

Each (batch, H) block is contiguous: NumPy's elementwise passes over contiguous blocks are
2-4x faster than over the H columns of a (batch, K*H) row (measured: a multiply of
(64, 128) 3.0 us contiguous vs 6.9 us strided; over 8 steps 9 vs 35 us).

Backward: one reverse loop (one GEMM per step for the state gradient), chunk by chunk: the
factors that depend on the forward pass only are computed for a chunk's steps at once, and
the chunk's gradients of the gate pre-activations give its share of dx, dw, du and db as
GEMMs while they are in cache. Its result is one flat array holding the input gradients one
after another (see `unpack`).

Masks (bool (batch, time)) keep the previous state where false, as Keras does. Activations
are Keras's defaults: tanh and sigmoid (the layers fall back to the per-step path for others).
Written against the array namespace `xp` of the inputs (NumPy or CuPy).

On NumPy, the LSTM and the GRU (reset_after) run each step's elementwise work (activations,
state updates, masks; in the backward the gate gradients) as one call of a C kernel
(tenfold/backend/native/recurrent.c) between the step's GEMMs, which stay in NumPy; the
NumPy loops are their twins (no compiler, TENFOLD_NATIVE=0, other arrays). See "Native step
kernels" below.
"""
import ctypes
import functools

import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.backend import native as _native
from tenfold.backend import xp_of


def _over_rows(n, loop, xp, fixed=False):
    """Runs loop(rows) over the batch. Batch rows recur independently, so on NumPy the batch
    is cut in two halves run on the kernel threads (tenfold.backend.kernels.run_tasks: serial
    when the machine is busy), with single-threaded BLAS: the per-step GEMMs are small, and
    OpenBLAS's own threads stall in lock-step whenever another process holds a core.
    fixed: the backward passes, whose weight gradients are summed over the parts: the batch
    is always cut the same way from 16 rows on (serially when threads are off or the machine
    is busy), so the gradients' rounding does not depend on the threads or the load."""
    if fixed and xp is np and n >= 16 and (_kernels._threads < 2 or _kernels._busy()):
        half = n // 2
        with _kernels.single_threaded_blas():
            loop(slice(0, half))
            loop(slice(half, n))
        return
    if xp is not np or n < 16 or _kernels._threads < 2 or _kernels._busy():
        # one loop over the whole batch: halves run one after the other would pay every
        # per-step NumPy call twice (a busy machine: run_tasks would not run them at once)
        if xp is np:
            with _kernels.single_threaded_blas():
                loop(slice(None))
        else:
            loop(slice(None))
        return
    half = n // 2
    with _kernels.single_threaded_blas():
        _kernels.run_tasks([slice(0, half), slice(half, n)], lambda r, _state: loop(r),
                           nbytes=1 << 30)


def _nonzero(a, xp):
    """Whether a has a nonzero element: for 4-byte floats the max of its bits read as
    uint64 (0.17 ms instead of any()'s 0.73 ms over an LSTM's (80, 4, 64, 128) gate blocks;
    -0.0 counts as nonzero, which only takes the general path)."""
    if xp is np and a.dtype.itemsize == 4 and a.shape[-1] % 2 == 0 and a.strides[-1] == 4 \
            and a.size:
        return bool(a.view(np.uint64).max())
    return bool(a.any())


def _sigmoid(z, out, xp):
    # 0.5 * tanh(z / 2) + 0.5: no overflow for large |z|, all in place
    xp.multiply(z, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _time_major(x, go_backwards, xp):
    """(batch, time, D) -> contiguous (time, batch, D) in processing order."""
    xt = x.transpose(1, 0, 2)
    if go_backwards:
        xt = xt[::-1]
    return xp.ascontiguousarray(xt)


def _mask_steps(mask, go_backwards, xp):
    """bool (batch, time) -> bool (time, batch, 1) in processing order, or None."""
    if mask is None:
        return None
    mt = mask.astype(bool).T
    if go_backwards:
        mt = mt[::-1]
    return xp.ascontiguousarray(mt)[:, :, None]


def _input_projection(x, w, b, go_backwards, xp):
    t, n, d = x.shape[1], x.shape[0], x.shape[2]
    xs = _time_major(x, go_backwards, xp)
    z = xp.matmul(xs.reshape(t * n, d), w).reshape(t, n, w.shape[1])
    z += b
    return xs, z


def _prev_states(ws, h0, cols):
    """(time, batch, H) states before each step: h0, then the stored states."""
    t, n = ws.shape[0], ws.shape[1]
    xp = xp_of(ws)
    out = xp.empty((t, n, cols.stop - cols.start), dtype=ws.dtype)
    out[0] = h0
    out[1:] = ws[:-1, :, cols]
    return out


def _finish(dzx, xs, w, go_backwards, xp, flat, offset):
    """dx = dzx @ w.T back in (batch, time, D) input order, written into flat[offset:]."""
    t, n, d = xs.shape
    dxs = xp.matmul(dzx.reshape(t * n, -1), w.T).reshape(t, n, d)
    if go_backwards:
        dxs = dxs[::-1]
    flat[offset:offset + n * t * d].reshape(n, t, d)[...] = dxs.transpose(1, 0, 2)
    return offset + n * t * d


def _flat_out(shapes, dtype, xp):
    size = 0
    for s in shapes:
        k = 1
        for v in s:
            k *= int(v)
        size += k
    return xp.empty((size,), dtype=dtype)


def unpack(flat_shapes):
    """[(offset, size, shape)] of the pieces of a backward kernel's flat result."""
    out, o = [], 0
    for s in flat_shapes:
        k = 1
        for v in s:
            k *= int(v)
        out.append((o, k, tuple(s)))
        o += k
    return out


def _put(flat, offset, value, rot=0):
    n = value.size
    dst = flat[offset:offset + n].reshape(value.shape)
    if rot:  # columns rotated by `rot`: put them back in place
        dst[..., :-rot] = value[..., rot:]
        dst[..., -rot:] = value[..., :rot]
    else:
        dst[...] = value
    return offset + n


# ------------------------------------------------------------------------------------------
# Native step kernels (tenfold/backend/native/recurrent.c): the elementwise work of a step
# between its GEMMs in one C pass over the batch rows, instead of a dozen NumPy passes over
# (batch, H) blocks. The GEMMs stay in NumPy (OpenBLAS); the workspace layouts are the
# twins', so either forward feeds either backward. Taken only on NumPy arrays of one float
# dtype whose (batch, H) blocks are contiguous (checked below, once per call, for the whole
# batch: the halves of _over_rows are row ranges of the same blocks); else the NumPy loops.
# A/B, in process, TENFOLD_KERNEL_THREADS=1, time.process_time medians of 11-21 alternating
# runs, batch 64, length 80, 128 units, float32 (bench/peers/keras_models.py `recurrent`), on
# the shared 2-core machine under load 3-3.5, whole calls, NumPy -> native, ms (5 runs):
#   lstm_forward  22.3-30.9 -> 18.2-25.4     lstm_backward  37.0-58.7 -> 30.9-51.0
#   gru_forward   16.3-30.3 -> 13.4-22.7     gru_backward   29.6-54.9 -> 25.9-48.6
# (15-25% less in every run; float64: lstm 52.8 -> 42.2 and 136 -> 119). The step's
# elementwise work is now ~10% of a call: the rest is GEMMs (forward ~1.3 GFLOP, backward
# ~2.7 per call) and the chunks' copies.

_STEP_ARGS = {  # p: pointer, i: int64
    "lstm_fwd_step": "ppppipppii",
    "lstm_bwd_step": "ppppipiiipipppii",
    "gru_fwd_step": "ppppppippii",
    "gru_bwd_step": "pppipiipipppii",
}
_step_fns = {}


def _step_fn(name, dtype):
    """The C step kernel `name` for dtype (argtypes set once), or None (no native build,
    TENFOLD_NATIVE=0, another dtype)."""
    fn = _native.kernel("recurrent", name, dtype,
                        [_native.i64 if c == "i" else ctypes.c_void_p for c in _STEP_ARGS[name]])
    return fn


def _blocks_ok(a, dtype, shape):
    """Whether a is a NumPy array of `shape` and dtype whose last two axes are contiguous
    (n, H) blocks and whose other strides are whole elements >= 0: then the C kernels' reads
    and writes at (block offsets) + row * H + column stay inside it. Axes of size 1 may have
    any stride (only their index 0 is used)."""
    if type(a) is not np.ndarray or a.dtype != dtype or a.shape != tuple(shape) \
            or not a.flags.aligned:
        return False
    it = a.dtype.itemsize
    want = [None] * (a.ndim - 2) + [shape[-1] * it, it]
    for size, st, w in zip(a.shape, a.strides, want):
        if size > 1 and (st != w if w is not None else (st < 0 or st % it)):
            return False
    return True


def _mask_ok(mk, t, n):
    return mk is None or (type(mk) is np.ndarray and mk.dtype == np.bool_
                          and mk.shape == (t, n, 1) and mk.flags.c_contiguous)


def _mask_block(mf, t, n):
    """The backward's float mask (time, batch, 1) as a block to check, if any."""
    return [] if mf is None else [(mf, (t, n, 1))]


def _native_step(name, xp, dtype, blocks, rows=(), masks=()):
    """The step kernel when the arrays qualify: blocks [(array, shape)] (see _blocks_ok),
    rows [(array, shape)]: C-contiguous arrays of dtype, masks [(bool mask, t, n)]."""
    if xp is not np:
        return None
    fn = _step_fn(name, dtype)
    if fn is None:
        return None
    if all(_blocks_ok(a, dtype, s) for a, s in blocks) \
            and all(type(a) is np.ndarray and a.dtype == dtype and a.shape == s
                    and a.flags.c_contiguous and a.flags.aligned for a, s in rows) \
            and all(_mask_ok(*m) for m in masks):
        return fn
    return None


# ------------------------------------------------------------------------------------------
# LSTM (Keras's gate order i, f, g, o; the kernels use o, i, f, g, see _lstm_weights)

# Steps per chunk: the input projection (forward) and the factors and gradient GEMMs
# (backward) of a chunk's steps run together on arrays that stay in L2 (64 x 8 x 512 floats:
# 1 MB). 4, 8 and 16 measured the same (LSTM 64 x 80 x 128, one thread, CPU time: forward
# 18.3-18.6 ms, backward 34.4-34.8 ms); before the chunks and the gate-major layout, 28.1
# and 48.2 ms (GRU: 15.5 and 30.3 ms against 23.9 and 41.0 ms).
_CHUNK = 8


def _lstm_rotate(a, hs, xp):
    """Gate columns i, f, g, o -> o, i, f, g: the sigmoid gates o, i, f are one contiguous
    block, and i, f, g (whose gradients all start from the cell's) another."""
    return xp.concatenate([a[..., 3 * hs:], a[..., :3 * hs]], axis=-1)


def _lstm_weights(w, u, b, hs, xp):
    """w, u, b in the kernels' gate order, the sigmoid gates' columns halved (a power of two:
    the products and sums are exactly half of the unscaled ones, barring subnormals): then
    sigmoid(z) = 0.5 * tanh(z / 2) + 0.5 and tanh(g) are one tanh over all four gates, and no
    pass scales z by a half. The forward's numbers are those of the unscaled formulas."""
    out = []
    for a in (w, u, b):
        p = _lstm_rotate(a, hs, xp)
        p[..., :3 * hs] *= 0.5
        out.append(p)
    return out


def lstm_forward(x, w, u, b, h0, c0, mask=None, go_backwards=False):
    xp = xp_of(x)
    n, t = x.shape[0], x.shape[1]
    hs = u.shape[0]
    wh, uh, bh = _lstm_weights(w, u, b, hs, xp)
    xs = _time_major(x, go_backwards, xp)
    mk = _mask_steps(mask, go_backwards, xp)
    ws = xp.empty((t, 6, n, hs), dtype=x.dtype)
    fn = _native_step("lstm_fwd_step", xp, x.dtype, [(ws, ws.shape), (h0, (n, hs)),
                                                    (c0, (n, hs))],
                      rows=[(bh, (4 * hs,))], masks=[(mk, t, n)])
    if fn is not None:
        _over_rows(n, lambda r: _lstm_loop_native(
            fn, xs[:, r], wh, bh, uh, ws[:, :, r], h0[r], c0[r],
            None if mk is None else mk[:, r], hs), xp)
        return ws
    _over_rows(n, lambda r: _lstm_loop(xs[:, r], wh, bh, uh, ws[:, :, r], h0[r], c0[r],
                                       None if mk is None else mk[:, r], hs, xp), xp)
    return ws


def _lstm_loop_native(fn, xs, w, b, u, ws, h0, c0, mk, hs):
    """_lstm_loop with each step's gate work one C call (lstm_fwd_step in recurrent.c)."""
    t, n = ws.shape[0], ws.shape[2]
    dt = ws.dtype
    it = dt.itemsize
    m = max(1, min(_CHUNK, t))
    zbuf = np.empty((m * n, 4 * hs), dtype=dt)
    rec = np.empty((n, 4 * hs), dtype=dt)
    base, s0, bs = _native.addr(ws), ws.strides[0], ws.strides[1] // it
    pz, pr, pb, zstep = _native.addr(zbuf), _native.addr(rec), _native.addr(b), n * 4 * hs * it
    pm = None if mk is None else _native.addr(mk)
    ms = 0 if mk is None else mk.strides[0]
    h, hp, cp = h0, _native.addr(h0), _native.addr(c0)
    for k0 in range(0, t, m):
        k1 = min(t, k0 + m)
        zc = zbuf[:(k1 - k0) * n]
        np.matmul(xs[k0:k1].reshape(zc.shape[0], xs.shape[2]), w, out=zc)
        for k in range(k0, k1):  # (the bias b joins zc in the C step)
            np.matmul(h, u, out=rec)
            wk = base + k * s0
            fn(pr, pz + (k - k0) * zstep, pb, wk, bs, hp, cp,
               None if pm is None else pm + k * ms, n, hs)
            h, hp, cp = ws[k, 0], wk, wk + bs * it


def _lstm_loop(xs, w, b, u, ws, h0, c0, mk, hs, xp):
    # ws[k]: h, c, o, i, f, g, each a contiguous (batch, H) block (NumPy's elementwise passes
    # over contiguous blocks are 2-4x faster than over the columns of a (batch, 6H) row).
    # The input projections are one GEMM per _CHUNK steps, just before those steps: their
    # result is read from cache, not memory.
    t, n = ws.shape[0], ws.shape[2]
    m = max(1, min(_CHUNK, t))
    zbuf = xp.empty((m * n, 4 * hs), dtype=ws.dtype)
    rec = xp.empty((n, 4 * hs), dtype=ws.dtype)
    rec3 = rec.reshape(n, 4, hs)
    tmp = xp.empty((n, hs), dtype=ws.dtype)
    h, c = h0, c0
    for k0 in range(0, t, m):
        k1 = min(t, k0 + m)
        zc = zbuf[:(k1 - k0) * n]
        xp.matmul(xs[k0:k1].reshape(zc.shape[0], xs.shape[2]), w, out=zc)
        zc += b
        zc = zc.reshape(k1 - k0, n, 4 * hs)
        for k in range(k0, k1):
            xp.matmul(h, u, out=rec)
            rec += zc[k - k0]
            wk = ws[k]
            gates = wk[2:]
            xp.tanh(rec3, out=gates.transpose(1, 0, 2))
            sg = wk[2:5]               # o, i, f: tanh(z / 2) -> sigmoid(z)
            sg *= 0.5
            sg += 0.5
            hk, ck, o, i, f, g = wk
            xp.multiply(f, c, out=ck)
            xp.multiply(i, g, out=tmp)
            ck += tmp
            xp.tanh(ck, out=hk)
            hk *= o
            if mk is not None:
                keep = ~mk[k]
                xp.copyto(hk, h, where=keep)
                xp.copyto(ck, c, where=keep)
            h, c = hk, ck


def lstm_grad_shapes(x, w, u):
    n, t, d = x.shape
    hs = u.shape[0]
    return [(n, t, d), w.shape, u.shape, (4 * hs,), (n, hs), (n, hs)]


def lstm_backward(gws, ws, x, w, u, h0, c0, mask=None, go_backwards=False):
    """Gradients of (x, w, u, b, h0, c0), flattened one after another."""
    xp = xp_of(ws)
    t, n = ws.shape[0], ws.shape[2]
    d = x.shape[2]
    hs = u.shape[0]
    dt = ws.dtype
    mk = _mask_steps(mask, go_backwards, xp)
    mf = None if mk is None else mk.astype(dt)
    shapes = lstm_grad_shapes(x, w, u)
    flat = _flat_out(shapes, dt, xp)
    dx = flat[:n * t * d].reshape(n, t, d)
    dh0 = xp.empty((n, hs), dtype=dt)
    dc0 = xp.empty((n, hs), dtype=dt)
    ut = xp.ascontiguousarray(_lstm_rotate(u, hs, xp).T)
    wt = xp.ascontiguousarray(_lstm_rotate(w, hs, xp).T)
    xs = _time_major(x, go_backwards, xp)
    # the gradient reaching the cell and gate blocks is usually zero (the layer returns h
    # and c of the last step only): then its additions are skipped
    c_grad = _nonzero(gws[:, 1], xp)
    gates_grad = _nonzero(gws[:, 2:], xp)
    parts = {}
    fn = _native_step("lstm_bwd_step", xp, dt, [(ws, (t, 6, n, hs)), (gws, (t, 6, n, hs)),
                                               (c0, (n, hs))] + _mask_block(mf, t, n))
    loop = _lstm_back_loop if fn is None else functools.partial(_lstm_back_loop_native, fn)
    _over_rows(n, lambda r: loop(
        gws[:, :, r], ws[:, :, r], xs[:, r], h0[r], c0[r], None if mf is None else mf[:, r],
        dx[r], ut, wt, dh0, dc0, r, parts, hs, c_grad, gates_grad, go_backwards, xp), xp,
        fixed=True)
    # the halves' weight gradients, summed in a fixed order
    keys = sorted(parts)
    acc = parts[keys[0]]
    for key in keys[1:]:
        for s, v in zip(acc, parts[key]):
            s += v
    dw, du, db = acc
    o = n * t * d
    o = _put(flat, o, dw, hs)
    o = _put(flat, o, du, hs)
    o = _put(flat, o, db, hs)
    o = _put(flat, o, dh0)
    _put(flat, o, dc0)
    return flat


def _lstm_back_loop(gws, ws, xs, h0, c0, mf, dx, ut, wt, dh0, dc0, rows, parts, hs, c_grad,
                    gates_grad, go_backwards, xp):
    """The reverse loop over the steps, _CHUNK steps at a time: each chunk's gradients of
    the gate pre-activations (dz, gate order o, i, f, g) stay in cache, where the chunk's
    share of dx, dw, du and db is computed from them (GEMMs over its steps), so no
    (time, batch, 4H) array goes to memory and back."""
    t, n = ws.shape[0], ws.shape[2]
    dt = ws.dtype
    d = xs.shape[2]
    dh = xp.zeros((n, hs), dtype=dt)
    dc = xp.zeros((n, hs), dtype=dt)
    tmp = xp.empty((n, hs), dtype=dt)
    gtmp = xp.empty((4, n, hs), dtype=dt) if gates_grad else None
    m = max(1, min(_CHUNK, t))
    fac = xp.empty((m, 4, n, hs), dtype=dt)
    fc = xp.empty((m, n, hs), dtype=dt)
    tc = xp.empty((m, n, hs), dtype=dt)
    der = xp.empty((m, 4, n, hs), dtype=dt) if gates_grad else None
    dzb = xp.empty((m, n, 4 * hs), dtype=dt)
    # the chunk's inputs and previous states side by side: dw and du are one GEMM
    xhb = xp.empty((m * n, d + hs), dtype=dt)
    dxb = xp.empty((m * n, d), dtype=dt)
    dw = xp.zeros((d, 4 * hs), dtype=dt)
    du = xp.zeros((hs, 4 * hs), dtype=dt)
    db = xp.zeros((4 * hs,), dtype=dt)
    wutmp = xp.empty((d + hs, 4 * hs), dtype=dt)
    for k1 in range(t, 0, -m):
        k0 = max(0, k1 - m)
        j = k1 - k0
        # the factors that depend on the forward pass only, for the chunk's steps at once:
        # with the activations' derivatives d (sigmoid: s (1 - s), tanh: 1 - g^2),
        #   dz_o = dh * [d_o tanh(c)],  dc += dh * [o (1 - tanh(c)^2)],
        #   dz_i, dz_f, dz_g = dc * [d_i g, d_f c_prev, d_g i]
        blk = ws[k0:k1]
        c, o, i, g = blk[:, 1], blk[:, 2], blk[:, 3], blk[:, 5]
        F, Fc, Tc = fac[:j], fc[:j], tc[:j]
        sg, Fg = F[:, :3], F[:, 3]
        xp.subtract(1, blk[:, 2:5], out=sg)
        sg *= blk[:, 2:5]
        xp.multiply(g, g, out=Fg)
        xp.subtract(1, Fg, out=Fg)
        if gates_grad:
            der[:j] = F
        xp.tanh(c, out=Tc)
        xp.multiply(Tc, Tc, out=Fc)
        xp.subtract(1, Fc, out=Fc)
        Fc *= o
        F[:, 0] *= Tc
        F[:, 1] *= g
        xh = xhb[:j * n]
        xh[:, :d].reshape(j, n, d)[...] = xs[k0:k1]
        hp = xh[:, d:].reshape(j, n, hs)  # the states before each step
        hp[1:] = blk[:-1, 0]
        hp[0] = ws[k0 - 1, 0] if k0 else h0
        F[1:, 2] *= blk[:-1, 1]
        F[0, 2] *= ws[k0 - 1, 1] if k0 else c0
        Fg *= i
        dz = dzb[:j]
        dz4 = dz.reshape(j, n, 4, hs)
        for k in range(k1 - 1, k0 - 1, -1):
            q = k - k0
            gk = gws[k]
            dh += gk[0]
            if c_grad:
                dc += gk[1]
            if mf is not None:
                keep = mf[k]
                carry_h = dh * (1 - keep)
                carry_c = dc * (1 - keep)
                dh *= keep
                dc *= keep
            dzk = dz4[q]
            xp.multiply(dh, F[q, 0], out=dzk[:, 0])
            xp.multiply(dh, Fc[q], out=tmp)
            dc += tmp
            xp.multiply(dc, F[q, 1:], out=dzk[:, 1:].transpose(1, 0, 2))
            if gates_grad:  # the gates' own gradients, times their activations' derivatives
                xp.multiply(gk[2:], der[q], out=gtmp)
                dzk += gtmp.transpose(1, 0, 2)
            dc *= blk[q, 4]
            xp.matmul(dz[q], ut, out=dh)
            if mf is not None:
                dh += carry_h
                dc += carry_c
        _lstm_chunk_grads(dz, xh, dxb, wt, wutmp, dx, dw, du, db, k0, k1, t, go_backwards, xp)
    dh0[rows] = dh
    dc0[rows] = dc
    parts[rows.start or 0] = (dw, du, db)


def _lstm_chunk_grads(dz, xh, dxb, wt, wutmp, dx, dw, du, db, k0, k1, t, go_backwards, xp):
    """A chunk's share of the input and weight gradients, from its gate gradients dz
    (j, n, 4H) and its inputs and previous states side by side (xh)."""
    j, n = dz.shape[0], dz.shape[1]
    d = dw.shape[0]
    dz2 = dz.reshape(j * n, dz.shape[2])
    dxc = dxb[:j * n]
    xp.matmul(dz2, wt, out=dxc)
    dxc = dxc.reshape(j, n, dxc.shape[1]).transpose(1, 0, 2)
    if go_backwards:
        dx[:, t - k1:t - k0] = dxc[:, ::-1]
    else:
        dx[:, k0:k1] = dxc
    xp.matmul(xh.T, dz2, out=wutmp)
    dw += wutmp[:d]
    du += wutmp[d:]
    db += dz2.sum(axis=0)


def _lstm_back_loop_native(fn, gws, ws, xs, h0, c0, mf, dx, ut, wt, dh0, dc0, rows, parts, hs,
                           c_grad, gates_grad, go_backwards, xp):
    """_lstm_back_loop with each step's gate-gradient work one C call (lstm_bwd_step in
    recurrent.c): it reads the activated gates from the workspace, so no per-chunk factors."""
    t, n = ws.shape[0], ws.shape[2]
    dt = ws.dtype
    it = dt.itemsize
    d = xs.shape[2]
    dh = np.zeros((n, hs), dtype=dt)
    dc = np.zeros((n, hs), dtype=dt)
    carry_h = np.zeros((n, hs), dtype=dt)
    carry_c = np.zeros((n, hs), dtype=dt)
    m = max(1, min(_CHUNK, t))
    dzb = np.empty((m, n, 4 * hs), dtype=dt)
    xhb = np.empty((m * n, d + hs), dtype=dt)
    dxb = np.empty((m * n, d), dtype=dt)
    dw = np.zeros((d, 4 * hs), dtype=dt)
    du = np.zeros((hs, 4 * hs), dtype=dt)
    db = np.zeros((4 * hs,), dtype=dt)
    wutmp = np.empty((d + hs, 4 * hs), dtype=dt)
    wbase, ws0, bs = _native.addr(ws), ws.strides[0], ws.strides[1] // it
    gbase, gs0, gbs = _native.addr(gws), gws.strides[0], gws.strides[1] // it
    pdh, pdc, pch, pcc = _native.addr(dh), _native.addr(dc), _native.addr(carry_h), _native.addr(carry_c)
    pdz, dzs = _native.addr(dzb), n * 4 * hs * it
    pm = None if mf is None else _native.addr(mf)
    ms = 0 if mf is None else mf.strides[0]
    pc0 = _native.addr(c0)
    pending = 0
    for k1 in range(t, 0, -m):
        k0 = max(0, k1 - m)
        j = k1 - k0
        blk = ws[k0:k1]
        xh = xhb[:j * n]
        xh[:, :d].reshape(j, n, d)[...] = xs[k0:k1]
        hp = xh[:, d:].reshape(j, n, hs)  # the states before each step
        hp[1:] = blk[:-1, 0]
        hp[0] = ws[k0 - 1, 0] if k0 else h0
        dz = dzb[:j]
        for k in range(k1 - 1, k0 - 1, -1):
            q = k - k0
            cp = wbase + (k - 1) * ws0 + bs * it if k else pc0
            fn(pdh, pdc, pch, pcc, pending, gbase + k * gs0, gbs, c_grad, gates_grad,
               wbase + k * ws0, bs, cp, None if pm is None else pm + k * ms, pdz + q * dzs,
               n, hs)
            np.matmul(dz[q], ut, out=dh)
            pending = 1
        _lstm_chunk_grads(dz, xh, dxb, wt, wutmp, dx, dw, du, db, k0, k1, t, go_backwards, xp)
    if mf is not None:  # the last step's masked rows
        dh += carry_h
        dc += carry_c
    dh0[rows] = dh
    dc0[rows] = dc
    parts[rows.start or 0] = (dw, du, db)


def _weight_grads(dzx, dzr, ws, x, w, u, h0, dh0, extra_state_grads, go_backwards, xp, shapes,
                  hprev=None, drb=False, rot=0):
    """Packs dx, dw, du, db[, drb], dh0[, dc0] from the per-step gradients of the input
    projection (dzx) and of the recurrent product (dzr). rot: the gradients' gate columns
    are rotated (w and u given so): the first `rot` columns go back to the end."""
    t, n = ws.shape[0], ws.shape[1]
    hs = u.shape[0]
    flat = _flat_out(shapes, ws.dtype, xp)
    xs = _time_major(x, go_backwards, xp)
    o = _finish(dzx, xs, w, go_backwards, xp, flat, 0)
    dzx2 = dzx.reshape(t * n, -1)
    o = _put(flat, o, xp.matmul(xs.reshape(t * n, -1).T, dzx2), rot)
    if hprev is None:
        hprev = _prev_states(ws, h0, slice(0, hs))
    o = _put(flat, o, xp.matmul(hprev.reshape(t * n, hs).T, dzr.reshape(t * n, -1)), rot)
    o = _put(flat, o, dzx2.sum(axis=0), rot)
    if drb:
        o = _put(flat, o, dzr.reshape(t * n, -1).sum(axis=0))
    o = _put(flat, o, dh0)
    for s in extra_state_grads:
        o = _put(flat, o, s)
    return flat


# ------------------------------------------------------------------------------------------
# GRU (gates z, r, hh); rb: the recurrent bias (reset_after) or zeros

def gru_forward(x, w, u, b, rb, h0, mask=None, go_backwards=False, reset_after=True):
    if reset_after:
        return _gru_forward_ra(x, w, u, b, rb, h0, mask, go_backwards)
    # reset_after=False: the kernels below run on a (time, batch, 5H) workspace, handed out
    # in the (time, 5, batch, H) layout of the reset_after kernels (the layer reads that)
    xp = xp_of(x)
    hs = u.shape[0]
    ws = _gru_forward_rb(x, w, u, b, rb, h0, mask, go_backwards)
    return xp.ascontiguousarray(
        ws.reshape(ws.shape[0], ws.shape[1], 5, hs).transpose(0, 2, 1, 3))


def _gru_to_rows(ws):
    """(time, 5, batch, H) -> (time, batch, 5H)."""
    xp = xp_of(ws)
    t, k, n, hs = ws.shape
    return xp.ascontiguousarray(ws.transpose(0, 2, 1, 3)).reshape(t, n, k * hs)


def _gru_forward_rb(x, w, u, b, rb, h0, mask, go_backwards, reset_after=False):
    xp = xp_of(x)
    n, t = x.shape[0], x.shape[1]
    hs = u.shape[0]
    _, z = _input_projection(x, w, b, go_backwards, xp)
    mk = _mask_steps(mask, go_backwards, xp)
    ws = xp.empty((t, n, 5 * hs), dtype=x.dtype)
    _over_rows(n, lambda r: _gru_loop(z[:, r], u, rb, ws[:, r], h0[r],
                                      None if mk is None else mk[:, r], reset_after, hs, xp), xp)
    return ws


def _gru_loop(z, u, rb, ws, h0, mk, reset_after, hs, xp):
    n = ws.shape[1]
    rec = xp.empty((n, 3 * hs), dtype=ws.dtype)
    tmp = xp.empty((n, hs), dtype=ws.dtype)
    u_zr, u_h = u[:, :2 * hs], u[:, 2 * hs:]
    h = h0
    for k in range(ws.shape[0]):
        zk = z[k]
        wk = ws[k]
        hk, zr, hh, rh = wk[:, :hs], wk[:, hs:3 * hs], wk[:, 3 * hs:4 * hs], wk[:, 4 * hs:]
        if reset_after:
            xp.matmul(h, u, out=rec)
            rec += rb
            zk[:, :2 * hs] += rec[:, :2 * hs]
            _sigmoid(zk[:, :2 * hs], zr, xp)
            rh[...] = rec[:, 2 * hs:]
            xp.multiply(zr[:, hs:], rh, out=hh)
        else:
            zk[:, :2 * hs] += xp.matmul(h, u_zr)
            zk[:, :2 * hs] += rb[:2 * hs]
            _sigmoid(zk[:, :2 * hs], zr, xp)
            xp.multiply(zr[:, hs:], h, out=tmp)
            rh[...] = xp.matmul(tmp, u_h)
            rh += rb[2 * hs:]
            hh[...] = rh
        hh += zk[:, 2 * hs:]
        xp.tanh(hh, out=hh)
        # h = hh + z * (h_prev - hh)
        xp.subtract(h, hh, out=hk)
        hk *= zr[:, :hs]
        hk += hh
        if mk is not None:
            xp.copyto(hk, h, where=~mk[k])
        h = hk


def gru_grad_shapes(x, w, u):
    n, t, d = x.shape
    hs = u.shape[0]
    return [(n, t, d), w.shape, u.shape, (3 * hs,), (3 * hs,), (n, hs)]


def gru_backward(gws, ws, x, w, u, h0, mask=None, go_backwards=False, reset_after=True):
    """Gradients of (x, w, u, b, rb, h0), flattened one after another."""
    if reset_after:
        return _gru_backward_ra(gws, ws, x, w, u, h0, mask, go_backwards)
    gws, ws = _gru_to_rows(gws), _gru_to_rows(ws)
    xp = xp_of(ws)
    t, n = ws.shape[0], ws.shape[1]
    hs = u.shape[0]
    dt = ws.dtype
    mk = _mask_steps(mask, go_backwards, xp)
    mf = None if mk is None else mk.astype(dt)
    dzx = xp.empty((t, n, 3 * hs), dtype=dt)
    dzr = xp.empty((t, n, 3 * hs), dtype=dt)
    hprev = _prev_states(ws, h0, slice(0, hs))
    ut = xp.ascontiguousarray(u.T)
    u_zr_t = xp.ascontiguousarray(u[:, :2 * hs].T)
    u_h_t = xp.ascontiguousarray(u[:, 2 * hs:].T)
    rhp = None if reset_after else xp.empty((t, n, hs), dtype=dt)  # r * h_prev per step
    dh0 = xp.empty((n, hs), dtype=dt)
    _over_rows(n, lambda r: _gru_back_loop(
        gws[:, r], ws[:, r], hprev[:, r], None if mf is None else mf[:, r], dzx[:, r],
        dzr[:, r], None if rhp is None else rhp[:, r], ut, u_zr_t, u_h_t, dh0, r,
        reset_after, hs, xp), xp)
    shapes = gru_grad_shapes(x, w, u)
    flat = _weight_grads(dzx, dzr, ws, x, w, u, h0, dh0, [], go_backwards, xp, shapes,
                         hprev=hprev, drb=True)
    if not reset_after:  # du's candidate columns multiply r * h_prev, not h_prev
        o_du, _, du_shape = unpack(shapes)[2]
        du = flat[o_du:o_du + u.size].reshape(du_shape)
        du[:, 2 * hs:] = xp.matmul(rhp.reshape(t * n, hs).T,
                                   dzr[:, :, 2 * hs:].reshape(t * n, hs))
    return flat


def _gru_back_loop(gws, ws, hprev, mf, dzx, dzr, rhp, ut, u_zr_t, u_h_t, dh0, rows,
                   reset_after, hs, xp):
    t, n = ws.shape[0], ws.shape[1]
    dt = ws.dtype
    # the factors that depend on the forward pass only, for all steps at once (a few large
    # operations instead of small ones in every step of the loop)
    zg_all, r_all = ws[:, :, hs:2 * hs], ws[:, :, 2 * hs:3 * hs]
    hh_all = ws[:, :, 3 * hs:4 * hs]
    one_m_z = xp.subtract(1, zg_all)                 # 1 - z
    d_hh = xp.multiply(hh_all, hh_all)
    xp.subtract(1, d_hh, out=d_hh)                   # 1 - hh^2
    d_z = xp.multiply(one_m_z, zg_all)               # (1 - z) z
    h_m_hh = xp.subtract(hprev, hh_all)              # h_prev - hh
    d_r = xp.subtract(1, r_all)
    d_r *= r_all                                     # (1 - r) r
    # the gradient reaching the gate columns of the workspace is usually zero (the layer
    # returns states only): then its additions are skipped
    gates_grad = bool(gws[:, :, hs:].any())
    dh = xp.zeros((n, hs), dtype=dt)
    for k in range(t - 1, -1, -1):
        gk = gws[k]
        dh += gk[:, :hs]
        if mf is not None:
            keep = mf[k]
            carry = dh * (1 - keep)
            dh *= keep
        wk = ws[k]
        zg, r, rh = wk[:, hs:2 * hs], wk[:, 2 * hs:3 * hs], wk[:, 4 * hs:]
        hp = hprev[k]
        dxk, drk = dzx[k], dzr[k]
        # z and r's pre-activation gradients go straight into drk (the recurrent GEMM's
        # input); dzx takes them in one copy after the loop
        da_z, da_r, da_h, d_rh = drk[:, :hs], drk[:, hs:2 * hs], dxk[:, 2 * hs:], \
            drk[:, 2 * hs:]
        # candidate: dhh = dh * (1 - z) + g_hh; its pre-activation da_h = dhh * (1 - hh^2)
        xp.multiply(one_m_z[k], dh, out=da_h)
        if gates_grad:
            da_h += gk[:, 3 * hs:4 * hs]
        da_h *= d_hh[k]
        # update gate: dz = dh * (h_prev - hh) + g_z, times z (1 - z)
        xp.multiply(h_m_hh[k], dh, out=da_z)
        if gates_grad:
            da_z += gk[:, hs:2 * hs]
        da_z *= d_z[k]
        dh_prev = dh * zg
        # the recurrent part of the candidate, and the reset gate
        if reset_after:
            xp.multiply(da_h, r, out=d_rh)
            if gates_grad:
                d_rh += gk[:, 4 * hs:]
            xp.multiply(da_h, rh, out=da_r)
        else:
            if gates_grad:
                xp.add(da_h, gk[:, 4 * hs:], out=d_rh)
            else:
                d_rh[...] = da_h
            d_rhp = xp.matmul(d_rh, u_h_t)
            xp.multiply(d_rhp, hp, out=da_r)
            d_rhp *= r
            dh_prev += d_rhp
            xp.multiply(r, hp, out=rhp[k])
        if gates_grad:
            da_r += gk[:, 2 * hs:3 * hs]
        da_r *= d_r[k]
        if reset_after:
            dh_prev += xp.matmul(drk, ut)
        else:
            dh_prev += xp.matmul(drk[:, :2 * hs], u_zr_t)
        if mf is not None:
            dh_prev += carry
        dh = dh_prev
    dzx[:, :, :2 * hs] = dzr[:, :, :2 * hs]
    dh0[rows] = dh


# reset_after=True (Keras's default): chunked like the LSTM above

def _gru_forward_ra(x, w, u, b, rb, h0, mask, go_backwards):
    xp = xp_of(x)
    n, t = x.shape[0], x.shape[1]
    hs = u.shape[0]
    # z and r's columns halved (a power of two, see _lstm_weights), so sigmoid(a) =
    # 0.5 tanh(a / 2) + 0.5 needs no pass scaling a; their recurrent bias joins the input bias
    # (added once per step instead of twice; this sum rounds differently: ~1 ulp)
    wh = w.copy()
    wh[:, :2 * hs] *= 0.5
    uh = u.copy()
    uh[:, :2 * hs] *= 0.5
    bh = b.copy()
    bh[:2 * hs] += rb[:2 * hs]
    bh[:2 * hs] *= 0.5
    xs = _time_major(x, go_backwards, xp)
    mk = _mask_steps(mask, go_backwards, xp)
    ws = xp.empty((t, 5, n, hs), dtype=x.dtype)
    # z, r and the candidate's products as separate GEMMs: each result a contiguous block
    wzr, wc = xp.ascontiguousarray(wh[:, :2 * hs]), xp.ascontiguousarray(wh[:, 2 * hs:])
    uzr, uc = xp.ascontiguousarray(uh[:, :2 * hs]), xp.ascontiguousarray(uh[:, 2 * hs:])
    rbh = rb[2 * hs:]
    fn = _native_step("gru_fwd_step", xp, x.dtype, [(ws, ws.shape), (h0, (n, hs))],
                      rows=[(rbh, (hs,)), (bh, (3 * hs,))], masks=[(mk, t, n)])
    loop = _gru_loop_ra if fn is None else functools.partial(_gru_loop_ra_native, fn)
    _over_rows(n, lambda r: loop(xs[:, r], wzr, wc, bh, uzr, uc, rbh, ws[:, :, r], h0[r],
                                 None if mk is None else mk[:, r], hs, xp), xp)
    return ws


def _gru_loop_ra_native(fn, xs, wzr, wc, b, uzr, uc, rbh, ws, h0, mk, hs, xp):
    """_gru_loop_ra with each step's gate work one C call (gru_fwd_step in recurrent.c),
    after both of the step's GEMMs (h @ u_zr into a scratch block, h @ u_hh into ws's rh)."""
    t, n = ws.shape[0], ws.shape[2]
    dt = ws.dtype
    it = dt.itemsize
    m = max(1, min(_CHUNK, t))
    zrbuf = np.empty((m * n, 2 * hs), dtype=dt)
    cbuf = np.empty((m * n, hs), dtype=dt)
    rzr = np.empty((n, 2 * hs), dtype=dt)
    base, s0, bs = _native.addr(ws), ws.strides[0], ws.strides[1] // it
    pzr, pc, prz, pb, prb = _native.addr(zrbuf), _native.addr(cbuf), _native.addr(rzr), _native.addr(b), _native.addr(rbh)
    pm = None if mk is None else _native.addr(mk)
    ms = 0 if mk is None else mk.strides[0]
    h, hp = h0, _native.addr(h0)
    for k0 in range(0, t, m):
        k1 = min(t, k0 + m)
        j = k1 - k0
        xc = xs[k0:k1].reshape(j * n, xs.shape[2])
        np.matmul(xc, wzr, out=zrbuf[:j * n])
        np.matmul(xc, wc, out=cbuf[:j * n])
        for k in range(k0, k1):  # (the bias b joins them in the C step)
            q = k - k0
            np.matmul(h, uzr, out=rzr)
            np.matmul(h, uc, out=ws[k, 4])
            wk = base + k * s0
            fn(prz, pzr + q * n * 2 * hs * it, pc + q * n * hs * it, pb, prb, wk, bs, hp,
               None if pm is None else pm + k * ms, n, hs)
            h, hp = ws[k, 0], wk


def _gru_loop_ra(xs, wzr, wc, b, uzr, uc, rbh, ws, h0, mk, hs, xp):
    # ws[k]: h, z, r, hh (candidate), rh (its recurrent part), each a contiguous (batch, H)
    # block (see _lstm_loop)
    t, n = ws.shape[0], ws.shape[2]
    m = max(1, min(_CHUNK, t))
    zrbuf = xp.empty((m * n, 2 * hs), dtype=ws.dtype)
    cbuf = xp.empty((m * n, hs), dtype=ws.dtype)
    rzr = xp.empty((n, 2 * hs), dtype=ws.dtype)
    rzr3 = rzr.reshape(n, 2, hs)
    h = h0
    for k0 in range(0, t, m):
        k1 = min(t, k0 + m)
        j = k1 - k0
        xc = xs[k0:k1].reshape(j * n, xs.shape[2])
        zzr = xp.matmul(xc, wzr, out=zrbuf[:j * n])
        zzr += b[:2 * hs]
        zzr = zzr.reshape(j, n, 2 * hs)
        zh = xp.matmul(xc, wc, out=cbuf[:j * n])
        zh += b[2 * hs:]
        zh = zh.reshape(j, n, hs)
        for k in range(k0, k1):
            q = k - k0
            wk = ws[k]
            hk, zg, r, hh, rh = wk
            xp.matmul(h, uzr, out=rzr)
            rzr += zzr[q]
            xp.tanh(rzr, out=rzr)
            zr = wk[1:3]               # tanh(a / 2) -> sigmoid(a)
            xp.multiply(rzr3, 0.5, out=zr.transpose(1, 0, 2))
            zr += 0.5
            xp.matmul(h, uc, out=rh)
            rh += rbh
            xp.multiply(r, rh, out=hh)
            hh += zh[q]
            xp.tanh(hh, out=hh)
            # h = hh + z * (h_prev - hh)
            xp.subtract(h, hh, out=hk)
            hk *= zg
            hk += hh
            if mk is not None:
                xp.copyto(hk, h, where=~mk[k])
            h = hk


def _gru_backward_ra(gws, ws, x, w, u, h0, mask, go_backwards):
    xp = xp_of(ws)
    t, n = ws.shape[0], ws.shape[2]
    d = x.shape[2]
    hs = u.shape[0]
    dt = ws.dtype
    mk = _mask_steps(mask, go_backwards, xp)
    mf = None if mk is None else mk.astype(dt)
    shapes = gru_grad_shapes(x, w, u)
    flat = _flat_out(shapes, dt, xp)
    dx = flat[:n * t * d].reshape(n, t, d)
    dh0 = xp.empty((n, hs), dtype=dt)
    ut = xp.ascontiguousarray(u.T)
    # the input projection's gradient has its gate columns in the order hh, z, r
    wt = xp.ascontiguousarray(xp.concatenate([w[:, 2 * hs:], w[:, :2 * hs]], axis=1).T)
    xs = _time_major(x, go_backwards, xp)
    # the gradient reaching the gate blocks of the workspace is usually zero (the layer
    # returns states only): then its additions are skipped
    gates_grad = _nonzero(gws[:, 1:], xp)
    parts = {}
    fn = _native_step("gru_bwd_step", xp, dt, [(ws, (t, 5, n, hs)), (gws, (t, 5, n, hs))]
                      + _mask_block(mf, t, n))
    loop = _gru_back_loop_ra if fn is None else functools.partial(_gru_back_loop_ra_native, fn)
    _over_rows(n, lambda r: loop(
        gws[:, :, r], ws[:, :, r], xs[:, r], h0[r], None if mf is None else mf[:, r], dx[r],
        ut, wt, dh0, r, parts, hs, gates_grad, go_backwards, xp), xp, fixed=True)
    keys = sorted(parts)
    acc = parts[keys[0]]
    for key in keys[1:]:
        for s, v in zip(acc, parts[key]):
            s += v
    dw, du, db, drb = acc
    o = n * t * d
    o = _put(flat, o, dw, hs)
    o = _put(flat, o, du)
    o = _put(flat, o, db, hs)
    o = _put(flat, o, drb)
    _put(flat, o, dh0)
    return flat


def _gru_back_loop_ra(gws, ws, xs, h0, mf, dx, ut, wt, dh0, rows, parts, hs, gates_grad,
                      go_backwards, xp):
    """The reverse loop, _CHUNK steps at a time (see _lstm_back_loop). Per step the
    pre-activation gradients go to one block [da_hh, da_z, da_r, d_rh]: its first three
    columns are the input projection's gradient (gate order hh, z, r), its last three the
    recurrent product's (z, r, rh: Keras's order)."""
    t, n = ws.shape[0], ws.shape[2]
    dt = ws.dtype
    d = xs.shape[2]
    m = max(1, min(_CHUNK, t))
    dh = xp.zeros((n, hs), dtype=dt)
    dhn = xp.empty((n, hs), dtype=dt)
    rec = xp.empty((n, hs), dtype=dt)
    gtmp = xp.empty((n, hs), dtype=dt) if gates_grad else None
    der = xp.empty((m, 3, n, hs), dtype=dt) if gates_grad else None
    fh = xp.empty((m, n, hs), dtype=dt)
    fz = xp.empty((m, n, hs), dtype=dt)
    f2 = xp.empty((m, 2, n, hs), dtype=dt)
    hpb = xp.empty((m, n, hs), dtype=dt)
    bb = xp.empty((m, n, 4 * hs), dtype=dt)
    dxb = xp.empty((m * n, d), dtype=dt)
    dw = xp.zeros((d, 3 * hs), dtype=dt)
    du = xp.zeros((hs, 3 * hs), dtype=dt)
    db = xp.zeros((3 * hs,), dtype=dt)
    drb = xp.zeros((3 * hs,), dtype=dt)
    wtmp = xp.empty_like(dw)
    utmp = xp.empty_like(du)
    for k1 in range(t, 0, -m):
        k0 = max(0, k1 - m)
        j = k1 - k0
        blk = ws[k0:k1]
        zg, r, hh, rh = blk[:, 1], blk[:, 2], blk[:, 3], blk[:, 4]
        hp = hpb[:j]                    # the states before each step
        hp[1:] = blk[:-1, 0]
        hp[0] = ws[k0 - 1, 0] if k0 else h0
        # the factors that depend on the forward pass only, for the chunk's steps at once:
        #   da_hh = dh * [(1 - z)(1 - hh^2)],  da_z = dh * [(h_prev - hh) z (1 - z)],
        #   da_r, d_rh = da_hh * [rh r (1 - r), r],  dh_prev = dh * z + [da_z, da_r, d_rh] u^T
        Fh, Fz, F2 = fh[:j], fz[:j], f2[:j]
        Fr = F2[:, 0]
        xp.subtract(1, zg, out=Fh)
        xp.subtract(hp, hh, out=Fz)
        Fz *= Fh
        Fz *= zg
        xp.multiply(hh, hh, out=Fr)
        xp.subtract(1, Fr, out=Fr)
        if gates_grad:
            xp.multiply(Fh, zg, out=der[:j, 0])
            der[:j, 2] = Fr
        Fh *= Fr
        xp.subtract(1, r, out=Fr)
        Fr *= r
        if gates_grad:
            der[:j, 1] = Fr
        Fr *= rh
        F2[:, 1] = r
        bc = bb[:j]
        b4 = bc.reshape(j, n, 4, hs)
        for k in range(k1 - 1, k0 - 1, -1):
            q = k - k0
            gk = gws[k]
            dh += gk[0]
            if mf is not None:
                keep = mf[k]
                carry = dh * (1 - keep)
                dh *= keep
            bk = b4[q]
            dah = bk[:, 0]
            xp.multiply(dh, Fh[q], out=dah)
            xp.multiply(dh, Fz[q], out=bk[:, 1])
            if gates_grad:  # the gates' own gradients, times their activations' derivatives
                xp.multiply(gk[3], der[q, 2], out=gtmp)
                dah += gtmp
                xp.multiply(gk[1], der[q, 0], out=gtmp)
                bk[:, 1] += gtmp
            xp.multiply(dah, F2[q], out=bk[:, 2:].transpose(1, 0, 2))
            if gates_grad:
                xp.multiply(gk[2], der[q, 1], out=gtmp)
                bk[:, 2] += gtmp
                bk[:, 3] += gk[4]
            xp.multiply(dh, zg[q], out=dhn)
            xp.matmul(bc[q, :, hs:], ut, out=rec)
            dhn += rec
            if mf is not None:
                dhn += carry
            dh, dhn = dhn, dh
        _gru_chunk_grads(bc, xs, hp, dxb, wt, wtmp, utmp, dx, dw, du, db, drb, k0, k1, t,
                         go_backwards, xp)
    dh0[rows] = dh
    parts[rows.start or 0] = (dw, du, db, drb)


def _gru_chunk_grads(bc, xs, hp, dxb, wt, wtmp, utmp, dx, dw, du, db, drb, k0, k1, t,
                     go_backwards, xp):
    """A chunk's share of the input and weight gradients, from its blocks
    [da_hh, da_z, da_r, d_rh] (j, n, 4H) and its previous states hp."""
    j, n = bc.shape[0], bc.shape[1]
    hs = hp.shape[2]
    b2 = bc.reshape(j * n, 4 * hs)
    dzx, dzr = b2[:, :3 * hs], b2[:, hs:]
    dxc = dxb[:j * n]
    xp.matmul(dzx, wt, out=dxc)
    dxc = dxc.reshape(j, n, dxc.shape[1]).transpose(1, 0, 2)
    if go_backwards:
        dx[:, t - k1:t - k0] = dxc[:, ::-1]
    else:
        dx[:, k0:k1] = dxc
    xp.matmul(xs[k0:k1].reshape(j * n, xs.shape[2]).T, dzx, out=wtmp)
    dw += wtmp
    xp.matmul(hp.reshape(j * n, hs).T, dzr, out=utmp)
    du += utmp
    db += dzx.sum(axis=0)
    drb += dzr.sum(axis=0)


def _gru_back_loop_ra_native(fn, gws, ws, xs, h0, mf, dx, ut, wt, dh0, rows, parts, hs,
                             gates_grad, go_backwards, xp):
    """_gru_back_loop_ra with each step's gate-gradient work one C call (gru_bwd_step in
    recurrent.c), which also finishes the previous step (dh = dh z + rec (+ carry))."""
    t, n = ws.shape[0], ws.shape[2]
    dt = ws.dtype
    it = dt.itemsize
    d = xs.shape[2]
    m = max(1, min(_CHUNK, t))
    dh = np.zeros((n, hs), dtype=dt)
    rec = np.zeros((n, hs), dtype=dt)
    carry = np.zeros((n, hs), dtype=dt)
    hpb = np.empty((m, n, hs), dtype=dt)
    bb = np.empty((m, n, 4 * hs), dtype=dt)
    dxb = np.empty((m * n, d), dtype=dt)
    dw = np.zeros((d, 3 * hs), dtype=dt)
    du = np.zeros((hs, 3 * hs), dtype=dt)
    db = np.zeros((3 * hs,), dtype=dt)
    drb = np.zeros((3 * hs,), dtype=dt)
    wtmp = np.empty_like(dw)
    utmp = np.empty_like(du)
    wbase, ws0, bs = _native.addr(ws), ws.strides[0], ws.strides[1] // it
    gbase, gs0, gbs = _native.addr(gws), gws.strides[0], gws.strides[1] // it
    pdh, prec, pca, php, pb = _native.addr(dh), _native.addr(rec), _native.addr(carry), _native.addr(hpb), _native.addr(bb)
    step = n * hs * it
    pm = None if mf is None else _native.addr(mf)
    ms = 0 if mf is None else mf.strides[0]
    pending = 0
    for k1 in range(t, 0, -m):
        k0 = max(0, k1 - m)
        j = k1 - k0
        blk = ws[k0:k1]
        hp = hpb[:j]                    # the states before each step
        hp[1:] = blk[:-1, 0]
        hp[0] = ws[k0 - 1, 0] if k0 else h0
        bc = bb[:j]
        for k in range(k1 - 1, k0 - 1, -1):
            q = k - k0
            fn(pdh, prec, pca, pending, gbase + k * gs0, gbs, gates_grad, wbase + k * ws0, bs,
               php + q * step, None if pm is None else pm + k * ms, pb + q * 4 * step, n, hs)
            np.matmul(bc[q, :, hs:], ut, out=rec)
            pending = 1
        _gru_chunk_grads(bc, xs, hp, dxb, wt, wtmp, utmp, dx, dw, du, db, drb, k0, k1, t,
                         go_backwards, xp)
    if pending:  # the last step's dh = dh z + rec (+ carry)
        dh += rec
        if mf is not None:
            dh += carry
    dh0[rows] = dh
    parts[rows.start or 0] = (dw, du, db, drb)


# ------------------------------------------------------------------------------------------
# SimpleRNN (tanh)

def simple_rnn_forward(x, w, u, b, h0, mask=None, go_backwards=False):
    xp = xp_of(x)
    n, t = x.shape[0], x.shape[1]
    hs = u.shape[0]
    _, z = _input_projection(x, w, b, go_backwards, xp)
    mk = _mask_steps(mask, go_backwards, xp)
    ws = xp.empty((t, n, hs), dtype=x.dtype)
    _over_rows(n, lambda r: _simple_loop(z[:, r], u, ws[:, r], h0[r],
                                         None if mk is None else mk[:, r], xp), xp)
    return ws


def _simple_loop(z, u, ws, h0, mk, xp):
    rec = xp.empty(ws.shape[1:], dtype=ws.dtype)
    h = h0
    for k in range(ws.shape[0]):
        xp.matmul(h, u, out=rec)
        hk = ws[k]
        xp.add(z[k], rec, out=hk)
        xp.tanh(hk, out=hk)
        if mk is not None:
            xp.copyto(hk, h, where=~mk[k])
        h = hk


def simple_rnn_grad_shapes(x, w, u):
    n, t, d = x.shape
    hs = u.shape[0]
    return [(n, t, d), w.shape, u.shape, (hs,), (n, hs)]


def simple_rnn_backward(gws, ws, x, w, u, h0, mask=None, go_backwards=False):
    """Gradients of (x, w, u, b, h0), flattened one after another."""
    xp = xp_of(ws)
    t, n = ws.shape[0], ws.shape[1]
    hs = u.shape[0]
    dt = ws.dtype
    mk = _mask_steps(mask, go_backwards, xp)
    mf = None if mk is None else mk.astype(dt)
    dz = xp.empty((t, n, hs), dtype=dt)
    ut = xp.ascontiguousarray(u.T)
    dh0 = xp.empty((n, hs), dtype=dt)
    _over_rows(n, lambda r: _simple_back_loop(gws[:, r], ws[:, r],
                                              None if mf is None else mf[:, r], dz[:, r], ut,
                                              dh0, r, xp), xp)
    return _weight_grads(dz, dz, ws, x, w, u, h0, dh0, [], go_backwards, xp,
                         simple_rnn_grad_shapes(x, w, u))


def _simple_back_loop(gws, ws, mf, dz, ut, dh0, rows, xp):
    t = ws.shape[0]
    dh = xp.zeros(ws.shape[1:], dtype=ws.dtype)
    for k in range(t - 1, -1, -1):
        dh += gws[k]
        if mf is not None:
            keep = mf[k]
            carry = dh * (1 - keep)
            dh *= keep
        dzk = dz[k]
        xp.multiply(ws[k], ws[k], out=dzk)
        xp.subtract(1, dzk, out=dzk)
        dzk *= dh
        dh = xp.matmul(dzk, ut)
        if mf is not None:
            dh += carry
    dh0[rows] = dh
