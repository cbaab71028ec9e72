"""The graph executor: a traced graph compiled into one straight-line Python function.

`Plan(graph, options)` runs the optimization passes and generates the source of a function
`run(args)` that calls each kernel directly on arrays, in program order, with every decision
taken beforehand (no dispatch, conversion, checks or recording at run time):

- ``constant_folding``: nodes whose inputs are all constants become constants (their value
  was computed while tracing);
- ``dead_code``: nodes whose results reach no output and have no side effect are dropped;
- ``fusion``: known op chains are replaced by one kernel (the ReLU backward mask
  ``g * cast(y > 0)`` becomes one ``np.multiply(g, y > 0)``; conv + max pooling; training
  BatchNormalization + ReLU);
- ``inplace``: an elementwise op writes its result into the buffer of an input that nothing
  reads afterwards (``np.add(a, b, out=a)``), and ``matmul`` into a dead buffer of its shape;
- ``release``: each buffer is dropped right after its last reader has run, so peak memory
  stays near the largest live set rather than the whole trace;
- ``inplace_assign``: ``v.assign_add(d)`` / ``assign_sub`` / ``assign`` update the variable's
  array in place when no other array can see it (the Keras optimizers already update in place);
- ``chains``: chains of elementwise primitives (by their records' `out_kernel` / `inplace`
  facts) run as one node into one buffer, in cache-sized blocks (tenfold/graph/elementwise.py).

Every optimization can be switched off (`tenfold.graph.optimizations(inplace=False)`); the
tests check that each gives the same numbers as eager execution.
"""
import contextlib
import itertools
import linecache
import threading

import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.backend import native_pool as _native_pool
from tenfold.framework.errors import (InvalidArgumentError, ResourceExhaustedError,
                                      out_of_device_memory)
from tenfold.ops import fused_ops as _fused
from tenfold.graph import elementwise as _elementwise
from tenfold.graph import loss_fusion as _loss_fusion
from tenfold.graph import update_overlap as _update_overlap

_DEFAULTS = {"constant_folding": True, "dead_code": True, "fusion": True, "inplace": True,
             "release": True, "inplace_assign": True, "chains": True}
_options = dict(_DEFAULTS)
_lock = threading.Lock()


# An optimizer update's C work left running (backend/native_pool.start; Plan._generate)
class _Scope(threading.local):
    keep = False   # in fit's loop: this thread's outermost program may leave the update
                   # running at its end (Function.run clears it while one runs)


scope = _Scope()


@contextlib.contextmanager
def keeping_started(on=True):
    """Within: the outermost graph program run by Function may end with its optimizer
    update's C work still running, joined by the next program (or region) or at the exit.
    For loops whose code between steps reads no weights (fit without per-batch callbacks).
    """
    saved = scope.keep
    scope.keep = bool(on)
    try:
        yield
    finally:
        scope.keep = saved
        _native_pool.join()


def join_started():
    """Finishes C work left running by this thread's last optimizer update, if any."""
    _native_pool.join()


def get_optimizations():
    """The executor's optimization switches (a dict of name -> bool)."""
    return dict(_options)


def set_optimizations(**flags):
    """Turns executor optimizations on or off, e.g. `set_optimizations(inplace=False)`.
    Names: constant_folding, dead_code, fusion, inplace, release, inplace_assign, chains."""
    for k, v in flags.items():
        if k not in _DEFAULTS:
            raise ValueError(f"Unknown graph optimization {k!r}; known: {sorted(_DEFAULTS)}")
        _options[k] = bool(v)


@contextlib.contextmanager
def optimizations(**flags):
    """Context manager: `with tenfold.graph.optimizations(inplace=False): ...`; with
    `all=False` every optimization starts off (then named ones can be turned on)."""
    saved = dict(_options)
    everything = flags.pop("all", None)
    if everything is not None:
        for k in _DEFAULTS:
            _options[k] = bool(everything)
    set_optimizations(**flags)
    try:
        yield get_optimizations()
    finally:
        _options.clear()
        _options.update(saved)


_KEY_ORDER = tuple(sorted(_DEFAULTS))


def options_key():
    return tuple([_options[k] for k in _KEY_ORDER])   # (every compiled call asks)


# The passes that are NumPy-only: fusion into the CPU kernels (strided views, Numba) and
# in-place planning with NumPy `out=` kernels. A graph run on device arrays (CuPy, the CI
# stand-in) gets a plan without them (docs/gpu.md: the GPU's own fusion is future work).
_CPU_ONLY = ("fusion", "inplace", "inplace_assign", "chains")


def device_options():
    """The options of a plan run on a non-NumPy backend's arrays."""
    opts = dict(_options)
    for k in _CPU_ONLY:
        opts[k] = False
    return opts


def _device_asarray(backend):
    """0-d results on a device: kept when already a device array (CuPy's reductions give
    0-d arrays), else made on the device (a NumPy scalar from a host-side kernel)."""
    types = backend.array_types

    def asarray(v):
        if isinstance(v, types):
            return v
        if isinstance(v, (np.ndarray, np.generic, int, float, bool)) and \
                np.asarray(v).dtype != object:  # strings stay on the host, as in TF
            return backend.from_host(np.asarray(v))
        return v
    return asarray


def _device_all(asarray):
    def on_device(values):
        if isinstance(values, (list, tuple)):
            return type(values)(asarray(v) for v in values)
        return values
    return on_device


