"""Calling a layer on KerasTensors: work out output shapes and record the call as a Node.

Output shapes come from running the layer on placeholder data (zeros) of the input shapes,
with unknown dimensions filled in; a dimension that changes when the filled-in sizes change is
unknown (None) in the output. This needs no per-layer shape code and cannot disagree with call().
"""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.keras.engine.keras_tensor import KerasTensor
from tenfold.util import nest
from tenfold.framework.host import from_host

_FILL = (2, 3)  # sizes substituted for unknown dims in the two probe runs


class Node:
    """One call of `layer` on symbolic inputs: the edge list of a functional model."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [x for x in nest.flatten((call_args, call_kwargs))
                              if isinstance(x, KerasTensor)]
        self.output_tensors = [x for x in nest.flatten(outputs) if isinstance(x, KerasTensor)]
        self.parent_nodes = []
        for x in self.input_tensors:
            hist = x._keras_history
            if hist is not None:
                self.parent_nodes.append(hist[0]._inbound_nodes[hist[1]])

    @property
    def input_tensors_struct(self):
        return self.call_args[0] if self.call_args else None

    @property
    def output_tensors_struct(self):
        return self.outputs

    @property
    def is_input(self):
        return not self.input_tensors


def _placeholder(kt, fill):
    shape = tuple(fill if d is None else d for d in kt.shape)
    dt = dtypes.as_dtype(kt.dtype)._np
    # strings probe with empty strings (a zero is no string)
    t = from_host(np.full(shape, b"", dtype=object) if dt == object else np.zeros(shape, dt))
    mask = kt._keras_mask
    if isinstance(mask, KerasTensor):  # a masked symbolic tensor: the probe carries a mask
        mshape = tuple(fill if d is None else d for d in mask.shape)
        t._keras_mask = from_host(np.ones(mshape, dtype=dtypes.as_dtype(mask.dtype)._np))
    return t


class probe_run:
    """`with probe_run() as probe:` a run that leaves no trace. Keras traces symbolic calls
    without running them; tenfold runs them on placeholder values, so no tape or tracer may
    record them, and their side effects on state (a counter's assign_add, moving statistics)
    are undone: `probe.keep(variables)` notes arrays that get put back on exit. Updates
    replace a variable's array (copy on write), so keeping references suffices."""

    def __enter__(self):
        from tenfold.ops import registry
        self._observers = registry.observers
        self._saved = list(registry.observers)
        registry.observers[:] = []
        self._state = []
        return self

    def keep(self, variables):
        self._state.extend((v, v.read_value()) for v in variables)

    def __exit__(self, *exc):
        self._observers[:] = self._saved
        for v, value in self._state:
            v.assign(value)
        return False


def _run(layer, args, kwargs, fill):
    conv = lambda x: _placeholder(x, fill) if isinstance(x, KerasTensor) else x  # noqa: E731
    a = nest.map_structure(conv, args)
    k = nest.map_structure(conv, kwargs)
    # Probe values (ones, twos) may hit log(0)-style edges: not the user's problem to see.
    with probe_run() as probe, np.errstate(all="ignore"):
        if layer.built:
            probe.keep(layer.weights)
        return layer(*a, **k)


def _has_unknown(args, kwargs):
    return any(isinstance(x, KerasTensor) and any(d is None for d in x.shape[1:])
               for x in nest.flatten((args, kwargs)))


# Unknown image dims (rank >= 4) get bigger probes: under a stride-2 pooling 2 and 3 both give
# 1, which would read as a static size, and a 3x3 'valid' kernel cannot run on 2x2 at all.
_FILL_SPATIAL = (8, 13)
_FILL_RETRY = (32, 47)  # when a layer refuses the small probes (big kernels, deep strides)


def _has_unknown_spatial(args, kwargs):
    return any(isinstance(x, KerasTensor) and len(x.shape) >= 4 and
               any(d is None for d in x.shape[1:]) for x in nest.flatten((args, kwargs)))


def _probe_pair(layer, args, kwargs, fills, twice):
    out1 = _run(layer, args, kwargs, fills[0])
    return out1, (_run(layer, args, kwargs, fills[1]) if twice else out1)


def infer_output_spec(layer, args, kwargs):
    """KerasTensors (without history) describing the layer's outputs for symbolic inputs."""
    batch_unknown = any(isinstance(x, KerasTensor) and x.shape and x.shape[0] is None
                        for x in nest.flatten((args, kwargs)))
    unknown = _has_unknown(args, kwargs)
    twice = unknown or batch_unknown
    fills = _FILL_SPATIAL if _has_unknown_spatial(args, kwargs) else _FILL
    if not unknown:
        out1, out2 = _probe_pair(layer, args, kwargs, fills, twice)
    else:
        try:
            out1, out2 = _probe_pair(layer, args, kwargs, fills, twice)
        except Exception:  # too small for this layer: retry bigger, else report that error
            try:
                out1, out2 = _probe_pair(layer, args, kwargs, _FILL_RETRY, twice)
            except Exception:
                out1, out2 = _probe_pair(layer, args, kwargs, fills, twice)

    def spec(a, b):
        if not isinstance(a, Tensor):
            return a
        sa, sb = tuple(a.shape), tuple(b.shape)
        shape = tuple(None if (len(sa) == len(sb) and da != db) else da
                      for da, db in zip(sa, sb)) if len(sa) == len(sb) else (None,) * len(sa)
        kt = KerasTensor(shape, dtype=a.dtype.name)
        mask = getattr(a, "_keras_mask", None)
        if isinstance(mask, Tensor):
            mb = getattr(b, "_keras_mask", None)
            ma, mb = tuple(mask.shape), tuple(mb.shape) if isinstance(mb, Tensor) else None
            mshape = tuple(None if (mb is not None and len(mb) == len(ma) and x != y) else x
                           for x, y in zip(ma, mb if mb is not None else ma))
            # unknown batch stays unknown even when only one probe ran
            if mshape and shape and shape[0] is None:
                mshape = (None,) + mshape[1:]
            kt._keras_mask = KerasTensor(mshape, dtype=mask.dtype.name)
        elif mask is not None:
            kt._keras_mask = True
        return kt
    return nest.map_structure(spec, out1, out2)


def infer_output_shape(layer, input_shape):
    def to_kt(s):
        return KerasTensor(tuple(s), dtype=layer.compute_dtype)
    if isinstance(input_shape, (list, tuple)) and input_shape and \
            isinstance(input_shape[0], (list, tuple)):
        kts = [to_kt(s) for s in input_shape]
    else:
        kts = to_kt(input_shape)
    out = infer_output_spec(layer, (kts,), {})
    return nest.map_structure(lambda k: k.shape if isinstance(k, KerasTensor) else k, out)


def symbolic_call(layer, args, kwargs):
    """Layer called on KerasTensors: build the layer, infer outputs, record a Node."""
    kwargs = dict(kwargs)
    if not layer.built:
        layer._maybe_build(args)  # with the symbolic shapes (None batch), not the probes'
    outputs = infer_output_spec(layer, args, kwargs)
    node_index = len(layer._inbound_nodes)
    flat = [o for o in nest.flatten(outputs) if isinstance(o, KerasTensor)]
    for i, o in enumerate(flat):
        o._keras_history = (layer, node_index, i)
        o.name = layer.name if len(flat) == 1 else f"{layer.name}_{i}"
    node = Node(layer, args, kwargs, outputs)
    layer._inbound_nodes.append(node)
    return outputs
