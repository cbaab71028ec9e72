"""Tensor-dependent control flow: `tf.cond`, `tf.while_loop`, `tf.case`, `tf.switch_case`.

Eagerly they are plain Python (`if` / `while`), so a GradientTape records the branch or the
iterations that ran. Inside a tf.function, when the predicate depends on the function's
inputs, each branch (or the loop's condition and body) is traced into its own sub-graph and
the call becomes one graph node that picks a branch / iterates when the graph runs.

Gradients inside graphs: the node's gradient runs the branch (or the loop from its initial
values) again under a tape and back-propagates through it, so `tf.cond` gives the gradient of
the branch taken and `tf.while_loop` is differentiable for any number of iterations.
"""
import numpy as np

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.variable import Variable
from tenfold.graph import tracer as _tracer
from tenfold.graph.graph import MultiOp
from tenfold.graph import executor as _executor
from tenfold.util import nest

_wrap = Tensor._wrap


class _SubGraph:
    """A traced branch / loop body: graph, plan cache, and the outer tensors it reads."""

    def __init__(self, graph, const_values, captures, template, kinds):
        self.graph = graph
        self.const_values = const_values
        self.captures = captures      # outer tensors, in the order of the graph's capture inputs
        self.template = template      # returned structure (leaves None)
        self.kinds = kinds            # per leaf: graph output index or ("py", value)
        self.plans = {}

    def run(self, arrays):
        key = _executor.options_key()
        p = self.plans.get(key)
        if p is None:
            p = self.plans[key] = _executor.Plan(self.graph, self.const_values)
        return p.run(arrays)   # (keep=False: a branch or loop body joins what it started)

    def replay(self, tensors):
        return self.graph.replay(tensors)

    @property
    def stateful(self):
        return any(n.stateful for n in self.graph.nodes)


def _to_tensor(x):
    if isinstance(x, Variable):
        return x
    if isinstance(x, Tensor):
        return x
    return convert_to_tensor(x)


def _trace_sub(fn, parent, inputs, name):
    """Traces `fn(*placeholders)` into a sub-graph of `parent` (not executed for real:
    variables it assigns are restored)."""
    from tenfold.graph.function import _flatten, _unflatten
    sub = _tracer.Tracer(parent=parent, dry_run=True, name=name)
    placeholders = []
    for t in inputs:
        p = _wrap(t._value)
        sub.add_input(p)
        placeholders.append(p)
    n_in = len(placeholders)
    with _tracer.tracing(sub, exclusive=True):
        result = fn(*placeholders)
        leaves = []
        _flatten(result, leaves, "", None)
        kinds = []
        real = []
        for o in leaves:
            if isinstance(o, (Tensor, np.ndarray, float, int, bool, np.generic)) and \
                    not isinstance(o, str):
                o = _to_tensor(o)
                if isinstance(o, Variable):
                    from tenfold.graph import effects
                    o = effects.read_value(o)
                sub.graph.outputs.append(sub.output_id(o, failed_ok=True))
                kinds.append(len(sub.graph.outputs) - 1)
                real.append(o)
            else:
                kinds.append(("py", o))
                real.append(o)
    sub.restore_variables()
    sub.prune_failed()
    captures = list(sub._capture_src)
    template = _unflatten(result, [None] * len(leaves))
    graph = sub.graph
    sg = _SubGraph(graph, sub.const_values, captures, template, kinds)
    sg.n_inputs = n_in
    sg.out_specs = [(graph.values[v].shape, graph.values[v].dtype) for v in graph.outputs]
    sub.release()
    return sg


def _variables_read(*sgs):
    """Trainable variables the sub-graphs read: extra inputs of the node, so that tapes
    differentiate with respect to them."""
    out, seen = [], set()
    for sg in sgs:
        for v in sg.graph.values:
            if v.kind == "var" and id(v.payload) not in seen and \
                    getattr(v.payload, "trainable", False) and _differentiable(v.payload):
                seen.add(id(v.payload))
                out.append(v.payload)
    return out


def _pack(sg, out_tensors):
    from tenfold.graph.function import _unflatten
    leaves = [out_tensors[k] if type(k) is int else k[1] for k in sg.kinds]
    return _unflatten(sg.template, leaves)


