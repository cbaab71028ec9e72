"""`model.summary()`: Keras 3's table, plus FLOPs per sample and memory.

The Keras columns (Layer (type), Output Shape, Param #, and Connected to for non-sequential
graphs) and totals (parameters with their size in bytes) are as Keras prints them. Beyond
Keras: a FLOPs column (forward pass, per sample) and lines for parameter and activation memory.
FLOPs and activation sizes are measured, not estimated per layer type: the model runs once on a
single placeholder sample while an op observer counts each primitive's work (2*M*N*K for
matrix products and convolutions, one per element for the rest, none for reshapes and
copies) and attributes it to the layer being called.
"""
import inspect

import numpy as np

from tenfold.util import nest

_FREE = ("reshape", "transpose", "identity", "cast", "getitem", "gather", "concat", "stack",
         "pad", "squeeze", "expand_dims", "broadcast", "tile", "slice", "zeros", "ones", "fill",
         "one_hot", "stop_gradient", "read", "split", "unstack", "reverse", "copy", "shape",
         "strided", "scatter", "where_index", "range")


def readable_memory_size(n):
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} {units[-1]}"


def _weights_bytes(weights):
    return sum(int(np.prod(v.shape)) * np.dtype(v._value.dtype).itemsize for v in weights)


def _count(weights):
    return int(sum(int(np.prod(v.shape)) for v in weights))


def _fmt_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def layer_output_shape(layer):
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        outs = nodes[-1].output_tensors
        shapes = [_fmt_shape(o.shape) for o in outs]
        if len(shapes) == 1:
            return shapes[0]
        return "[" + ", ".join(shapes) + "]"
    return "?"


# ---------------------------------------------------------------------------- FLOPs probe
def _prim_flops(prim, inputs, out, params):
    name = prim.name.lower()
    if any(f in name for f in _FREE):
        return 0
    osize = int(out._value.size)
    if "matmul" in name or name in ("mat_mul", "dot", "batch_matmul"):
        a = inputs[0]._value
        k = a.shape[-2] if params.get("transpose_a") or params.get("adjoint_a") else \
            (a.shape[-1] if a.ndim else 1)
        return 2 * osize * int(k)
    if "conv" in name and len(inputs) >= 2:
        kern = inputs[1]._value
        if "depthwise" in name:
            return 2 * osize * int(np.prod(kern.shape[:-2]))
        if "transpose" in name or "backprop" in name:
            return 2 * int(inputs[0]._value.size) * int(np.prod(kern.shape[:-2])) * \
                int(kern.shape[-2])
        return 2 * osize * int(np.prod(kern.shape[:-1]))
    return max([osize] + [int(t._value.size) for t in inputs])


class _FlopCounter:
    def __init__(self, model):
        from tenfold.keras.layers.layer import _ctx
        self._ctx = _ctx
        self.model = model
        self.flops = {}
        self.act_bytes = 0
        self.total = 0

    def record(self, prim, inputs, out, params):
        f = _prim_flops(prim, inputs, out, params)
        self.total += f
        self.act_bytes += int(out._value.nbytes)
        stack = self._ctx.stack
        owner = None
        for i, (layer, _) in enumerate(stack):
            if layer is self.model and i + 1 < len(stack):
                owner = stack[i + 1][0]
                break
        if owner is not None:
            self.flops[id(owner)] = self.flops.get(id(owner), 0) + f

    _record_custom = record


def _probe_inputs(model):
    from tenfold.framework.tensor import Tensor
    graph = getattr(model, "_functional", None)
    if graph is None and hasattr(model, "_inputs_struct"):
        graph = model
    if graph is not None:
        flat = [Tensor._wrap(np.zeros(tuple(1 if d is None else d for d in kt.shape),
                                      dtype=kt.dtype)) for kt in graph._inputs]
        struct = graph._inputs_struct
        return nest.pack_sequence_as(struct, flat) if nest.is_nested(struct) else flat[0]
    shapes = getattr(model, "_build_shapes", None)
    if shapes is None:
        return None

    def z(s):
        return Tensor._wrap(np.zeros(tuple(1 if d is None else int(d) for d in (
            (None,) + tuple(s)[1:])), dtype=model.compute_dtype))
    if isinstance(shapes, dict):
        return {k: z(s) for k, s in shapes.items()}
    if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple)):
        return [z(s) for s in shapes]
    return z(shapes)


