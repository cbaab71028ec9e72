"""`keras.utils.plot_model` / `model_to_dot`: the model graph as Graphviz.

The DOT text is written by tenfold itself; rendering it to an image needs the `dot` program of
Graphviz. Without it, `plot_model` writes the `.dot` file next to the requested image and says
how to render it (or raises ImportError, as Keras does, when asked for an image explicitly
with `show_dot_fallback=False`)."""
import os
import shutil
import subprocess


def _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    cls = type(layer).__name__
    parts = [f"{layer.name} ({cls})" if show_layer_names else cls]
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        act = layer.activation
        parts.append(f"activation: {getattr(act, '__name__', str(act))}")
    if show_trainable:
        parts.append(f"trainable: {'Y' if layer.trainable else 'N'}")
    if show_shapes or show_dtype:
        from tenfold.keras.engine.summary import layer_output_shape
        if show_shapes:
            parts.append(f"output: {layer_output_shape(layer)}")
        if show_dtype:
            parts.append(f"dtype: {getattr(layer, 'compute_dtype', '?')}")
    return "\\n".join(p.replace('"', '\\"') for p in parts)


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, **kwargs):
    """The DOT source (a string) of the model's layer graph."""
    from tenfold.keras.models.functional import Functional
    lines = [f"digraph \"{model.name}\" {{", f"  rankdir={rankdir};", f"  dpi={dpi};",
             "  node [shape=record, fontname=Helvetica];"]
    layers = model.layers
    if not layers:
        raise ValueError("This model has no layers yet: build it (call it on data or give the "
                         "first layer an input shape) before plotting it.")
    ids = {id(l): f"n{i}" for i, l in enumerate(layers)}
    for l in layers:
        lab = _label(l, show_shapes, show_dtype, show_layer_names, show_layer_activations,
                     show_trainable)
        lines.append(f"  {ids[id(l)]} [label=\"{lab}\"];")
    graph = getattr(model, "_functional", None) or (model if isinstance(model, Functional)
                                                     else None)
    if graph is not None:
        for l in graph.layers:
            for node in l._inbound_nodes:
                if not graph._node_in_graph(node):
                    continue
                for kt in node.input_tensors:
                    src = kt._keras_history[0] if kt._keras_history else None
                    a, b = ids.get(id(src)), ids.get(id(l))
                    if a and b:
                        lines.append(f"  {a} -> {b};")
    else:
        for a, b in zip(layers, layers[1:]):
            lines.append(f"  {ids[id(a)]} -> {ids[id(b)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Writes the model graph: `.dot` files directly, images through Graphviz's `dot`."""
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable)
    to_file = str(to_file)
    base, ext = os.path.splitext(to_file)
    fmt = ext[1:].lower() or "png"
    if fmt in ("dot", "gv"):
        with open(to_file, "w") as f:
            f.write(dot)
        return to_file
    exe = shutil.which("dot")
    if exe is None:
        dot_file = base + ".dot"
        with open(dot_file, "w") as f:
            f.write(dot)
        raise ImportError(
            f"You must install graphviz (the `dot` program; e.g. `apt-get install graphviz`) "
            f"for `plot_model` to render {fmt.upper()} images. The graph was written as DOT "
            f"text to {dot_file!r}; render it with `dot -T{fmt} {dot_file} -o {to_file}`, or "
            "pass to_file='model.dot'.")
    subprocess.run([exe, f"-T{fmt}", "-o", to_file], input=dot.encode(), check=True)
    return to_file