def _zeros_for(t):
    return np.zeros(t._value.shape, t._value.dtype if t._value.dtype.kind in "fc" or
                    t._value.dtype.name == "bfloat16" else np.float32)


def _differentiable(t):
    k = t._value.dtype
    return k.kind in "fc" or k.name == "bfloat16"


# ------------------------------------------------------------------------------------------
# cond

def cond(pred, true_fn=None, false_fn=None, name=None):
    """`true_fn()` if `pred` else `false_fn()`; inside tf.function, chosen when the graph runs.

    Both branches must return the same structure, dtypes and (inside tf.function) shapes.
    """
    if true_fn is None or false_fn is None:
        raise TypeError("tf.cond needs both true_fn and false_fn (callables taking no "
                        "arguments).")
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError(f"tf.cond: true_fn and false_fn must be callables, got {true_fn!r} "
                        f"and {false_fn!r}")
    tr = _tracer.current_tracer()
    if not isinstance(pred, Tensor) or tr is None or not tr.is_dynamic(pred):
        p = pred
        if isinstance(p, Tensor):
            if p._value.size != 1:
                raise ValueError(f"tf.cond: pred must be a scalar boolean, got shape "
                                 f"{tuple(p._value.shape)}")
            p = bool(p._value.reshape(()))
        return true_fn() if p else false_fn()
    pred = _to_tensor(pred)
    if pred._value.shape != () and pred._value.size != 1:
        raise ValueError(f"tf.cond: pred must be a scalar boolean, got shape "
                         f"{tuple(pred._value.shape)}")
    t_sg = _trace_sub(true_fn, tr, [], "cond_true")
    f_sg = _trace_sub(false_fn, tr, [], "cond_false")
    _check_same(t_sg, f_sg, "tf.cond", "true_fn", "false_fn")
    caps = []
    index = {}
    for t in t_sg.captures + f_sg.captures:
        if id(t) not in index:
            index[id(t)] = len(caps)
            caps.append(t)
    t_idx = [index[id(t)] for t in t_sg.captures]
    f_idx = [index[id(t)] for t in f_sg.captures]
    variables = _variables_read(t_sg, f_sg)
    ncap = len(caps)

    def kernel(p, *arrays):
        if bool(np.asarray(p).reshape(())):
            return t_sg.run([arrays[i] for i in t_idx])
        return f_sg.run([arrays[i] for i in f_idx])

    def grad(i, g, inputs):
        p, rest = inputs[0], inputs[1:]
        diff = [_differentiable(t) for t in rest]
        if not any(diff):
            return [None] * len(inputs)

        def gkernel(p_arr, g_arr, *arrays):
            sg, idx = (t_sg, t_idx) if bool(np.asarray(p_arr).reshape(())) else (f_sg, f_idx)
            caps_local = [_wrap(a) for a in arrays[:ncap]]
            return _vjp(sg, [], [caps_local[j] for j in idx], i, g_arr,
                        caps_local + variables, diff)
        op = MultiOp("cond_grad", gkernel)
        outs = op(p, g, *rest)
        return [None] + [o if d else None for o, d in zip(outs, diff)]

    op = MultiOp("cond", kernel, grad=grad, stateful=t_sg.stateful or f_sg.stateful)
    outs = op(pred, *caps, *variables)
    return _pack(t_sg, outs)


def _check_same(a, b, op, an, bn):
    if len(a.kinds) != len(b.kinds) or [type(k) is int for k in a.kinds] != \
            [type(k) is int for k in b.kinds]:
        raise ValueError(f"{op}: {an} and {bn} must return the same structure; got "
                         f"{len(a.kinds)} and {len(b.kinds)} values.")
    for j, (sa, sb) in enumerate(zip(a.out_specs, b.out_specs)):
        if sa[1] != sb[1]:
            raise TypeError(f"{op}: output {j} has dtype {sa[1]} in {an} but {sb[1]} in {bn}; "
                            "both branches must return the same dtypes.")
        if sa[0] != sb[0]:
            raise ValueError(f"{op}: output {j} has shape {tuple(sa[0])} in {an} but "
                             f"{tuple(sb[0])} in {bn}; inside tf.function both branches must "
                             "return the same shapes (pad or reshape one of them).")


