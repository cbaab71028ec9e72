"""The graph form: what `tf.function` traces into, what the executor runs and export reads.

A `Graph` is a list of `Node`s in program order over numbered values:

- value kinds: ``"input"`` (a placeholder for the i-th tensor argument), ``"var"`` (a captured
  `Variable`, read at the moment a node runs), ``"const"`` (an array fixed at trace time) and
  ``"op"`` (the output of a node);
- a node applies one declared primitive (`tenfold.ops.registry.Primitive`) to its input values
  with static keyword params, or a `MultiOp` (control flow, several outputs);
- `graph.outputs` lists the value ids the function returns; `graph.effects` the nodes that must
  run for their side effects (variable assignments, ...), which keep their program order.

Every value carries the shape and dtype it had when traced; graphs are specialised to those
(see `function.py`), which is what lets the executor plan buffers statically.
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework.state import STATE as _STATE
from tenfold.ops import registry

_wrap = Tensor._wrap

def register_stateful(name):
    """Marks a declared primitive as having side effects (the executor keeps and orders it);
    new primitives say `stateful=True` in their declaration instead."""
    registry.declare(name, stateful=True)


class Value:
    __slots__ = ("kind", "payload", "shape", "dtype", "dynamic", "roots")

    def __init__(self, kind, payload, shape, dtype, dynamic):
        self.kind = kind          # "input" | "var" | "const" | "op"
        self.payload = payload    # input index | Variable | array | (node index, output index)
        self.shape = shape
        self.dtype = dtype
        self.dynamic = dynamic    # depends on an input, a variable or a stateful op
        self.roots = None         # value ids whose buffer this value may share (set by tracer)

    def __repr__(self):
        return f"Value({self.kind}, {self.shape}, {self.dtype})"


class Node:
    __slots__ = ("op", "inputs", "params", "outputs", "multi")

    def __init__(self, op, inputs, params, outputs, multi=False):
        self.op = op              # Primitive or MultiOp
        self.inputs = inputs      # tuple of value ids
        self.params = params      # dict of static params
        self.outputs = outputs    # tuple of value ids
        self.multi = multi

    @property
    def name(self):
        return self.op.name

    @property
    def stateful(self):
        return getattr(self.op, "stateful", False)

    def __repr__(self):
        shown = {k: v for k, v in self.params.items() if not callable(v)}
        return f"{list(self.outputs)} = {self.op.name}{list(self.inputs)}" + \
            (f" {shown}" if shown else "")


class Graph:
    """A traced function's graph (see the module docstring)."""

    def __init__(self):
        self.values = []
        self.nodes = []
        self.inputs = []      # value ids of the placeholders, in flattened argument order
        self.outputs = []     # value ids returned
        self.captures = []    # for sub-graphs (cond branches, loop bodies): outer tensors read
        self.name = "graph"
        self.jit = False      # traced under jit_compile: the executor may use Numba kernels

    def add_value(self, kind, payload, shape, dtype, dynamic):
        self.values.append(Value(kind, payload, shape, dtype, dynamic))
        return len(self.values) - 1

    def remove_nodes(self, indices):
        """Removes the nodes at `indices`, whose outputs nothing reads (pruned ops); their
        output values stay in the table, unreferenced."""
        drop = set(indices)
        if not drop:
            return
        kept = [n for k, n in enumerate(self.nodes) if k not in drop]
        for k, n in enumerate(self.nodes):
            if k in drop:
                for out in n.outputs:
                    self.values[out].kind = "pruned"
                    self.values[out].payload = None
        for j, n in enumerate(kept):
            for k, out in enumerate(n.outputs):
                self.values[out].payload = (j, k)
        self.nodes = kept

    @property
    def variables(self):
        """The variables the graph reads or assigns (captured by identity)."""
        return [v.payload for v in self.values if v.kind == "var"]

    def as_graph_def(self, from_version=None, add_shapes=False):
        """This graph as a TensorFlow `GraphDef` message (TensorFlow ops, variables frozen
        as constants, shapes as traced), e.g. for TensorBoard's graph view. The lowering
        lives in tenfold/export/_tf_graph.py (needs the `tensorboard` package's protos)."""
        from tenfold.export._tf_graph import graph_def
        return graph_def(self)[0]

    def __repr__(self):
        lines = [f"graph {self.name}: inputs {self.inputs} -> outputs {self.outputs}"]
        for i, v in enumerate(self.values):
            if v.kind == "var":
                lines.append(f"  %{i} = var {getattr(v.payload, 'name', '?')} {v.shape}")
            elif v.kind == "const":
                lines.append(f"  %{i} = const {v.shape} {v.dtype}")
        for n in self.nodes:
            lines.append("  " + repr(n))
        return "\n".join(lines)

    # --- running the graph through the primitives (so observers such as tapes see it) ---
    def replay(self, input_tensors, capture_tensors=()):
        """Runs the graph op by op through `Primitive.__call__` (recorded by tapes and tracers)
        and returns the output tensors. Used when a GradientTape watches a tf.function call."""
        env = {}
        for vid, t in zip(self.inputs, list(input_tensors) + list(capture_tensors)):
            env[vid] = t
        values = self.values
        for node in self.nodes:
            ins = []
            for i in node.inputs:
                t = env.get(i)
                if t is None:
                    t = _value_tensor(values[i])
                    env[i] = t
                ins.append(t)
            if node.multi:
                outs = node.op(*ins, **node.params)
            else:
                outs = (node.op(*ins, **node.params),)
            for vid, t in zip(node.outputs, outs):
                env[vid] = t
        out = []
        for vid in self.outputs:
            t = env.get(vid)
            out.append(t if t is not None else _value_tensor(values[vid]))
        return out