def device_backend_of(a):
    """The non-NumPy backend owning an input array, or None (host scalars, lists, NumPy)."""
    from tenfold.backend import backend_of
    if not hasattr(a, "shape"):
        return None
    b = backend_of(a)
    return None if b.name == "numpy" else b


# The fusion-only primitives the passes below put in place of op chains (tenfold/ops/fused_ops.py)
relu_grad = _fused.relu_grad
bias_relu = _fused.bias_relu
matmul_bias = _fused.matmul_bias
conv_bias_act_pool = _fused.conv_bias_act_pool
conv_bpf_pooled = _fused.conv_bpf_pooled
conv_bpi_pooled = _fused.conv_bpi_pooled
batch_norm_relu_train = _fused.batch_norm_relu_train
batch_norm_relu_train_grad = _fused.batch_norm_relu_train_grad
batch_norm_add_relu_train = _fused.batch_norm_add_relu_train
# where the BatchNormalization output y sits among the inputs of the ops that read it only
# as the key of the moments its forward kept (after x, just before it)
_BN_KEY_AT = {_fused.batch_norm_stats: 1, _fused.batch_norm_train_grad: 2}


def _reads_only_shape(n, y, p, vals):
    """Whether node n reads y = the input of the pooling whose output is p only for y's shape
    (routing through p's kept argmax; its gradient input has y's dtype, as the argmax
    lookup requires)."""
    route = None if n.multi else n.op.pool_route
    if route is None or p not in n.inputs:
        return False
    y_at, g_at = route
    return n.inputs[y_at] == y and vals[n.inputs[g_at]].dtype == vals[y].dtype