def measure(model):
    """(flops per direct sub-layer id, total FLOPs, activation bytes), per sample; or None."""
    from tenfold.ops import registry
    try:
        x = _probe_inputs(model)
    except Exception:  # noqa: BLE001 - the summary works without the measurement
        return None
    if x is None:
        return None
    counter = _FlopCounter(model)
    saved = list(registry.observers)
    registry.observers[:] = [counter]
    try:
        model(x, training=False)
    except Exception:  # noqa: BLE001
        return None
    finally:
        registry.observers[:] = saved
    return counter.flops, counter.total, counter.act_bytes


def _fmt_int(n):
    return f"{n:,}"


def _fmt_flops(n):
    if n is None:
        return "?"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale * 10:
            return f"{n / scale:,.1f}{unit}"
    return _fmt_int(int(n))


# ---------------------------------------------------------------------------- the table
def _is_sequential_like(model):
    from tenfold.keras.models.functional import Functional
    if type(model).__name__ == "Sequential" or not isinstance(model, Functional):
        return True
    nodes = []
    for v in model._nodes_by_depth.values():
        if len(v) > 1 or (len(v) == 1 and len(v[0].input_tensors) > 1):
            return False
        nodes += v
    ids = {id(n) for n in nodes}
    for layer in model.layers:
        seen = False
        for node in layer._inbound_nodes:
            if id(node) in ids:
                if seen:
                    return False
                seen = True
    return True


def _connections(model, layer):
    out = []
    ids = model._plan.node_ids
    for node in layer._inbound_nodes:
        if id(node) not in ids:
            continue
        for kt in node.input_tensors:
            op, ni, ti = kt._keras_history
            out.append(f"{op.name}[{ni}][{ti}]")
    return out or ["-"]


