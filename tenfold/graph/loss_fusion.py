"""The executor's classifier-head pass (part of its `fusion` option): the softmax of a
classifier's logits (the model's output), their softmax cross-entropy (the loss) and its
gradient (the backward's first step) read the same logits and labels; in the plan they become
one `softmax_xent_all` node making all three (fused_ops; one pass of the narrow row kernel,
each value that of its own node, bit for bit).

Why: a classifier's step runs these three on a small (batch, classes) array, a few us of
work each, but inside `fit` each node's call costs 10-17 us (the step's megabytes of weights
and gradients have pushed the interpreter's data out of the caches between them); the seed
MLP's three: 40 us per step.

Class-index labels (sparse_softmax_cross_entropy_with_logits and its gradient) the same
way, with `sparse_softmax_xent_all`. The node goes where the first of the three was (without
the softmax where that runs before the labels or g are made: Keras casts class-index labels
after the model's output). It is made only where that changes no value: the gradient's
upstream `g` made before that place (or a constant or input), no input read from a variable
(a variable may be assigned in between), one axis, the last.
"""
from tenfold.ops import fused_ops as _fused
from tenfold.ops import nn_ops as _nn


def _heads():
    """(the gradient's primitive, the loss's, the fused one): one-hot or soft labels, class
    indices."""
    return ((_fused.softmax_xent_grad, _nn._softmax_xent, _fused.softmax_xent_all),
            (_fused.sparse_softmax_xent_grad, _nn._sparse_xent, _fused.sparse_softmax_xent_all))


def fuse_softmax_xent(nodes, kind, values):
    """The node list with each softmax_xent_grad (sparse_softmax_xent_grad), its
    softmax_cross_entropy_with_logits (sparse_...) sibling and (if there is one) the softmax
    of the same logits made by one node."""
    from tenfold.graph.executor import _PNode
    producer = {}
    by_op = {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            producer[o] = i
        if not n.multi and len(n.outputs) == 1:
            by_op.setdefault(n.op, []).append(i)
    dead = set()
    placed = {}
    for grad_op, loss_op, fused in _heads():
        sparse = grad_op is _fused.sparse_softmax_xent_grad
        for gi in by_op.get(grad_op, ()):
            grad = nodes[gi]
            g, labels, logits = grad.inputs
            last = len(values[logits].shape) - 1
            axis = -1 if sparse else grad.params.get("axis", -1)
            if axis not in (-1, last) or any(kind[v] == "var" for v in grad.inputs):
                continue
            xi = _sibling(nodes, by_op.get(loss_op, ()), dead, (labels, logits),
                          None if sparse else axis)
            if xi is None:
                continue
            si = _sibling(nodes, by_op.get(_nn._softmax, ()), dead, (logits,), (-1, last))
            if si is not None and not _ready(producer, grad.inputs, min(si, xi)):
                si = None     # the softmax runs before the labels or g are made: it stays
            at = xi if si is None else min(si, xi)
            if gi < at or not _ready(producer, grad.inputs, at):
                continue
            outs = ((nodes[si].outputs[0],) if si is not None else ()) + \
                (nodes[xi].outputs[0], grad.outputs[0])
            params = {"softmax": si is not None}
            if not sparse:
                params["axis"] = axis
            placed[at] = _PNode(fused, (labels, logits, g), params, outs, True, False)
            dead.update(i for i in (xi, si, gi) if i is not None)
    out = []
    for i, n in enumerate(nodes):
        if i in placed:
            out.append(placed[i])
        elif i not in dead:
            out.append(n)
    return out


def _sibling(nodes, candidates, dead, inputs, axes):
    """The first live node among `candidates` reading exactly `inputs` along one of `axes`
    (an axis, a tuple of them, or None: the op has no axis)."""
    for i in candidates:
        n = nodes[i]
        if i in dead or tuple(n.inputs) != inputs:
            continue
        if axes is None or n.params.get("axis", -1) in \
                (axes if isinstance(axes, tuple) else (axes,)):
            return i
    return None


def _ready(producer, inputs, at):
    """Whether every input is made before node `at` (or is a constant, input or variable)."""
    return all(producer.get(v, -1) < at for v in inputs)