def _index(nodes):
    """({value: index of the node making it}, {value: [indices of the nodes reading it]})."""
    producer, readers = {}, {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            producer[o] = i
        for v in n.inputs:
            readers.setdefault(v, []).append(i)
    return producer, readers


def _use_counts(readers, outputs):
    """How many times each value is read, a graph output counting as a read."""
    uses = {v: len(r) for v, r in readers.items()}
    for v in outputs:
        uses[v] = uses.get(v, 0) + 1
    return uses


def _nbytes(v):
    """A value's size in bytes, or None where a dimension is not a known int."""
    n = v.dtype.itemsize
    for d in v.shape:
        if type(d) is not int:
            return None
        n *= d
    return n


def _hoist_reductions(nodes, kind, values):
    """The node list with each reducing node (its result at most half its largest input:
    a metric's argmax, a loss's sum, a bias gradient) moved up to just after the last node
    making one of its inputs, where those inputs are still in cache. Keras's train step
    updates its metrics after the optimizer, whose pass over every weight and slot has by
    then evicted the predictions: the seed MLP's argmax over its (128, 10) softmax took 17 us
    there, 10 us moved. Only stateless single-output nodes that read no variable move (a
    variable may be written in between), so every value is the same; each moved node's
    readers come later still, so the order stays topological. (Where the update may be left
    running on the pool's helper, update_overlap then moves such nodes past it: its pass
    runs on the other core.)"""
    key_of = {}      # value -> the sort key of the node making it
    keys = []
    for i, n in enumerate(nodes):
        key = (i,)
        if not n.stateful and not n.multi and len(n.outputs) == 1 and n.inputs and \
                all(kind[v] != "var" for v in n.inputs):
            sizes = [_nbytes(values[v]) for v in n.inputs]
            size = _nbytes(values[n.outputs[0]])
            if size is not None and None not in sizes and 2 * size <= max(sizes):
                # just after its latest input's producer (inputs of the graph: first)
                key = max([key_of.get(v, (-1,)) for v in n.inputs]) + (i,)
        keys.append(key)
        for o in n.outputs:
            key_of[o] = key
    order = sorted(range(len(nodes)), key=keys.__getitem__)
    out = [nodes[i] for i in order]
    return out


class _Uses:
    """Who makes and who reads each value of a node list, for the pattern rewrites (the
    list is read live: rewrites in place are seen)."""

    def __init__(self, nodes, outputs):
        self.nodes = nodes
        self.producer, self.readers = _index(nodes)
        self.uses = _use_counts(self.readers, outputs)

    def sole_producer(self, v, op_name=None, skip=()):
        """The index of the single-output node making v when nothing else reads v (and the
        node runs `op_name`, if given, and is not in `skip`), else None: a node a rewrite
        may absorb."""
        j = self.producer.get(v)
        if j is None or j in skip or self.uses.get(v) != 1 or self.nodes[j].multi or \
                (op_name is not None and self.nodes[j].op.name != op_name):
            return None
        return j


def _is_2x2_valid(params):
    return tuple(params["ksize"]) == (2, 2) and tuple(params["strides"]) == (2, 2) and \
        tuple(params["dilations"]) == (1, 1) and \
        not any(a or b for a, b in params["pads"])


def _rewrite_through_pool(n, name, vals, y, p, g, jit=False):
    """The node n reading dz = max_pool_grad(y, p, g), rewritten to read g (or None)."""
    vy, vg = vals[y], vals[g]
    if vy.dtype != vg.dtype or vg.dtype.kind != "f" or vg.dtype.itemsize < 4:
        return None
    if name in ("conv_backprop_filter", "conv_backprop_input"):
        prm = n.params
        if prm.get("groups", 1) != 1 or any(s != 1 for s in prm["strides"]) or \
                any(d != 1 for d in prm["dilations"]) or len(vy.shape) != 4:
            return None
        cropped = tuple(vy.shape[1:3]) != tuple(2 * d for d in vals[p].shape[1:3]) and \
            not any(a or b for a, b in prm["pads"])
        if name == "conv_backprop_input":
            w = n.inputs[1]
            if not cropped or vals[w].dtype != vg.dtype:
                return None
            return _PNode(conv_bpi_pooled, (y, p, g, w),
                          {"x_shape": tuple(prm["x_shape"]), "pads": prm["pads"], "jit": jit},
                          n.outputs, False, False)
        x = n.inputs[0]
        w_shape = tuple(prm["w_shape"])
        small = w_shape[0] * w_shape[1] * w_shape[2] <= _conv_ops().POOLED_FILTER_MAX
        if not (small or cropped) or vals[x].dtype != vg.dtype:
            return None
        return _PNode(conv_bpf_pooled, (x, y, p, g),
                      {"w_shape": w_shape, "pads": prm["pads"], "jit": jit},
                      n.outputs, False, False)
    if name == "reduce_sum":
        axis = n.params.get("axis")
        if type(axis) is not tuple or tuple(axis) != (0, 1, 2):
            return None
    return _PNode(n.op, (g,), n.params, n.outputs, False, False)


def _conv_ops():
    from tenfold.ops import conv_ops
    return conv_ops


# ------------------------------------------------------------------------------------------

class Plan:
    """A graph compiled for one set of options (see the module docstring)."""

    _counter = itertools.count()

    def __init__(self, graph, const_values, options=None, backend=None):
        self.graph = graph
        self.options = dict(_options if options is None else options)
        self.backend = backend  # a non-NumPy backend: the plan's constants are copied there
        self._const_values = const_values
        self._build()

    # ---------------------------------------------------------------- passes
    def _build(self):
        g = self.graph
        opt = self.options
        values = g.values
        # the value table the plan uses: constants folded in place of their nodes
        kind = [v.kind for v in values]
        const = {i: v.payload for i, v in enumerate(values) if v.kind == "const"}
        nodes = []
        for n in g.nodes:
            if opt["constant_folding"] and not n.stateful and \
                    all(o in self._const_values for o in n.outputs):
                for o in n.outputs:
                    kind[o] = "const"
                    const[o] = self._const_values[o]
                continue
            nodes.append(_PNode(n.op, n.inputs, n.params, n.outputs, n.multi, n.stateful))
        outputs = list(g.outputs)
        self.jit = opt["fusion"] and getattr(g, "jit", False) and _fused._jit_ok()
        if opt["fusion"]:
            nodes = self._fuse(nodes, kind, const, outputs)
            if self.backend is None and not self.jit:
                nodes = _loss_fusion.fuse_softmax_xent(nodes, kind, g.values)
                nodes = self._fuse_matmul_bias(nodes, outputs)
                nodes = self._fuse_dense_relu(nodes, outputs)
            nodes = self._fuse_pooled_grads(nodes)
            if self.backend is None:
                nodes = self._fuse_conv_bias_grads(nodes)
            nodes = self._fuse_conv_pool(nodes, outputs)
            nodes = self._fuse_bn_relu(nodes, outputs)
            if self.jit:
                nodes = self._fuse_jit(nodes, outputs)
        if opt["dead_code"]:
            live = set(outputs)
            kept = []
            for n in reversed(nodes):
                if n.stateful or any(o in live for o in n.outputs):
                    kept.append(n)
                    live.update(n.inputs)
            nodes = kept[::-1]
        if opt.get("chains") and not self.jit:  # elementwise chains: one node, one buffer
            nodes = _elementwise.fuse_chains(nodes, g.values, outputs)
        if opt["fusion"]:
            nodes = _hoist_reductions(nodes, kind, g.values)
            if self.backend is None:   # work an optimizer update leaves running: overlapped
                nodes = _update_overlap.move_after_update(nodes, kind, g.values)
        self.nodes = nodes
        self.kind = kind
        if self.backend is not None:  # constants live where the graph runs (as TF places them)
            const = {i: self.backend.from_host(c) if type(c) is np.ndarray else c
                     for i, c in const.items()}
        self.const = const
        self.outputs = outputs
        self._plan_buffers()
        self._generate()

    def _fuse(self, nodes, kind, const, outputs):
        """Pattern rewrites. Now: multiply(g, cast(greater(y, 0))) -> relu_grad(g, y)."""
        use = _Uses(nodes, outputs)
        dead = set()
        for i, n in enumerate(nodes):
            if n.multi or n.op.name != "multiply" or len(n.inputs) != 2:
                continue
            for gi, ci in ((0, 1), (1, 0)):
                g_v, c_v = n.inputs[gi], n.inputs[ci]
                j = use.sole_producer(c_v, "cast")
                if j is None:
                    continue
                b_v = nodes[j].inputs[0]
                k = use.sole_producer(b_v, "greater")
                if k is None:
                    continue
                y_v, zero_v = nodes[k].inputs
                z = const.get(zero_v) if kind[zero_v] == "const" else None
                vals = self.graph.values
                if z is None or np.ndim(z) > len(vals[y_v].shape) or np.any(z != 0) or \
                        vals[y_v].dtype != vals[g_v].dtype or \
                        vals[g_v].shape != vals[n.outputs[0]].shape or \
                        vals[y_v].shape != vals[g_v].shape or vals[g_v].dtype.kind != "f":
                    continue
                nodes[i] = _PNode(relu_grad, (g_v, y_v), {}, n.outputs, False, False)
                dead.update((j, k))
                break
        return [n for i, n in enumerate(nodes) if i not in dead]

    def _fuse_matmul_bias(self, nodes, outputs):
        """add(reshape(matmul(a, w)), b) and add(matmul(a, w), b), a Dense layer's product
        and bias, -> matmul_bias(a, w, b, shape) in the add's place: the bias goes in as the
        GEMM stores its rows instead of in a pass of its own over the output (the same
        numbers). a and w 2-D, b's shape the output's tail holding the product's N columns;
        the product and the reshape read by the add only."""
        vals = self.graph.values
        use = _Uses(nodes, outputs)
        dead = set()
        for k, n in enumerate(nodes):
            if n.multi or n.op.name != "add" or len(n.inputs) != 2:
                continue
            for yi in (0, 1):
                y_v, b_v = n.inputs[yi], n.inputs[1 - yi]
                j = use.sole_producer(y_v, skip=dead)
                if j is None:
                    continue
                i, r = j, None
                if nodes[j].op.name == "reshape":
                    i, r = use.sole_producer(nodes[j].inputs[0], skip=dead), j
                    if i is None:
                        continue
                mm = nodes[i]
                if mm.op.name != "matmul" or mm.params.get("transpose_a") or \
                        set(mm.params) - {"transpose_a", "transpose_b"}:
                    continue
                a_v, w_v = mm.inputs
                va, vw, vm = vals[a_v], vals[w_v], vals[mm.outputs[0]]
                vb, vo = vals[b_v], vals[n.outputs[0]]
                shape = tuple(vo.shape)
                nb = len(vb.shape)
                if len(va.shape) != 2 or len(vw.shape) != 2 or len(vm.shape) != 2 or \
                        nb < 1 or nb > len(shape) or tuple(vb.shape) != shape[-nb:] or \
                        tuple(vals[y_v].shape) != shape or \
                        not all(type(d) is int for d in shape + tuple(vm.shape)) or \
                        int(np.prod(vb.shape)) != vm.shape[1] or \
                        not (va.dtype == vw.dtype == vb.dtype == vo.dtype == vm.dtype) or \
                        va.dtype not in (np.float32, np.float64):
                    continue
                nodes[k] = _PNode(matmul_bias, (a_v, w_v, b_v),
                                  {"transpose_b": bool(mm.params.get("transpose_b")),
                                   "shape": shape}, n.outputs, False, False)
                dead.add(i)
                if r is not None:
                    dead.add(r)
                break
        return [n for i, n in enumerate(nodes) if i not in dead]

    def _fuse_dense_relu(self, nodes, outputs):
        """relu(matmul_bias(a, w, b)) -> matmul_bias(a, w, b, relu=True) in the relu's place,
        where the relu is the product's only reader and no stateful node runs between them:
        the bias and the ReLU then take one pass over the output after the GEMM instead of
        two (kernels.bias_relu; the same numbers). The seed MLP's (128, 512) layer, in its
        fit (in-place per-node clocks): bias pass 37 us + relu 17 -> 35."""
        use = _Uses(nodes, outputs)
        dead = set()
        stateful = [i for i, n in enumerate(nodes) if n.stateful]
        for k, n in enumerate(nodes):
            if n.multi or n.op.name != "relu" or len(n.inputs) != 1 or n.params:
                continue
            j = use.sole_producer(n.inputs[0], "matmul_bias", skip=dead)
            if j is None or nodes[j].params.get("relu") or any(j < i < k for i in stateful):
                continue
            mb = nodes[j]
            nodes[k] = _PNode(matmul_bias, mb.inputs, {**mb.params, "relu": True}, n.outputs,
                              False, False)
            dead.add(j)
        return [n for i, n in enumerate(nodes) if i not in dead]

    def _fuse_conv_bias_grads(self, nodes):
        """conv_backprop_filter(x, dz) and bias_backprop(dz) of one convolution -> one
        conv_backprop_filter(x, dz, with_bias=True) making both (dw, db), at the earlier
        node's place: the filter kernel's chunks sum their rows of dz while those are in
        cache, instead of the bias gradient's own pass over dz from memory (ResNet-20's 21
        bias gradients: 3.8 ms of its 86 ms step). db is the sum of chunk sums added in
        order, within float rounding of the one-GEMV sum (the same whatever the threads)."""
        producer, readers = _index(nodes)
        nodes = list(nodes)
        for b, nb in enumerate(nodes):
            if nb is None or nb.multi or nb.op.name != "bias_backprop":
                continue
            dz = nb.inputs[0]
            filters = [k for k in readers.get(dz, []) if nodes[k] is not None and
                       not nodes[k].multi and nodes[k].op.name == "conv_backprop_filter" and
                       nodes[k].inputs[1] == dz and not nodes[k].params.get("with_bias") and
                       nodes[k].params.get("groups", 1) == 1]
            vdz = self.graph.values[dz]
            if len(filters) != 1 or vdz.dtype != np.float32 or len(vdz.shape) != 4:
                continue
            k = filters[0]
            nf = nodes[k]
            at = min(k, b)
            if producer.get(nf.inputs[0], -1) >= at:
                continue   # x is made after the bias gradient: keep both where they are
            fused = _PNode(nf.op, nf.inputs, dict(nf.params, with_bias=True),
                           (nf.outputs[0], nb.outputs[0]), True, False)
            nodes[at] = fused
            nodes[max(k, b)] = None
        return [n for n in nodes if n is not None]

    def _fuse_pooled_grads(self, nodes):
        """Gradients that flow back through 2x2 stride-2 max pooling, dz =
        max_pool_grad(y, out, g): a bias gradient (sum of dz over all axes but the last)
        becomes the same sum of g (the scatter keeps sums; 4x fewer elements), and a small
        stride-1 conv's filter gradient from dz becomes conv_backprop_filter_pooled, which
        never makes dz (see kernels.conv_backprop_filter_pooled). max_pool_grad then often
        has no reader left and dead-code removal drops it."""
        vals = self.graph.values
        producer, _ = _index(nodes)
        out = []
        readers = _fused.pooled_grad_readers()
        for n in nodes:
            at = None if n.multi else readers.get(n.op)
            if at is not None:
                name = n.op.name
                d = n.inputs[at]
                pg = None if producer.get(d) is None else nodes[producer[d]]
                if pg is not None and not pg.multi and pg.op.name == "max_pool_grad" and \
                        _is_2x2_valid(pg.params) and len(vals[d].shape) == 4:
                    y, p, g = pg.inputs
                    n = _rewrite_through_pool(n, name, vals, y, p, g, self.jit) or n
            out.append(n)
        return out

    def _fuse_conv_pool(self, nodes, outputs):
        """y = conv_bias_act(x, w, b) (stride 1) then out = max_pool(y) (2x2 stride 2,
        keeping its argmax) -> one conv_bias_act_pool node, when every other reader of y is
        a gradient through that pooling that needs only y's shape and the argmax: the
        conv's output is pooled while in cache and never written (conv_ops)."""
        vals = self.graph.values
        producer, readers = _index(nodes)
        pinned = set(outputs)
        replace, dead, masked = {}, set(), set()
        for i, n in enumerate(nodes):
            if n.multi or n.op.name != "max_pool" or not n.params.get("keep_argmax") or \
                    not _is_2x2_valid(n.params):
                continue
            y = n.inputs[0]
            j = producer.get(y)
            if j is None or y in pinned or nodes[j].multi or \
                    nodes[j].op.name != "conv_bias_act":
                continue
            a = nodes[j]
            prm = a.params
            vy = vals[y]
            if len(vy.shape) != 4 or vy.dtype not in _kernels.FLOAT_DTYPES or \
                    prm.get("groups", 1) != 1 or any(s != 1 for s in prm["strides"]) or \
                    any(d != 1 for d in prm["dilations"]) or \
                    any(vals[v].dtype != vy.dtype for v in a.inputs):
                continue
            p = n.outputs[0]
            if not all(k == i or _reads_only_shape(nodes[k], y, p, vals)
                       for k in readers.get(y, ())):
                continue
            replace[j] = _PNode(conv_bias_act_pool, a.inputs,
                                {"pads": prm["pads"], "relu": bool(prm.get("relu")),
                                 "jit": self.jit}, (y, p), True, False)
            dead.add(i)
            if prm.get("relu"):
                masked.add(p)
        nodes = [replace.get(i, n) for i, n in enumerate(nodes) if i not in dead]
        return self._drop_relu_masks(nodes, masked) if masked else nodes

    def _drop_relu_masks(self, nodes, masked):
        """After conv_bias_act_pool with ReLU, whose argmax marks the windows the ReLU
        zeroes (kernels.mask_argmax_by_relu): gradient routing through that argmax reads
        the pooled gradient itself instead of relu_backprop(g, out), and the bias gradient,
        the sum of the masked gradient, comes out of the filter gradient's GEMM (a column of
        ones). relu_backprop and bias_backprop then have no reader left."""
        _, readers = _index(nodes)
        nodes = list(nodes)
        for r in [n for n in nodes if not n.multi and n.op.name == "relu_backprop" and
                  n.inputs[1] in masked]:
            dp, p = r.inputs
            t = r.outputs[0]
            users = readers.get(t, [])
            if self.graph.values[dp].dtype != self.graph.values[t].dtype:
                continue
            routes = [k for k in users if not nodes[k].multi and
                      nodes[k].op.pool_route is not None and p in nodes[k].inputs and
                      nodes[k].inputs[nodes[k].op.pool_route[1]] == t]
            sums = [k for k in users if nodes[k].op.name == "bias_backprop"]
            filters = [k for k in routes if nodes[k].op.name == "conv_backprop_filter_pooled"]
            if len(routes) + len(sums) != len(users) or len(sums) > 1 or \
                    (sums and len(filters) != 1):
                continue
            for k in routes:
                n = nodes[k]
                nodes[k] = _PNode(n.op, tuple(dp if v == t else v for v in n.inputs),
                                  n.params, n.outputs, False, False)
            if sums:
                k, b = filters[0], sums[0]
                db = nodes[b].outputs[0]
                if any(u <= k for u in readers.get(db, [])):
                    continue  # the bias gradient is read before the filter gradient is made
                n = nodes[k]
                nodes[k] = _PNode(n.op, n.inputs, dict(n.params, with_bias=True),
                                  (n.outputs[0], db), True, False)
                nodes[b] = None
        return [n for n in nodes if n is not None]

    def _fuse_bn_relu(self, nodes, outputs):
        """r = relu(y), y = batch_norm_train(x, gamma, beta) -> r = batch_norm_relu_train(x,
        gamma, beta), and r = relu(add(y, s)) (s of y's shape, made before y: a residual
        block's end) -> r = batch_norm_add_relu_train(x, gamma, beta, s), when y's other
        readers are batch_norm_stats(x, y) and batch_norm_train_grad(g, x, y, gamma), which
        use y only as the key of the moments the forward kept: they read r instead, and y is
        never made. Then batch_norm_train_grad(relu_grad(g, r), x, r, gamma) ->
        batch_norm_relu_train_grad(g, x, r, gamma) when the masked gradient has no other
        reader (fused_ops)."""
        vals = self.graph.values
        use = _Uses(nodes, outputs)
        producer, readers = use.producer, use.readers
        pinned = set(outputs)
        replace, dead, swap = {}, set(), {}

        def bn_of(y, reader):
            """The batch_norm_train node making y, if `reader` and the key readers are all
            that read y."""
            j = producer.get(y)
            if j is None or y in pinned or nodes[j].multi or \
                    nodes[j].op.name != "batch_norm_train" or j in replace:
                return None
            x = nodes[j].inputs[0]
            for k in readers.get(y, ()):
                rd = nodes[k]
                at = None if rd.multi else _BN_KEY_AT.get(rd.op)
                if k != reader and (at is None or rd.inputs[at] != y or
                                    rd.inputs[at - 1] != x or list(rd.inputs).count(y) != 1):
                    return None
            return j

        for i, n in enumerate(nodes):
            if n.multi or n.op.name != "relu" or len(n.inputs) != 1:
                continue
            a = n.inputs[0]
            r = n.outputs[0]
            j = bn_of(a, i)
            if j is not None:
                y, op, ins, gone = a, batch_norm_relu_train, nodes[j].inputs, (i,)
            else:  # relu(add(y, s))
                ja = use.sole_producer(a, "add")
                if ja is None or a in pinned or len(nodes[ja].inputs) != 2:
                    continue
                p, q = nodes[ja].inputs
                for y, s_ in ((p, q), (q, p)):
                    j = bn_of(y, ja) if y != s_ else None
                    if j is not None and vals[s_].shape == vals[y].shape == vals[r].shape and \
                            vals[s_].dtype == vals[y].dtype and \
                            producer.get(s_, -1) < j:
                        break
                else:
                    continue
                op, ins, gone = batch_norm_add_relu_train, tuple(nodes[j].inputs) + (s_,), (i, ja)
            replace[j] = _PNode(op, tuple(ins), nodes[j].params, (r,), False, False)
            dead.update(gone)
            for k in readers.get(y, ()):
                if k not in gone:
                    swap[k] = (y, r)
        if not replace:
            return nodes
        for k, (y, r) in swap.items():
            n = nodes[k]
            nodes[k] = _PNode(n.op, tuple(r if v == y else v for v in n.inputs), n.params,
                              n.outputs, False, False)
        nodes = [replace.get(i, n) for i, n in enumerate(nodes) if i not in dead]
        fused_out = {n.outputs[0] for n in nodes
                     if n.op is batch_norm_relu_train or n.op is batch_norm_add_relu_train}
        use = _Uses(nodes, outputs)
        dead = set()
        for k, n in enumerate(nodes):
            if n.multi or n.op.name != "batch_norm_train_grad" or n.inputs[2] not in fused_out:
                continue
            gy, x, r, gamma = n.inputs
            p = use.sole_producer(gy)
            if p is None or nodes[p].op is not relu_grad or nodes[p].inputs[1] != r:
                continue
            nodes[k] = _PNode(batch_norm_relu_train_grad, (nodes[p].inputs[0], x, r, gamma),
                              n.params, n.outputs, False, False)
            dead.add(p)
        return [n for i, n in enumerate(nodes) if i not in dead]

    def _fuse_jit(self, nodes, outputs):
        """With jit_compile and Numba: relu(add(x, b)) -> bias_relu(x, b) in one pass."""
        vals = self.graph.values
        use = _Uses(nodes, outputs)
        dead = set()
        for i, n in enumerate(nodes):
            if n.multi or n.op.name != "relu":
                continue
            a = n.inputs[0]
            j = use.sole_producer(a, "add")
            if j is None:
                continue
            x, b = nodes[j].inputs
            vx, vb, vo = vals[x], vals[b], vals[n.outputs[0]]
            if len(vb.shape) != 1 or len(vx.shape) < 1 or vx.shape[-1] != vb.shape[0] or \
                    vx.shape != vo.shape or vx.dtype != vb.dtype or \
                    vx.dtype not in (np.float32, np.float64):
                continue
            nodes[i] = _PNode(bias_relu, (x, b), {}, n.outputs, False, False)
            dead.add(j)
        return [n for i, n in enumerate(nodes) if i not in dead]

    def _plan_buffers(self):
        """Liveness, release points and in-place buffer choices."""
        values = self.graph.values
        nodes = self.nodes
        n_nodes = len(nodes)
        last_use = {}
        for i, n in enumerate(nodes):
            for v in n.inputs:
                last_use[v] = i
        INF = n_nodes + 1
        pinned_roots = set()
        for v in self.outputs:
            last_use[v] = INF
            pinned_roots.update(values[v].roots)
        for n in nodes:
            if n.op.name == "assign":
                pinned_roots.update(values[n.inputs[1]].roots)
        # a buffer (root) lives while any value that may share it is still to be read
        root_last = {}
        for v, i in last_use.items():
            for r in values[v].roots or (v,):
                if root_last.get(r, -1) < i:
                    root_last[r] = i
        for r in pinned_roots:
            root_last[r] = INF
        producer_prim = {}
        for n in nodes:
            for o in n.outputs:
                producer_prim[o] = None if n.multi else n.op

        def fresh(p):  # a newly allocated array, per the primitive's declaration
            return p is not None and p.aliasing == "fresh"

        def owned(u):
            """u's buffer belongs to graph values only (no input, constant or variable)."""
            vu = values[u]
            if self.kind[u] != "op" or len(vu.shape) == 0:
                return False
            p = producer_prim.get(u)
            if not fresh(p) and not (p is not None and p.writable_view):
                return False
            for r in vu.roots:
                if r != u and (self.kind[r] != "op" or not fresh(producer_prim.get(r))):
                    return False
            return True

        def dies_at(u, i):
            return all(root_last.get(r, -1) == i for r in values[u].roots)

        self.donor = {}       # node index -> value id whose buffer receives the output
        self.free_after = [[] for _ in range(n_nodes)]
        taken_roots = set()

        def taken(u):
            return any(r in taken_roots for r in values[u].roots)

        def take(u):
            taken_roots.update(values[u].roots)

        if self.options["inplace"]:
            pool = {}         # (shape, dtype) -> value ids of owned buffers nobody reads again
            for i, n in enumerate(nodes):
                op = None if n.multi else n.op
                if op is not None and op.out_kernel is not None:
                    o = n.outputs[0]
                    vo = values[o]
                    choice = None
                    if op.inplace:  # elementwise: may write over a dying input
                        # (`inplace` may name the input positions allowed: chain nodes)
                        for u in (n.inputs if op.inplace is True else
                                  [n.inputs[k] for k in op.inplace]):
                            vu = values[u]
                            if not taken(u) and owned(u) and dies_at(u, i) \
                                    and vu.shape == vo.shape and vu.dtype == vo.dtype:
                                choice = u
                                break
                    if choice is None and len(vo.shape) > 0 and o not in pinned_roots:
                        lst = pool.get((vo.shape, vo.dtype))
                        if lst:
                            choice = lst.pop()
                    if choice is not None:
                        self.donor[i] = choice
                        take(choice)
                # buffers whose last reader is this node can take a later node's output
                for u in set(n.inputs):
                    if not taken(u) and owned(u) and dies_at(u, i):
                        pool.setdefault((values[u].shape, values[u].dtype), []).append(u)
                        take(u)  # in the pool: given to at most one later node
        if self.options["release"]:
            for v, i in last_use.items():
                if i < INF and self.kind[v] == "op":
                    self.free_after[i].append(v)
        self.used = set(last_use)

    # ---------------------------------------------------------------- code generation
    def _generate(self, profile=False):
        values = self.graph.values
        env = {"_asarray": np.asarray if self.backend is None else _device_asarray(self.backend),
               "__name__": __name__}  # NumPy warnings from the generated code are tenfold's
        if profile:
            import time
            env["_clock"] = time.perf_counter
            env["_times"] = self._times = [0.0] * len(self.nodes)
        lines = ["def run(args, keep=False):"]
        self._line_node = {}
        # C work an optimizer update leaves running (backend/native_pool.start): joined at
        # the start of any run, before a later node that reads what it touches, and at the
        # end unless the caller keeps it (Function.run inside fit's loop: keeping_started)
        updates = _update_overlap.updates(self.nodes) if self.backend is None else []
        leaves_running = bool(updates)
        if self.backend is None:
            env.update(_pending=_native_pool._pending, _join=_native_pool.join,
                       _guard=_native_pool.guard, _allow=_native_pool.allow_start,
                       _tid=threading.get_ident)
            lines.append("    if _pending[0] is not None: _join()")
        ins = self.graph.inputs
        if ins:
            names = ", ".join(f"v{v}" for v in ins)
            lines.append(f"    {names}, = args" if len(ins) == 1 else f"    {names} = args")

        def ref(v):
            k = self.kind[v]
            if k == "const":
                env[f"c{v}"] = self.const[v]
                return f"c{v}"
            if k == "var":
                env[f"V{v}"] = values[v].payload
                return f"V{v}._value"
            return f"v{v}"

        # a buffer given to a later node (from the pool) keeps its name until that node
        given_at = {u: i for i, u in self.donor.items()}
        if leaves_running:   # the values (and variables) a guard must look at
            shared = _update_overlap.shared_with_update(self.nodes, self.kind, values,
                                                        self.graph.inputs, self.donor)
            writes = _update_overlap.written(self.nodes, updates)
        guarding = False   # after a node that may leave C work running
        for i, n in enumerate(self.nodes):
            args = [ref(v) for v in n.inputs]
            if guarding:
                if n.stateful and (n.multi or getattr(n.op, "runs_python", False)):
                    lines.append("    _join()")   # a Python call: effects the plan cannot see
                else:
                    # only what may share memory with the update's arrays (a value
                    # that cannot is neither read nor written by its C work)
                    seen = [a for v, a in zip(n.inputs, args) if v in shared]
                    seen += [f"p{i}_{pk}" for pk, pv in n.params.items()
                             if hasattr(pv, "_value") and
                             _update_overlap.writes_variable(writes, pv)]
                    if self.donor.get(i) is not None and self.donor[i] in shared:
                        seen.append(f"v{self.donor[i]}")
                    if seen:
                        lines.append(f"    _guard({', '.join(seen)})")
            kname = f"k{i}"
            pnames = []
            for pk, pv in n.params.items():
                gname = f"p{i}_{pk}"
                env[gname] = pv
                pnames.append(f"{pk}={gname}")
            d = self.donor.get(i)
            op = n.op
            jit_kernel = getattr(op, "jit_kernel", None) if self.jit else None
            if d is not None:
                env[kname] = op.out_kernel
                if jit_kernel is not None and jit_kernel[1] is not None:
                    env[kname] = jit_kernel[1]
                call = f"{kname}({', '.join(args + pnames + [f'out=v{d}'])})"
            elif jit_kernel is not None:
                env[kname] = jit_kernel[0]
                call = f"{kname}({', '.join(args + pnames)})"
            elif self.options["inplace_assign"] and getattr(op, "inplace_kernel", None):
                env[kname] = op.inplace_kernel
                call = f"{kname}({', '.join(args + pnames)})"
            else:
                env[kname] = n.op.kernel
                if self.backend is not None and getattr(op, "kernels", None):
                    env[kname] = op.kernels.get(self.backend.name, n.op.kernel)
                call = f"{kname}({', '.join(args + pnames)})"
            outs = [f"v{o}" if o in self.used else "_" for o in n.outputs]
            if self.backend is not None:
                # on a device, host results (random draws, shapes, creation ops) are copied over
                # as the eager dispatch does (registry._call_general)
                call = f"_on_device({call})" if n.multi else f"_asarray({call})"
                env["_on_device"] = _device_all(env["_asarray"])
            if n.multi:
                if not outs:
                    line = f"    {call}"
                elif len(outs) == 1:
                    line = f"    {outs[0]}, = {call}"
                else:
                    line = f"    {', '.join(outs)} = {call}"
            else:
                o = n.outputs[0]
                if o not in self.used:
                    line = f"    {call}"
                else:
                    if len(values[o].shape) == 0 and d is None and self.backend is None:
                        call = f"_asarray({call})"
                    line = f"    v{o} = {call}"
            leaves = leaves_running and getattr(op, "may_leave_running", False)
            pad = "    " if leaves else ""
            if leaves:   # the update may start its C work and return (allowed for this call)
                lines.append("    _allow[0] = _tid()")
                lines.append("    try:")
            if profile:
                lines.append(pad + "    _t0 = _clock()")
            lines.append(pad + line)
            self._line_node[len(lines)] = i
            if profile:
                lines.append(pad + f"    _times[{i}] += _clock() - _t0")
            if leaves:
                lines.append("    finally:")
                lines.append("        _allow[0] = 0")
                guarding = True
            frees = set(v for v in self.free_after[i] if v not in n.outputs and
                        not (v in given_at and given_at[v] > i))
            if d is not None and d not in n.inputs:
                frees.add(d)  # a pooled buffer now lives on as this node's output
            if n.multi and "_" in outs:
                frees.add("_")
            if frees:
                lines.append("    del " + ", ".join(sorted(
                    "_" if v == "_" else f"v{v}" for v in frees)))
        outs = []
        for v in self.outputs:
            outs.append(ref(v) if self.kind[v] != "var" else f"V{v}._value.copy()")
        if guarding:
            seen = [ref(v) for v in self.outputs if v in shared]
            if seen:
                lines.append(f"    _guard({', '.join(seen)})")
            lines.append("    if not keep: _join()")
        lines.append(f"    return [{', '.join(outs)}]")
        src = "\n".join(lines) + "\n"
        self.source = src
        fname = f"<tenfold graph {next(Plan._counter)}: {self.graph.name}>"
        self._filename = fname
        code = compile(src, fname, "exec")
        linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
        exec(code, env)
        if profile:
            return env["run"]
        self.run = env["run"]
        # the device backend's hook on a compiled step (docs/gpu.md): it may replace the
        # generated run (e.g. CUDA graph capture and replay once shapes are stable)
        hook = getattr(self.backend, "wrap_plan", None) if self.backend is not None else None
        if hook is not None:
            self.run = hook(self, self.run)

    def profile(self, args, repeat=100):
        """Runs the plan `repeat` times on `args` (arrays) with a clock around each node;
        returns [(seconds per run, node description)], slowest first."""
        run = self._generate(profile=True)
        self._generate()
        for _ in range(repeat):
            run(args)
        vals = self.graph.values
        out = []
        for n, t in zip(self.nodes, self._times):
            shapes = " ".join(str(tuple(vals[v].shape)) for v in n.inputs)
            out.append((t / repeat, f"{n.op.name} {shapes}"))
        return sorted(out, reverse=True)

    # ---------------------------------------------------------------- errors
    def translate_error(self, exc):
        """An exception from the generated code, re-raised naming the op that failed."""
        tb = exc.__traceback__
        node = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                node = self._line_node.get(tb.tb_lineno)
            tb = tb.tb_next
        if node is None or isinstance(exc, InvalidArgumentError):
            return exc
        n = self.nodes[node]
        values = self.graph.values
        shapes = ", ".join(f"{values[v].dtype}{list(values[v].shape)}" for v in n.inputs)
        if isinstance(exc, (ValueError, IndexError, np.linalg.LinAlgError)):
            return InvalidArgumentError(f"{n.op.name} (in graph {self.graph.name}) cannot run "
                                        f"on inputs {shapes}: {exc}")
        if isinstance(exc, MemoryError) and self.backend is not None and \
                not isinstance(exc, ResourceExhaustedError):  # the device ran out of memory
            return out_of_device_memory(f"{n.op.name} (in graph {self.graph.name})", shapes,
                                        self.backend.device_name(0), exc)
        return exc

    def __repr__(self):
        return self.source


class _PNode:
    __slots__ = ("op", "inputs", "params", "outputs", "multi", "stateful")

    def __init__(self, op, inputs, params, outputs, multi, stateful):
        self.op = op
        self.inputs = inputs
        self.params = params
        self.outputs = outputs
        self.multi = multi
        self.stateful = stateful
