"""Tracing: running a Python function once on real values while recording every primitive.

Design (see docs/internals.md, "Graphs"):

- The tracer is an observer in `this thread's observers (`tenfold.framework.state`), like `GradientTape`. The traced
  function runs eagerly, on the call's real values (or on zeros of the spec's shape for
  `get_concrete_function(spec)`), and every primitive call is appended to a `Graph` with its
  params. The first call therefore returns exactly what eager execution would.
- A tensor is *dynamic* if it comes from an argument, a variable or a stateful op (assignment,
  random numbers), directly or through recorded ops. Anything else that reaches an op is a
  constant captured with its value. Variables are captured by identity and read when the node
  runs, so graphs see later assignments.
- Python control flow runs once, at trace time. Converting a dynamic tensor to a Python value
  (`bool`, `int`, `float`, `.numpy()`) raises `OperatorNotAllowedInGraphError`, which says to
  use `tf.cond` / `tf.while_loop` or `tf.config.run_functions_eagerly(True)`.
- `Variable.assign*` and `read_value` are recorded as primitives (stateful, kept in program
  order) through `tenfold.framework.variable._graph_hook`, set while tracing.
- The tracer also notes, for each value, which buffers it may share (views of inputs, of
  variables, of other values), so the executor only writes in place into buffers it owns.
- The tracer holds the tensors it has seen only weakly: each one's id keys its maps while it
  lives and is forgotten when it dies (a weakref callback, run before the id can be reused).
  So a value the traced program drops is freed at once, as in eager execution, and the
  tracing call's peak memory is the program's own, not every intermediate of the trace.
"""
import contextlib
import functools
import threading
import weakref

import numpy as np

from tenfold.framework.state import STATE as _STATE
from tenfold.framework.tensor import Tensor
from tenfold.framework.variable import Variable
from tenfold.framework.errors import OperatorNotAllowedInGraphError
from tenfold.graph.graph import Graph, Node

_wrap = Tensor._wrap


def active_tracers():
    """The tracers recording in this thread, outermost first."""
    return _STATE.tracers


def current_tracer():
    s = active_tracers()
    return s[-1] if s else None


def _root_base(a):
    b = a.base
    while isinstance(b, np.ndarray) and b.base is not None:
        b = b.base
    return a if b is None else b


