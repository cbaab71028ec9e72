"""`model.summary()`: Keras 3's table, laid out as Keras lays it out (its `rich` table).

The columns (Layer (type), Output Shape, Param #, Connected to for non-sequential graphs,
Trainable with `show_trainable`), the column widths for a given line length, the word wrapping,
and the totals (parameters with their size in bytes; Total includes the optimizer's variables)
are as Keras prints them, and `print_fn` receives the whole text in one call, as in Keras.

Beyond Keras, a FLOPs column (forward pass, per sample) and lines for parameter and activation
memory are added; `show_flops=False` prints exactly Keras's table. FLOPs and activation sizes are measured, not estimated per
layer type: the model runs once on a single placeholder sample while an op observer counts each
primitive's work as the primitive declares it (`flops` in tenfold/ops/registry.py: 2*M*N*K
for matrix products and convolutions, one per element by default, none for reshapes and
copies) and attributes it to the layer being called.
"""
import re
import shutil

import numpy as np

from tenfold.util import nest
from tenfold.util.tensor_meta import npd, shape_of, size_of
from tenfold.framework.host import from_host

def readable_memory_size(n):
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} {units[-1]}"


def _weights_bytes(weights):
    return sum(int(np.prod(v.shape)) * np.dtype(npd(v)).itemsize for v in weights)


def _count(weights):
    return int(sum(int(np.prod(v.shape)) for v in weights))


def _fmt_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _fmt_structure(struct, leaf):
    """Keras prints several outputs as `str()` of their structure, quotes removed."""
    if isinstance(struct, dict):
        return "{" + ", ".join(f"{k}: {_fmt_structure(v, leaf)}" for k, v in struct.items()) + "}"
    if isinstance(struct, list):
        return "[" + ", ".join(_fmt_structure(v, leaf) for v in struct) + "]"
    if isinstance(struct, tuple) and not _is_shape(struct):
        inner = ", ".join(_fmt_structure(v, leaf) for v in struct)
        return "(" + inner + ("," if len(struct) == 1 else "") + ")"
    return leaf(struct)


def _is_shape(x):
    return isinstance(x, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def layer_output_shape(layer):
    """The Output Shape cell: from the layer's symbolic calls, else from the shape it was built
    with (a subclassed model called on data), else "?"."""
    from tenfold.keras.engine.keras_tensor import KerasTensor
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        outs = nodes[-1].output_tensors_struct
        flat = [o for o in nest.flatten(outs) if isinstance(o, KerasTensor)]
        if len(flat) == 1:
            return _fmt_shape(flat[0].shape)
        return _fmt_structure(outs, lambda o: _fmt_shape(o.shape) if isinstance(o, KerasTensor)
                              else str(o))
    shapes = getattr(layer, "_build_shapes", None)
    if shapes is None:
        return "?"
    try:
        out = layer.compute_output_shape(shapes)
    except Exception:  # noqa: BLE001 - as Keras: "?" when the shape can't be worked out
        return "?"
    if _is_shape(tuple(out)) if isinstance(out, (tuple, list)) else False:
        return _fmt_shape(tuple(out))
    return _fmt_structure(out, lambda o: _fmt_shape(tuple(o)))


# ---------------------------------------------------------------------------- FLOPs probe
def _prim_flops(prim, inputs, out, params):
    """The primitive's own FLOP count (its declaration's `flops`; one per element if none)."""
    flops = getattr(prim, "flops", None)
    if flops is None:
        from tenfold.ops.registry import elementwise_flops as flops
    return flops(inputs, out, params)


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
        self.act_bytes += size_of(out) * npd(out).itemsize
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
        flat = [from_host(np.zeros(tuple(1 if d is None else d for d in kt.shape),
                                      dtype=kt.dtype)) for kt in graph._inputs]
        struct = graph._inputs_struct
        return nest.pack_sequence_as(struct, flat) if nest.is_nested(struct) else flat[0]
    shapes = getattr(model, "_build_shapes", None)
    if shapes is None:
        return None

    def z(s):
        return from_host(np.zeros(tuple(1 if d is None else int(d) for d in (
            (None,) + tuple(s)[1:])), dtype=model.compute_dtype))
    if isinstance(shapes, dict):
        return {k: z(s) for k, s in shapes.items()}
    if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple)):
        return [z(s) for s in shapes]
    return z(shapes)