def _vjp(sg, inputs, caps, i, g_arr, sources, diff):
    """Gradient of output `i` of sub-graph `sg` (replayed on `inputs` + `caps`) with respect
    to `sources`, as arrays (zeros where unconnected)."""
    from tenfold.autodiff.tape import GradientTape
    with GradientTape(persistent=False, watch_accessed_variables=False) as tape:
        for s, d in zip(sources, diff):
            if d:
                tape.watch(s)
        outs = sg.replay(list(inputs) + list(caps))
    target = outs[i]
    grads = tape.gradient(target, sources, output_gradients=_wrap(g_arr))
    return [g._value if g is not None else _zeros_for(s) for g, s in zip(grads, sources)]


# ------------------------------------------------------------------------------------------
# while_loop

def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Repeats `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` is true.

    Inside tf.function the loop is one graph node and the loop variables must keep their
    shapes and dtypes from one iteration to the next.
    """
    if not callable(cond) or not callable(body):
        raise TypeError("tf.while_loop: cond and body must be callables.")
    single = not isinstance(loop_vars, (list, tuple))
    packed = [loop_vars] if single else loop_vars

    def call(fn, vs):
        return fn(vs[0]) if single else fn(*vs)

    tr = _tracer.current_tracer()
    max_it = None if maximum_iterations is None else int(maximum_iterations)
    if tr is None:
        vs = packed
        i = 0
        while (max_it is None or i < max_it) and _truth(call(cond, vs)):
            out = call(body, vs)
            vs = [out] if single else out
            if not single and not isinstance(vs, (list, tuple)):
                vs = [vs]
            i += 1
        return vs[0] if single else _like(loop_vars, vs)

    flat = nest.flatten(list(packed))
    tensors = [_to_tensor(x) for x in flat]
    for t in tensors:
        if isinstance(t, Variable):
            raise TypeError("tf.while_loop: loop variables must be tensors, not Variables; "
                            "read the variable first (v.read_value()) or capture it in the body.")

    def rebuild(ts):
        return nest.pack_sequence_as(list(packed), ts)

    def cond_fn(*ts):
        return call(cond, rebuild(list(ts)))

    def body_fn(*ts):
        out = call(body, rebuild(list(ts)))
        out = [out] if single or not isinstance(out, (list, tuple)) else out
        return nest.flatten(list(out))

    c_sg = _trace_sub(cond_fn, tr, tensors, "while_cond")
    b_sg = _trace_sub(body_fn, tr, tensors, "while_body")
    if len(c_sg.kinds) != 1 or type(c_sg.kinds[0]) is not int or \
            c_sg.out_specs[0][1] != np.bool_ or c_sg.out_specs[0][0] not in ((), (1,)):
        raise TypeError("tf.while_loop: cond must return a scalar boolean tensor.")
    if len(b_sg.kinds) != len(tensors):
        raise ValueError(f"tf.while_loop: body returned {len(b_sg.kinds)} values for "
                         f"{len(tensors)} loop variables.")
    for j, (t, spec, k) in enumerate(zip(tensors, b_sg.out_specs, b_sg.kinds)):
        if type(k) is not int:
            raise TypeError(f"tf.while_loop: body output {j} is not a tensor.")
        if spec[1] != t._value.dtype:
            raise TypeError(f"tf.while_loop: loop variable {j} enters with dtype "
                            f"{t._value.dtype} but the body returns {spec[1]}.")
        if tuple(spec[0]) != tuple(t._value.shape):
            raise ValueError(f"tf.while_loop: loop variable {j} enters with shape "
                             f"{tuple(t._value.shape)} but the body returns {tuple(spec[0])}; "
                             "inside tf.function loop variables must keep their shapes.")
    n = len(tensors)
    caps = []
    index = {}
    for t in c_sg.captures + b_sg.captures:
        if id(t) not in index:
            index[id(t)] = len(caps)
            caps.append(t)
    c_idx = [index[id(t)] for t in c_sg.captures]
    b_idx = [index[id(t)] for t in b_sg.captures]
    variables = _variables_read(c_sg, b_sg)
    ncap = len(caps)

    def kernel(*arrays):
        vs = list(arrays[:n])
        cap_arrays = arrays[n:n + ncap]
        cc = [cap_arrays[i] for i in c_idx]
        bc = [cap_arrays[i] for i in b_idx]
        i = 0
        while max_it is None or i < max_it:
            if not bool(np.asarray(c_sg.run(vs + cc)[0]).reshape(())):
                break
            vs = b_sg.run(vs + bc)
            i += 1
        return vs

    def grad(k, g, inputs):
        diff = [_differentiable(t) for t in inputs]
        if not any(diff):
            return [None] * len(inputs)

        def gkernel(g_arr, *arrays):
            ts = [_wrap(a) for a in arrays[:n + ncap]]
            return _loop_vjp(ts[:n], ts[n:], k, g_arr, diff)
        op = MultiOp("while_grad", gkernel)
        outs = op(g, *inputs)
        return [o if d else None for o, d in zip(outs, diff)]

    def _loop_vjp(vs0, cap_t, k, g_arr, diff):
        from tenfold.autodiff.tape import GradientTape
        sources = list(vs0) + list(cap_t) + variables
        with GradientTape(watch_accessed_variables=False) as tape:
            for s, d in zip(sources, diff):
                if d:
                    tape.watch(s)
            vs = list(vs0)
            cc = [cap_t[i] for i in c_idx]
            bc = [cap_t[i] for i in b_idx]
            i = 0
            while max_it is None or i < max_it:
                with tape.stop_recording():
                    go = bool(np.asarray(c_sg.replay(vs + cc)[0]._value).reshape(()))
                if not go:
                    break
                vs = b_sg.replay(vs + bc)
                i += 1
        grads = tape.gradient(vs[k], sources, output_gradients=_wrap(g_arr))
        return [gr._value if gr is not None else _zeros_for(s) for gr, s in zip(grads, sources)]

    op = MultiOp("while", kernel, grad=grad if back_prop else None,
                 stateful=b_sg.stateful or c_sg.stateful)
    outs = op(*tensors, *caps, *variables)
    res = rebuild(outs)
    return res[0] if single else _like(loop_vars, res)


def _truth(x):
    if isinstance(x, Tensor):
        return bool(x._value.reshape(())) if x._value.size == 1 else bool(x)
    return bool(x)


def _like(template, values):
    if isinstance(template, tuple) and not hasattr(template, "_fields"):
        return tuple(values)
    if isinstance(template, tuple):
        return type(template)(*values)
    return list(values)


# ------------------------------------------------------------------------------------------
# case / switch_case

def switch_case(branch_index, branch_fns, default=None, name=None):
    """Runs `branch_fns[branch_index]()` (`default` or the last branch when out of range)."""
    if isinstance(branch_fns, dict):
        items = sorted(branch_fns.items())
    else:
        items = list(enumerate(branch_fns))
    if not items:
        raise ValueError("tf.switch_case: branch_fns must not be empty")
    for k, fn in items:
        if not callable(fn):
            raise TypeError(f"tf.switch_case: branch {k} is not callable")
    if default is None:
        default = items[-1][1]
    tr = _tracer.current_tracer()
    if not isinstance(branch_index, Tensor) or tr is None or not tr.is_dynamic(branch_index):
        idx = int(branch_index._value.reshape(())) if isinstance(branch_index, Tensor) \
            else int(branch_index)
        for k, fn in items:
            if k == idx:
                return fn()
        return default()
    from tenfold.ops import math_ops
    idx_t = _to_tensor(branch_index)

    def chain(j):
        if j == len(items):
            return default()
        k, fn = items[j]
        return cond(math_ops.equal(idx_t, k), fn, lambda: chain(j + 1))
    return chain(0)


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """The function of the first true predicate in `pred_fn_pairs` (else `default`)."""
    if isinstance(pred_fn_pairs, dict):
        pairs = list(pred_fn_pairs.items())
    else:
        pairs = list(pred_fn_pairs)
    for p in pairs:
        if not isinstance(p, tuple) or len(p) != 2 or not callable(p[1]):
            raise TypeError("tf.case: pred_fn_pairs must be a list of (predicate, callable) "
                            "pairs.")
    if default is None:
        if not pairs:
            raise ValueError("tf.case: need at least one pair or a default")
        default = pairs[-1][1]
        pairs = pairs[:-1] if not exclusive else pairs

    def chain(j):
        if j == len(pairs):
            return default()
        p, fn = pairs[j]
        return cond(p, fn, lambda: chain(j + 1))
    return chain(0)
