"""GradientTape: records primitive calls on watched tensors and runs them backwards.

The backward pass is a loop over the recorded entries in reverse (no recursion, so chains of
any length work). Gradients are computed with tenfold ops, so an outer tape records them and
nested tapes give higher derivatives. Only inputs that lead back to a requested source get a
gradient (the input batch of a Dense layer, say, is skipped).
"""
import enum

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.variable import Variable
from tenfold.framework.state import STATE as _STATE
from tenfold.ops.registry import is_differentiable_dtype
from tenfold.autodiff import sparse_grads
from tenfold.framework.indexed_slices import IndexedSlices
from tenfold.util import nest


# tf.distribute (tenfold/distribute/overlap.py) sets an object here while a distributed step
# runs: `plan(sources, relevant)` -> a notifier whose `until(pos, grads)` is told, during the
# backward loop, which sources' gradients are final (so their all-reduce can start early).
_ready_hook = [None]


class UnconnectedGradients(enum.Enum):
    NONE = "none"
    ZERO = "zero"


class _Entry:
    __slots__ = ("prim", "inputs", "out", "params", "snap")

    def __init__(self, prim, inputs, out, params):
        self.prim = prim
        self.inputs = inputs
        self.out = out
        self.params = params
        # The arrays that variable inputs held when the op ran: an `assign` later inside the
        # tape replaces a variable's array (copy on write), and the gradient must use the value
        # the op saw, as TensorFlow does.
        self.snap = None
        for i, t in enumerate(inputs):
            if type(t) is not Tensor and isinstance(t, Variable):
                if self.snap is None:
                    self.snap = [None] * len(inputs)
                self.snap[i] = t._value

    def args(self):
        """The inputs as the op saw them (variables assigned since: snapshots of their value)."""
        snap = self.snap
        if snap is None or all(a is None or a is t._value for a, t in zip(snap, self.inputs)):
            return self.inputs
        return tuple(t if a is None or a is t._value else Tensor._wrap(a)
                     for a, t in zip(snap, self.inputs))