def measure(model):
    """(flops per direct sub-layer id, total FLOPs, activation bytes), per sample; or None."""
    from tenfold.framework.state import observing
    try:
        x = _probe_inputs(model)
    except Exception:  # noqa: BLE001 - the summary works without the measurement
        return None
    if x is None:
        return None
    counter = _FlopCounter(model)
    try:
        with observing([counter]):  # this thread only counts; tapes and traces pause
            model(x, training=False)
    except Exception:  # noqa: BLE001
        return None
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
    return ", ".join(out) or "-"


def _column_widths(positions, line_length, n_columns):
    """Cell widths (padding included, borders not) as Keras's rich table comes out: each
    column gets `int(position * line_length)` minus the previous, plus 2 for padding; what
    overflows the line is taken off evenly (rounding half to even, as rich does)."""
    widths, current = [], 0
    for pos in positions:
        w = int(pos * line_length) - current
        if w < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(w)
        current += w
    widths = [w + 2 for w in widths]
    room = line_length - (n_columns + 1)
    excess = sum(widths) - room
    if excess > 0:
        remaining, ratio_left, out = excess, len(widths), []
        for w in widths:
            cut = min(w, round(remaining / ratio_left))
            out.append(w - cut)
            remaining -= cut
            ratio_left -= 1
        widths = out
    return widths