def _wrap_cell(text, width):
    lines = []
    for part in str(text).split("\n"):
        while len(part) > width:
            cut = part.rfind(" ", 0, width)
            cut = width if cut <= 0 else cut
            lines.append(part[:cut])
            part = part[cut:].lstrip()
        lines.append(part)
    return lines


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    from tenfold.keras.models.functional import Functional
    if print_fn is None:
        from tenfold.keras.utils.progbar import print_msg

        def print_fn(line):
            print_msg(line)
    else:
        user_fn = print_fn
        try:
            takes_lb = "line_break" in inspect.signature(user_fn).parameters
        except (TypeError, ValueError):
            takes_lb = False

        def print_fn(line):
            if takes_lb:
                user_fn(line, line_break=True)
            else:
                user_fn(line)

    if not model.built and getattr(model, "_functional", None) is None and \
            not isinstance(model, Functional):
        if not model.layers or not all(l.built for l in model.layers):
            raise ValueError(
                "This model has not yet been built. Build the model first by calling "
                "`build()` or by calling the model on a batch of data; or give the first layer "
                "an input shape (`keras.Input(shape=...)` first, or `input_shape=` on the "
                "first layer) so it is built right away.")
    graph = model if isinstance(model, Functional) else getattr(model, "_functional", None)
    sequential_like = _is_sequential_like(model)
    layers = model.layers
    if layer_range is not None:
        names = [l.name for l in layers]
        if len(layer_range) != 2:
            raise ValueError("layer_range must be a list or tuple of two layer names.")
        try:
            lo, hi = names.index(layer_range[0]), names.index(layer_range[1])
        except ValueError as e:
            raise ValueError(f"layer_range names must be layers of the model: {e}") from None
        layers = layers[lo:hi + 1]
    headers = ["Layer (type)", "Output Shape", "Param #", "FLOPs"]
    aligns = ["l", "l", "r", "r"]
    if not sequential_like:
        headers.append("Connected to")
        aligns.append("l")
    if show_trainable:
        headers.append("Trainable")
        aligns.append("l")
    default_len = (100 if sequential_like else 124) + (11 if show_trainable else 0)
    line_length = line_length or default_len
    if positions is None:
        base = [0.40, 0.68, 0.84, 1.0] if sequential_like else [0.27, 0.49, 0.60, 0.70, 1.0]
        if show_trainable:
            base = [p * (line_length - 11) / line_length for p in base] + [1.0]
        positions = base
    positions = list(positions)
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    while len(positions) < len(headers):
        positions.append(positions[-1] + 12)
    positions = positions[:len(headers)]
    widths = []
    prev = 0
    for p in positions:
        widths.append(max(4, p - prev - 3))
        prev = p
    widths[-1] = max(4, widths[-1] - 1)  # the closing border

    measured = measure(model)
    flops_by = measured[0] if measured else {}

    rows = []
    for layer in layers:
        name = f"{layer.name} ({type(layer).__name__})"
        try:
            params = _fmt_int(layer.count_params()) if layer.built else "0 (unbuilt)"
        except ValueError:
            params = "0 (unbuilt)"
        f = flops_by.get(id(layer)) if measured else None
        if measured and f is None:
            f = 0
        row = [name, layer_output_shape(layer), params, _fmt_flops(f)]
        if not sequential_like:
            row.append("\n".join(_connections(graph, layer)))
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows.append(row)

    def hline(l, m, r, ch):
        return l + m.join(ch * (w + 2) for w in widths) + r

    def cells(vals, sep_l, sep_m, sep_r):
        wrapped = [_wrap_cell(v, w) for v, w in zip(vals, widths)]
        height = max(len(c) for c in wrapped)
        out = []
        for i in range(height):
            parts = []
            for c, w, a in zip(wrapped, widths, aligns):
                t = c[i] if i < len(c) else ""
                parts.append(" " + (t.rjust(w) if a == "r" else t.ljust(w)) + " ")
            out.append(sep_l + sep_m.join(parts) + sep_r)
        return out

    print_fn(f'Model: "{model.name}"')
    print_fn(hline("┏", "┳", "┓", "━"))
    for line in cells(headers, "┃", "┃", "┃"):
        print_fn(line)
    print_fn(hline("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        for line in cells(row, "│", "│", "│"):
            print_fn(line)
        if i != len(rows) - 1:
            print_fn(hline("├", "┼", "┤", "─"))
    print_fn(hline("└", "┴", "┘", "─"))

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    t_count, n_count = _count(trainable), _count(non_trainable)
    t_bytes, n_bytes = _weights_bytes(trainable), _weights_bytes(non_trainable)
    print_fn(f" Total params: {_fmt_int(t_count + n_count)} "
             f"({readable_memory_size(t_bytes + n_bytes)})")
    print_fn(f" Trainable params: {_fmt_int(t_count)} ({readable_memory_size(t_bytes)})")
    print_fn(f" Non-trainable params: {_fmt_int(n_count)} ({readable_memory_size(n_bytes)})")
    opt = getattr(model, "optimizer", None)
    opt_vars = getattr(opt, "variables", None) if opt is not None else None
    if callable(opt_vars):
        opt_vars = opt_vars()
    if opt is not None and getattr(opt, "built", False) and opt_vars:
        print_fn(f" Optimizer params: {_fmt_int(_count(opt_vars))} "
                 f"({readable_memory_size(_weights_bytes(opt_vars))})")
    if measured:
        print_fn(f" FLOPs per sample (forward): {_fmt_int(int(measured[1]))}")
        print_fn(f" Memory: parameters {readable_memory_size(t_bytes + n_bytes)}, activations "
                 f"{readable_memory_size(measured[2])} per sample (forward)")