class GradientTape:
    """Records operations for automatic differentiation (as `tf.GradientTape`)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_vars = watch_accessed_variables
        self._entries = []
        self._tracked = {}  # id -> tensor: watched tensors and outputs of recorded ops
        self._variables = {}  # id -> variable: the watched variables, in watch order
        self._recording = False
        self._used = False

    # --- context ---
    def __enter__(self):
        self._start()
        return self

    def __exit__(self, *exc):
        self._stop()
        return False

    def _start(self):
        if self._recording:
            raise ValueError("This GradientTape is already recording.")
        self._recording = True
        _STATE.observers.append(self)

    def _stop(self):
        if self._recording:
            self._recording = False
            _STATE.observers.remove(self)

    def stop_recording(self):
        """Context manager pausing this tape (`with tape.stop_recording():`)."""
        tape = self

        class _Pause:
            def __enter__(self_):
                if not tape._recording:
                    raise ValueError("Tape is not recording.")
                tape._stop()

            def __exit__(self_, *exc):
                tape._start()

        return _Pause()

    def reset(self):
        """Forgets everything recorded so far (the tape keeps recording if inside `with`)."""
        self._release()
        self._variables.clear()

    def _release(self):
        self._entries.clear()
        self._tracked.clear()

    # --- watching ---
    def watch(self, tensor):
        """Records operations on `tensor` (a tensor, variable, or nested structure of them).
        Integer tensors are ignored: they have no gradient."""
        for t in nest.flatten(tensor):
            if not isinstance(t, Tensor):
                raise ValueError(f"tape.watch expects tensors or variables, got "
                                 f"{type(t).__name__}: {t!r}. Convert it with tf.constant "
                                 f"first.")
            if is_differentiable_dtype(t._value.dtype):
                self._tracked[id(t)] = t
                if isinstance(t, Variable):
                    self._variables[id(t)] = t

    def watched_variables(self):
        """The variables this tape watched (explicitly or by being read), in the order they
        were created (as TensorFlow, which sorts them by id)."""
        return tuple(sorted(self._variables.values(), key=lambda v: getattr(v, "_uid", 0)))

    # --- recording (called by Primitive.__call__) ---
    def record(self, prim, inputs, out, params):
        if prim.grads is None or not is_differentiable_dtype(out._value.dtype):
            return
        tracked = self._tracked
        hit = False
        for t in inputs:
            if id(t) in tracked:
                hit = True
            elif self._watch_vars and type(t) is not Tensor and isinstance(t, Variable) \
                    and t._trainable and is_differentiable_dtype(t._value.dtype):
                tracked[id(t)] = t
                self._variables[id(t)] = t
                hit = True
        if hit:
            self._entries.append(_Entry(prim, inputs, out, params))
            tracked[id(out)] = out

    # --- differentiation ---
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians). Pass persistent=True to "
                               "GradientTape() to call gradient() more than once.")
        self._used = True
        if self._recording:
            self._stop()
            try:
                return self._gradient(target, sources, output_gradients, unconnected_gradients)
            finally:
                self._start()
        return self._gradient(target, sources, output_gradients, unconnected_gradients)

    def _gradient(self, target, sources, output_gradients, unconnected):
        from tenfold.ops import math_ops, array_ops
        unconnected = _unconnected(unconnected)
        flat_targets = [convert_to_tensor(t) if not isinstance(t, Tensor) else t
                        for t in nest.flatten(target)]
        flat_sources = nest.flatten(sources)
        for s in flat_sources:
            if not isinstance(s, Tensor):
                raise ValueError(f"gradient() sources must be tensors or variables, got "
                                 f"{type(s).__name__}: {s!r}")
        if output_gradients is not None:
            flat_og = nest.flatten(output_gradients)
            if len(flat_og) != len(flat_targets):
                raise ValueError(f"output_gradients has {len(flat_og)} entries for "
                                 f"{len(flat_targets)} targets")
        else:
            flat_og = [None] * len(flat_targets)

        source_ids = {id(s) for s in flat_sources}
        # Forward reachability: which tensors depend on a source.
        needed = set(i for i in source_ids if i in self._tracked)
        relevant = []
        for e in self._entries:
            for t in e.inputs:
                if id(t) in needed:
                    needed.add(id(e.out))
                    relevant.append(e)
                    break

        grads = {}
        for t, og in zip(flat_targets, flat_og):
            if id(t) not in needed:
                continue
            if og is None:
                g = array_ops.ones_like(t)
            else:
                g = og if isinstance(og, Tensor) else convert_to_tensor(og, dtype=t.dtype)
                if g._value.shape != t._value.shape:
                    raise ValueError(f"output_gradients entry of shape {list(g._value.shape)} "
                                     f"does not match its target's shape "
                                     f"{list(t._value.shape)}")
            _accumulate(grads, id(t), g, math_ops)

        notify = None
        if _ready_hook[0] is not None:  # tf.distribute: start all-reduces during backward
            notify = _ready_hook[0].plan(flat_sources, relevant)
        for pos in range(len(relevant) - 1, -1, -1):
            e = relevant[pos]
            if notify is not None:
                notify.until(pos, grads)
            oid = id(e.out)
            g = grads.get(oid) if oid in source_ids else grads.pop(oid, None)
            if g is None:
                continue
            if isinstance(g, IndexedSlices):
                passed = sparse_grads.pass_through(e, g, needed)
                if passed is not None:   # a read / cast of the variable: still sparse
                    _accumulate(grads, id(e.inputs[0]), passed, math_ops)
                    continue
                g = g.to_dense()   # any other rule consumes it dense, as in TensorFlow
                if oid in source_ids:
                    grads[oid] = g
            rules = e.prim.grads
            inputs = e.inputs
            args = e.args()
            if callable(rules):
                if not any(id(t) in needed for t in inputs):
                    continue
                results = rules(g, e.out, *args, **e.params)
            else:
                results = [None] * len(inputs)
                sparse = sparse_grads.sparse_rule(e.prim)
                for i, t in enumerate(inputs):
                    if id(t) in needed and i < len(rules) and rules[i] is not None:
                        if i == 0 and sparse is not None:
                            results[i] = sparse(g, e.out, *args, **e.params)
                            if results[i] is not None:
                                continue
                        results[i] = rules[i](g, e.out, *args, **e.params)
            for t, gi in zip(inputs, results):
                if gi is None or id(t) not in needed:
                    continue
                if isinstance(gi, IndexedSlices):
                    _accumulate(grads, id(t), gi, math_ops)
                    continue
                if not isinstance(gi, Tensor):
                    gi = convert_to_tensor(gi, dtype=t.dtype)
                if gi._value.shape != t._value.shape:
                    gi = array_ops.unbroadcast(gi, t._value.shape)
                _accumulate(grads, id(t), gi, math_ops)

        if notify is not None:
            notify.until(-1, grads)
        out = []
        for s in flat_sources:
            if not is_differentiable_dtype(s._value.dtype):
                # integer sources have no gradient (zeros if asked for zeros), as TensorFlow
                out.append(array_ops.zeros_like(s) if unconnected == UnconnectedGradients.ZERO
                           else None)
                continue
            g = grads.get(id(s))
            if g is None and unconnected == UnconnectedGradients.ZERO:
                g = array_ops.zeros_like(s)
            if isinstance(g, IndexedSlices):
                if g.values.dtype != s.dtype:
                    g = sparse_grads.cast_values(g, s.dtype)
            elif g is not None and g._value.dtype != s._value.dtype:
                g = math_ops.cast(g, s.dtype)
            out.append(g)
        if not self._persistent:
            self._release()
        return nest.pack_sequence_as(sources, out)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """d target[i...] / d source[j...], shaped target.shape + source.shape."""
        from tenfold.ops import array_ops
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians).")
        persistent = self._persistent
        self._persistent = True
        try:
            target = convert_to_tensor(target)
            flat_sources = nest.flatten(sources)
            n = int(target._value.size)
            rows = [[] for _ in flat_sources]
            for k in range(n):
                og = array_ops.reshape(array_ops.one_hot(k, n, dtype=target.dtype),
                                       target._value.shape)
                gs = nest.flatten(self.gradient(target, flat_sources, output_gradients=og,
                                                unconnected_gradients=unconnected_gradients))
                for r, g in zip(rows, gs):
                    r.append(g)
            out = []
            for r, s in zip(rows, flat_sources):
                if any(g is None for g in r):
                    out.append(None)
                    continue
                out.append(array_ops.reshape(array_ops.stack(r) if r else
                                             array_ops.zeros((0,) + tuple(s._value.shape), s.dtype),
                                             tuple(target._value.shape) + tuple(s._value.shape)))
        finally:
            self._persistent = persistent
            self._used = True
            if not persistent:
                self._release()
        return nest.pack_sequence_as(sources, out)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example jacobian: [batch, *target.shape[1:], *source.shape[1:]]."""
        from tenfold.ops import array_ops
        j = self.jacobian(target, source, unconnected_gradients)
        if j is None:
            return None
        b = int(target.shape[0])
        ty, sy = list(target.shape[1:]), list(source.shape[1:])
        j = array_ops.reshape(j, [b, -1, b, int(max(1, _prod(sy)))])
        idx = array_ops.range(b)
        diag = array_ops.gather_nd(array_ops.transpose(j, [0, 2, 1, 3]),
                                   array_ops.stack([idx, idx], axis=1))
        return array_ops.reshape(diag, [b] + ty + sy)


def _unconnected(value):
    if isinstance(value, UnconnectedGradients):
        return value
    if isinstance(value, str):
        try:
            return UnconnectedGradients(value.lower())
        except ValueError:
            pass
    raise ValueError(f"unconnected_gradients must be 'none', 'zero' or a "
                     f"tf.UnconnectedGradients value, got {value!r}")


def _prod(xs):
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _accumulate(grads, key, g, math_ops):
    prev = grads.get(key)
    if prev is None:
        grads[key] = g
    elif isinstance(prev, IndexedSlices) or isinstance(g, IndexedSlices):
        grads[key] = sparse_grads.accumulate(prev, g, math_ops)
    else:
        grads[key] = math_ops.add(prev, g)


def recording_tapes():
    """How many GradientTapes are recording now (fused primitives whose backward has no
    second derivative are used only while this is at most 1)."""
    return sum(isinstance(o, GradientTape) for o in _STATE.observers)