def _wrap_cell(text, width):
    """rich's word wrap: break at spaces; a word longer than the cell ends in an ellipsis."""
    lines = []
    for part in str(text).split("\n"):
        words = re.findall(r"\s*\S+\s*", part) or [""]
        line = ""
        for word in words:
            if line and len(line + word.rstrip()) > width:
                lines.append(line.rstrip())
                line = word.lstrip()
            else:
                line += word
        lines.append(line.rstrip())
    return [ln if len(ln) <= width else ln[:max(0, width - 1)] + "…" for ln in lines]


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None, show_flops=True):
    from tenfold.keras.models.functional import Functional
    graph = model if isinstance(model, Functional) else getattr(model, "_functional", None)
    sequential_like = _is_sequential_like(model)
    layers = model.layers
    if layer_range is not None:
        layers = layers[slice(*_layer_range_bounds(layers, layer_range))]
    if sequential_like:
        default_len, pos = 88, [0.45, 0.80, 1.0]
        headers, aligns = ["Layer (type)", "Output Shape", "Param #"], ["l", "l", "r"]
    else:
        default_len, pos = 108, [0.3, 0.56, 0.74, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        aligns = ["l", "l", "r", "l"]
    positions = list(positions or pos)
    if show_trainable:
        default_len += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        headers.append("Trainable")
        aligns.append("c")
    measured = measure(model) if show_flops else None
    show_flops = measured is not None  # an unbuilt model has nothing to measure yet
    if show_flops:
        default_len += 14  # a column 15% of the line wide, after Param #
        positions = [p * 0.85 for p in positions[:3]] + [positions[2] * 0.85 + 0.15] + \
            [p * 0.85 + 0.15 for p in positions[3:]]
        headers.insert(3, "FLOPs")
        aligns.insert(3, "r")
    line_length = line_length or min(default_len, shutil.get_terminal_size().columns - 4)
    if positions[-1] > 1:  # absolute positions
        positions = [p / line_length for p in positions]
    widths = _column_widths(positions, line_length, len(headers))
    flops_by = measured[0] if measured else {}

    def fields(layer, prefix):
        name = f"{prefix}{layer.name} ({type(layer).__name__})"
        if not getattr(layer, "built", True):
            params = "0 (unbuilt)"
        else:
            try:
                params = _fmt_int(layer.count_params())
            except ValueError:
                params = "0 (unbuilt)"
        row = [name, layer_output_shape(layer), params]
        if show_flops:
            f = flops_by.get(id(layer)) if measured else None
            row.append(_fmt_flops(0 if measured and f is None else f))
        if not sequential_like:
            row.append(_connections(graph, layer) if not prefix else "")
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        return row

    def rows_for(layer, level=0):
        out = [fields(layer, "   " * level + "└ " if level else "")]
        if expand_nested:
            sub = getattr(layer, "layers", None)
            if isinstance(sub, list):
                for child in sub:
                    out.extend(rows_for(child, level + 1))
        return out

    rows = []
    for layer in layers:
        rows.extend(rows_for(layer))

    def hline(l, m, r, ch):
        return l + m.join(ch * w for w in widths) + r

    def cells(vals, sep):
        wrapped = [_wrap_cell(v, w - 2) for v, w in zip(vals, widths)]
        height = max(len(c) for c in wrapped)
        out = []
        for i in range(height):
            parts = []
            for c, w, a in zip(wrapped, widths, aligns):
                t = c[i] if i < len(c) else ""
                t = t.rjust(w - 2) if a == "r" else t.center(w - 2) if a == "c" else \
                    t.ljust(w - 2)
                parts.append(" " + t + " ")
            out.append(sep + sep.join(parts) + sep)
        return out

    text = [f'Model: "{model.name}"', hline("┏", "┳", "┓", "━")]
    text += cells(headers, "┃")
    text.append(hline("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        text += cells(row, "│")
        if i != len(rows) - 1:
            text.append(hline("├", "┼", "┤", "─"))
    text.append(hline("└", "┴", "┘", "─"))

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    t_count, n_count = _count(trainable), _count(non_trainable)
    t_bytes, n_bytes = _weights_bytes(trainable), _weights_bytes(non_trainable)
    opt = getattr(model, "optimizer", None)
    opt_vars = None
    if getattr(model, "compiled", False) and opt is not None and getattr(opt, "built", False):
        opt_vars = opt.variables() if callable(opt.variables) else opt.variables
    o_count = _count(opt_vars) if opt_vars is not None else 0
    o_bytes = _weights_bytes(opt_vars) if opt_vars is not None else 0
    text.append(f" Total params: {_fmt_int(t_count + n_count + o_count)} "
                f"({readable_memory_size(t_bytes + n_bytes + o_bytes)})")
    text.append(f" Trainable params: {_fmt_int(t_count)} ({readable_memory_size(t_bytes)})")
    text.append(f" Non-trainable params: {_fmt_int(n_count)} ({readable_memory_size(n_bytes)})")
    if opt_vars is not None:
        text.append(f" Optimizer params: {_fmt_int(o_count)} ({readable_memory_size(o_bytes)})")
    if measured:
        text.append(f" FLOPs per sample (forward): {_fmt_int(int(measured[1]))}")
        text.append(f" Memory: parameters {readable_memory_size(t_bytes + n_bytes)}, "
                    f"activations {readable_memory_size(measured[2])} per sample (forward)")
    out = "\n".join(text) + "\n"
    if print_fn is None:
        from tenfold.keras.utils.progbar import print_msg
        print_msg(out, line_break=False)
    else:
        print_fn(out)


def _layer_range_bounds(layers, layer_range):
    """Keras's `layer_range`: two layer names (or regexes), both ends included."""
    if len(layer_range) != 2:
        raise ValueError("layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range = {layer_range} of length {len(layer_range)}")
    if not isinstance(layer_range[0], str) or not isinstance(layer_range[1], str):
        raise ValueError(f"layer_range should contain string type only. Received: "
                         f"{layer_range}")
    names = [l.name for l in layers]
    lo = [i for i, n in enumerate(names) if re.match(layer_range[0], n)]
    hi = [i for i, n in enumerate(names) if re.match(layer_range[1], n)]
    if not lo or not hi:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. "
                         f"Received: {layer_range}")
    if lo[0] > hi[-1]:
        raise ValueError("layer_range[1] must come after layer_range[0] in the model.")
    return lo[0], hi[-1] + 1