def _ref(obj):
    """A weak reference to obj, or (for objects that take none: bytes, mmap) a callable
    holding it strongly."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _forget(tracer_ref, tid, _dead):
    tracer = tracer_ref()
    if tracer is not None:
        tracer._forget(tid)


class Tracer:
    """Records primitive calls into a Graph (an observer in this thread's `STATE.observers`)."""

    def __init__(self, parent=None, dry_run=False, name="graph"):
        self.graph = Graph()
        self.graph.name = name
        self.parent = parent
        self.dry_run = dry_run        # restore assigned variables afterwards
        self.jit = parent.jit if parent is not None else False  # tf.function(jit_compile=)
        self.graph.jit = self.jit
        self._vid = {}                # id(tensor) -> value id, while the tensor lives
        self._dynamic = set()         # ids of dynamic tensors
        self._refs = {}               # id(tensor) -> weakref whose callback forgets the id
        self._keep = []               # tensors held strongly (tf.constant's: named by id)
        self._bases = {}              # id(buffer base) -> (ref to the base, owner value id)
        self._capture_src = []        # outer tensors captured (sub-graphs)
        self._restore = {}            # id(var) -> (var, saved array) for dry runs / branches
        self.const_values = {}        # value id -> trace-time array of non-dynamic op outputs
        self._arrays = {}             # id(array) -> (ref to tensor, ref to array, value id,
                                      # dynamic): assign links values (tensor_for_array)
        self._thread = threading.get_ident()
        self._naming = _Naming()      # TensorFlow-style names, for printing traced tensors
        self.poisoned = {}            # id(tensor) -> deferred error (see `poison`)
        self._failed_vids = set()     # value ids of failed results that died (dropped)
        self.guessed = set()          # ids of poisoned tensors whose shape is a guess
        self.created_variables = []   # tf.Variables made while tracing (first trace only)

    # ------------------------------------------------------------ values
    def is_dynamic(self, t):
        if id(t) in self._dynamic:
            return True
        if isinstance(t, Variable):
            return True
        return self.parent is not None and self.parent.is_dynamic(t)

    def add_input(self, t, name=None, spec_shape=None):
        """Registers tensor `t` as the next placeholder (a dynamic graph input); `name` (the
        argument's) and `spec_shape` (its TensorSpec's, None dimensions kept) are for printing."""
        a = t._value
        vid = self.graph.add_value("input", len(self.graph.inputs), a.shape, a.dtype, True)
        self._naming.name_input(vid, name or "args_0", spec_shape)
        self.graph.values[vid].roots = (vid,)
        self.graph.inputs.append(vid)
        self._vid[id(t)] = vid
        self._dynamic.add(id(t))
        self._track(t, a, vid, True)
        return vid

    # ------------------------------------------------------------ the tensors seen
    def _track(self, t, a, vid, dynamic, replace=False):
        """Notes tensor t (array a, value vid) until t dies; `replace`: a is newly t's."""
        tid = id(t)
        if tid not in self._refs:
            self._refs[tid] = weakref.ref(t, functools.partial(_forget, weakref.ref(self), tid))
        base = _root_base(a)
        rec = self._bases.get(id(base))
        if rec is None or rec[0]() is not base:
            self._bases[id(base)] = (_ref(base), vid)
        rec = self._arrays.get(id(a))
        if replace or rec is None or rec[1]() is not a:
            self._arrays[id(a)] = (weakref.ref(t), _ref(a), vid, dynamic)

    def _forget(self, tid):
        """Tensor `tid` died: its id may now be reused by a new tensor."""
        self._refs.pop(tid, None)
        vid = self._vid.pop(tid, None)
        self._dynamic.discard(tid)
        if self.poisoned.pop(tid, None) is not None and vid is not None:
            self._failed_vids.add(vid)   # a dropped failed result: pruned (prune_failed)
        self.guessed.discard(tid)

    def _owner_of_base(self, a):
        base = _root_base(a)
        rec = self._bases.get(id(base))
        return rec[1] if rec is not None and rec[0]() is base else None

    def tensor_for_array(self, a):
        """The traced tensor whose array is `a` (None if none is known)."""
        rec = self._arrays.get(id(a))
        if rec is None or rec[1]() is not a:
            return self.parent.tensor_for_array(a) if self.parent is not None else None
        t = rec[0]()
        if t is None:  # the tensor died but its array lives on: a new tensor for the value
            t = _wrap(a)
            self._vid[id(t)] = rec[2]
            if rec[3]:
                self._dynamic.add(id(t))
            self._track(t, a, rec[2], rec[3], replace=True)
        return t

    def value_id(self, t):
        """The value id of tensor `t` as a node input, capturing it if new."""
        vid = self._vid.get(id(t))
        if vid is not None:
            return vid
        g = self.graph
        a = t._value
        if isinstance(t, Variable):
            vid = g.add_value("var", t, a.shape, a.dtype, True)
        elif self.parent is not None and self.parent.is_dynamic(t):
            # a tensor of the enclosing graph: an extra input of this sub-graph
            vid = g.add_value("input", len(g.inputs), a.shape, a.dtype, True)
            g.inputs.append(vid)
            g.captures.append(vid)
            self._capture_src.append(t)
            self._dynamic.add(id(t))
        else:
            vid = g.add_value("const", a, a.shape, a.dtype, False)
        g.values[vid].roots = (vid,)
        self._vid[id(t)] = vid
        self._track(t, a, vid, isinstance(t, Variable) or id(t) in self._dynamic)
        return vid

    def _roots_for(self, prim, out_array, in_vids):
        """Which value buffers the output may share: observed now, or possible for the op."""
        values = self.graph.values
        owner = self._owner_of_base(out_array)
        roots = set()
        if owner is not None:
            roots.update(values[owner].roots)
        aliasing = getattr(prim, "aliasing", None)  # the primitive's declaration
        if aliasing == "view" and in_vids:
            roots.update(values[in_vids[0]].roots)
        elif aliasing != "fresh":
            for i in in_vids:  # unknown kernel: assume it may return a view of any input
                roots.update(values[i].roots)
        return roots

    def symbolic(self, t):
        """(name, TensorShape) as TensorFlow prints this traced tensor, or None if the tensor is
        not one of this graph's inputs, op outputs or constants made by `tf.constant` while
        tracing (an eager value captured from outside)."""
        if id(t) in self._naming.const_ids:
            return self._naming.describe_const(self.graph, id(t), t)
        vid = self._vid.get(id(t))
        if vid is None:
            return self.parent.symbolic(t) if self.parent is not None else None
        if self.graph.values[vid].kind not in ("input", "op"):
            return None
        return self._naming.describe(self.graph, vid)

    def note_constant(self, t, name=None):
        """`t` was made by tf.constant / tf.convert_to_tensor while tracing: TensorFlow makes it
        a "Const" op of the graph, which prints as `Tensor("Const:0", ...)` and takes its place
        in the naming order."""
        if threading.get_ident() == self._thread:
            self._naming.note_const(len(self.graph.nodes), id(t), name or "Const")
            self._keep.append(t)

    # ------------------------------------------------------------ recording
    def record(self, prim, inputs, out, params):
        if threading.get_ident() == self._thread:  # ops of other threads are theirs
            self._add_node(prim, inputs, [out], params, multi=False)

    def record_multi(self, op, inputs, outs, params):
        if threading.get_ident() == self._thread:
            self._add_node(op, inputs, outs, params, multi=True)

    def _add_node(self, op, inputs, outs, params, multi):
        failed = None
        if self.poisoned or self.parent is not None:
            failed = self.poisoned_error(inputs)
            # an op on a failed op's result fails too when it runs: deferred in the same way,
            # unless it has side effects or is control flow (TensorFlow runs those)
            if failed is not None and (multi or getattr(op, "stateful", False)):
                raise failed
        dynamic = getattr(op, "stateful", False)
        if not dynamic and not multi and op.shape_only:
            pass  # a constant: the graph is specialised to its input's shape
        else:
            for t in inputs:
                if self.is_dynamic(t):
                    dynamic = True
                    break
        in_vids = tuple(self.value_id(t) for t in inputs)
        g = self.graph
        out_vids = []
        node_index = len(g.nodes)
        for k, o in enumerate(outs):
            a = o._value
            vid = g.add_value("op", (node_index, k), a.shape, a.dtype, dynamic)
            roots = self._roots_for(op, a, in_vids) if not multi else set()
            if multi:
                for i in in_vids:  # a multi-op may pass an input straight through
                    roots.update(g.values[i].roots)
            roots.add(vid)
            g.values[vid].roots = tuple(sorted(roots))
            self._vid[id(o)] = vid
            self._track(o, a, vid, dynamic, replace=True)
            if dynamic:
                self._dynamic.add(id(o))
            else:
                self.const_values[vid] = a
            out_vids.append(vid)
        g.nodes.append(Node(op, in_vids, dict(params), tuple(out_vids), multi))
        if failed is not None:
            guessed = any(self.is_guessed(t) for t in inputs)
            for o in outs:
                self.poison(o, failed, guessed)

    # ------------------------------------------------------------ deferred errors
    def poison(self, t, err, guessed=False):
        """`t` stands in for the result of an op that failed while tracing (see
        `registry._traced_failure`): it is never folded, and using it raises `err`;
        `guessed`: its shape is not known to be the op's."""
        self.poisoned[id(t)] = err
        if guessed:
            self.guessed.add(id(t))
        vid = self._vid.get(id(t))
        if vid is not None:
            self._dynamic.add(id(t))
            self.graph.values[vid].dynamic = True
            self.const_values.pop(vid, None)

    def poisoned_error(self, tensors):
        """The deferred error of the first of `tensors` that stands in for a failed op's result
        (in this graph or an enclosing one), else None."""
        tr = self
        while tr is not None:
            if tr.poisoned:
                for t in tensors:
                    err = tr.poisoned.get(id(t))
                    if err is not None:
                        return err
            tr = tr.parent
        return None

    def is_guessed(self, t):
        tr = self
        while tr is not None:
            if id(t) in tr.guessed:
                return True
            tr = tr.parent
        return False

    def raise_if_poisoned(self, tensors):
        """A failed op's result reaches an output, a side effect or control flow: TensorFlow
        would raise when the graph runs it, so raise its error now."""
        err = self.poisoned_error(tensors)
        if err is not None:
            raise err

    # ------------------------------------------------------------ variables
    def note_variable_created(self, var):
        self.created_variables.append(var)

    def note_assign(self, var):
        """Called before a variable is assigned: dry runs restore it afterwards."""
        if self.dry_run and id(var) not in self._restore:
            self._restore[id(var)] = (var, var._value.copy())
        if self.parent is not None:
            self.parent.note_assign_from_child(var)

    def note_assign_from_child(self, var):
        if self.dry_run and id(var) not in self._restore:
            self._restore[id(var)] = (var, var._value.copy())
        if self.parent is not None:
            self.parent.note_assign_from_child(var)

    def restore_variables(self):
        for var, saved in self._restore.values():
            var._value = saved
        self._restore.clear()

    # ------------------------------------------------------------ outputs
    def output_id(self, t, failed_ok=False):
        """Value id for a returned tensor (variables are read at the end: a snapshot).
        `failed_ok` (branches and loop bodies): the result of an op that failed while tracing
        may be returned, its nodes kept, so the sub-graph fails when it runs (a cond branch
        not taken does not), as in TensorFlow; not when its traced shape is only a guess."""
        if isinstance(t, Variable):
            from tenfold.graph import effects
            t = effects.read_value(t)
        if self.poisoned:
            if not (failed_ok and id(t) in self.poisoned and not self.is_guessed(t)):
                self.raise_if_poisoned((t,))
        return self.value_id(t)

    def prune_failed(self):
        """Drops the nodes of ops that failed while tracing and of ops computed from them (see
        `poison`): none reached an output, a side effect or control flow (that raises), so
        TensorFlow would prune them and so do we, before the graph is planned, replayed by
        tapes or exported."""
        if not self.poisoned and not self._failed_vids:
            return
        # a copy: a tensor dying meanwhile pops its id from poisoned (the weakref callback)
        poisoned = list(self.poisoned)
        failed = {vid for vid in (self._vid.get(i) for i in poisoned) if vid is not None}
        failed |= self._failed_vids
        live = set(self.graph.outputs)   # a sub-graph may return a failed result (output_id)
        for n in reversed(self.graph.nodes):
            if live.intersection(n.outputs):
                live.update(n.inputs)
        self.graph.remove_nodes([k for k, n in enumerate(self.graph.nodes)
                                 if failed.intersection(n.outputs) and
                                 not live.intersection(n.outputs)])

    def release(self):
        self._refs = {}   # the weakrefs die with the dict: no callback runs after this
        self._keep = []
        self._vid = {}
        self._bases = {}
        self._arrays = {}


def _tf_op_name(op):
    name = getattr(op, "tf_name", None)  # the primitive's declared TensorFlow op type
    if name is None:
        name = "".join(part.capitalize() for part in op.name.split(":", 1)[0].split("_"))
    return name or "Op"


class _Naming:
    """Names values as TensorFlow names graph tensors: inputs by their argument name, op
    outputs by the op's type, made unique per graph case-insensitively ("add", "Add_1",
    "add_2"), each output `name:k`. Op names are given lazily, in program order."""

    def __init__(self):
        self.used = {}
        self.names = {}        # value id -> "name:k"
        self.shapes = {}       # value id -> TensorShape of an input's spec
        self.named_nodes = 0
        self.consts = []       # (nodes recorded before it, tensor id, name) of tf.constant calls
        self.const_ids = set()
        self.const_names = {}  # tensor id -> "Const_1:0"
        self.named_consts = 0

    def unique(self, name):
        key = name.lower()
        i = self.used.get(key, 0)
        self.used[key] = i + 1
        if i > 0:
            base = key
            while key in self.used:  # skip names already taken explicitly
                key = f"{base}_{i}"
                i += 1
            self.used[key] = 1
            name = f"{name}_{i - 1}"
        return name

    def name_input(self, vid, path, spec_shape):
        base = path.split("[", 1)[0].split(".", 1)[0] or "args_0"
        self.names[vid] = self.unique(base) + ":0"
        if spec_shape is not None:
            self.shapes[vid] = spec_shape

    def note_const(self, position, tid, name):
        self.consts.append((position, tid, name))
        self.const_ids.add(tid)

    def _catch_up(self, graph):
        """Names every op and constant recorded so far, in program order (a constant made
        when `position` nodes existed comes before node `position`)."""
        nodes, consts = graph.nodes, self.consts
        while self.named_nodes < len(nodes) or self.named_consts < len(consts):
            if self.named_consts < len(consts) and \
                    consts[self.named_consts][0] <= self.named_nodes:
                _, tid, name = consts[self.named_consts]
                self.named_consts += 1
                self.const_names[tid] = self.unique(name) + ":0"
                continue
            node = nodes[self.named_nodes]
            self.named_nodes += 1
            op_name = self.unique(_tf_op_name(node.op))
            for k, out in enumerate(node.outputs):
                self.names[out] = f"{op_name}:{k}"

    def describe_const(self, graph, tid, t):
        from tenfold.framework.tensor_shape import TensorShape
        if tid not in self.const_names:
            self._catch_up(graph)
        return self.const_names[tid], TensorShape(t._value.shape)

    def describe(self, graph, vid):
        from tenfold.framework.tensor_shape import TensorShape
        if vid not in self.names:
            self._catch_up(graph)
        name = self.names.get(vid)
        if name is None:
            return None
        return name, self._shape(graph, vid, TensorShape)

    def _shape(self, graph, vid, TensorShape):
        shape = self.shapes.get(vid)
        if shape is not None:
            return shape
        v = graph.values[vid]
        shape = TensorShape(v.shape)
        if v.kind == "op" and self.shapes:
            # an op keeping its input's shape (elementwise) keeps that input's None dimensions
            node = graph.nodes[v.payload[0]]
            for i in node.inputs:
                if graph.values[i].shape == v.shape and graph.values[i].kind in ("op", "input"):
                    s = self._shape(graph, i, TensorShape)
                    if s.rank is not None and not s.is_fully_defined():
                        shape = s
                        break
        self.shapes[vid] = shape
        return shape


def _guard(t, what):
    for tr in active_tracers():
        if tr.is_dynamic(t):
            shape = tuple(t._value.shape)
            hint = ("use tf.cond(pred, true_fn, false_fn) for an `if` that depends on a tensor, "
                    "tf.while_loop(cond, body, loop_vars) for a loop, or tf.where for an "
                    "elementwise choice")
            if what == "numpy":
                raise OperatorNotAllowedInGraphError(
                    f"Calling .numpy() (or np.asarray) on a tensor (shape {shape}, dtype "
                    f"{t.dtype.name}) inside a tf.function is not allowed: its value is only "
                    f"known when the graph runs. Compute with tenfold ops instead; "
                    f"{hint}; or, to debug, run eagerly with "
                    f"tf.config.run_functions_eagerly(True).")
            raise OperatorNotAllowedInGraphError(
                f"Using a tensor (shape {shape}, dtype {t.dtype.name}) as a Python {what} is "
                f"not allowed inside a tf.function: the function is traced once and its value "
                f"is only known when the graph runs. Instead, {hint}; or, to debug, run "
                f"eagerly with tf.config.run_functions_eagerly(True).")


@contextlib.contextmanager
def tracing(tracer, exclusive=False):
    """Makes `tracer` record: appends it to the observers (or, with `exclusive`, makes it the
    only observer, for cond branches and loop bodies), installs the Python-value guard and the
    variable hooks. Restores everything afterwards."""
    from tenfold.graph import effects
    state = _STATE
    stack = state.tracers
    saved_obs = list(state.observers)
    if exclusive:
        state.observers[:] = [tracer]
    else:
        state.observers.append(tracer)
    stack.append(tracer)
    prev_guard = state.concrete_guard
    prev_hook = state.variable_hook
    state.concrete_guard = _guard
    state.variable_hook = effects.variable_hook
    try:
        with np.errstate(all="ignore") if tracer.dry_run else _null():
            yield tracer
    finally:
        stack.pop()
        state.observers[:] = saved_obs
        state.concrete_guard = prev_guard
        state.variable_hook = prev_hook


@contextlib.contextmanager
def isolated():
    """Nothing records inside: for kernels that run tenfold ops of their own (a cond branch's
    gradient, an optimizer update) while a trace or a tape is active outside."""
    state = _STATE
    stack = state.tracers
    saved_stack = list(stack)
    saved_obs = list(state.observers)
    prev_guard = state.concrete_guard
    prev_hook = state.variable_hook
    stack.clear()
    state.observers[:] = []
    state.concrete_guard = None
    state.variable_hook = None
    try:
        yield
    finally:
        stack[:] = saved_stack
        state.observers[:] = saved_obs
        state.concrete_guard = prev_guard
        state.variable_hook = prev_hook


@contextlib.contextmanager
def _null():
    yield