def _value_tensor(v):
    if v.kind == "var":
        return v.payload
    if v.kind == "const":
        return _wrap(v.payload)
    raise RuntimeError(f"graph value {v} has no tensor (internal error)")


class MultiOp:
    """An op with several outputs that the graph runs as one node (tf.cond, tf.while_loop).

    `kernel(*arrays, **params)` returns a list of arrays. `grad(index, g, inputs, outputs,
    **params)`, if given, returns the gradients of all inputs for the output `index`, written
    with tenfold ops. Calling the op runs the kernel and tells the observers: a tracer records
    one node; a tape records one entry per output (so backprop works per output).
    """

    def __init__(self, name, kernel, grad=None, stateful=False, may_leave_running=False,
                 writes=None):
        self.name = name
        self.kernel = kernel
        self.grad = grad
        self.stateful = stateful
        # the kernel may leave C work running on the pool (an optimizer's update, see
        # effects.stateful_call): the executor guards the nodes after it
        self.may_leave_running = may_leave_running
        # the ids of the Variables a stateful kernel writes, where it declares them (an
        # optimizer's update; graph/update_overlap.py), else None: any variable
        self.writes = writes
        self._out_prims = {}

    def _out_prim(self, index):
        p = self._out_prims.get(index)
        if p is None:
            op = self

            def rule(g, out, *inputs, _i=index, **params):
                return op.grad(_i, g, inputs, **params)
            p = registry.Primitive(f"{self.name}:{index}", _no_kernel, grads=rule)
            self._out_prims[index] = p
        return p

    def __call__(self, *inputs, **params):
        from tenfold.graph.tracer import isolated
        with isolated():
            arrays = self.kernel(*[t._value for t in inputs], **params)
        outs = [_wrap(a if type(a) is np.ndarray else np.asarray(a)) for a in arrays]
        for o in _STATE.observers:
            rec = getattr(o, "record_multi", None)
            if rec is not None:
                rec(self, inputs, outs, params)
            elif self.grad is not None:
                for i, out in enumerate(outs):
                    o.record(self._out_prim(i), inputs, out, params)
        return outs

    def __repr__(self):
        return f"<multi-op {self.name}>"


def _no_kernel(*args, **kwargs):
    raise RuntimeError("internal: per-output records of a multi-op are not executed")
