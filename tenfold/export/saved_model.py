"""`tf.saved_model`: TensorFlow SavedModel directories, written and read.

`save` traces each signature with `tf.function`, lowers the traced graph to TensorFlow ops
(`_tf_graph.py`, one lowering per primitive) and writes `saved_model.pb`: a SavedModel whose
one MetaGraphDef (tag "serve") holds the GraphDef and a `signature_def` per signature, with
the variables frozen into `Const` nodes (so `variables/` is empty: there is no checkpoint to
restore). TensorFlow's `tf.saved_model.load` loads it through its TF1 loader and runs
`loaded.signatures["serving_default"](**inputs)`; TensorFlow Serving serves it (signature
`serving_default`, method `tensorflow/serving/predict`). What such a file lacks beside one
TensorFlow writes: trainable variables and the object graph (no `loaded.serve(...)` or
fine-tuning in TensorFlow; in tenfold `loaded.serve` runs the "serve" signature).

Batch sizes: a `None` dimension of the input signature is traced at two sizes; dimensions of
the traced values that follow it become `-1` in the GraphDef, and a graph that bakes the size
in anywhere else (a constant, a broadcast) is refused by name.

`load` reads SavedModels that hold these ops (the ones tenfold writes, and TF1-style frozen
graphs of the same layers) and runs their signatures with tenfold's ops.
"""
import contextlib
import functools
import os

import numpy as np

_SERVE_TAG = "serve"
_PREDICT = "tensorflow/serving/predict"
_DEFAULT_KEY = "serving_default"
# trace sizes for None dimensions: two different, unusual sizes so varying dims are found
_TRACE_SIZES = (2, 3)


class SaveOptions:
    """`tf.saved_model.SaveOptions`: accepted; the options that concern variables, devices
    and debug info have nothing to act on in a frozen graph. `extra_tags` are added to the
    MetaGraphDef's tags."""

    __slots__ = ("namespace_whitelist", "save_debug_info", "function_aliases",
                 "experimental_debug_stripper", "experimental_io_device",
                 "experimental_variable_policy", "experimental_custom_gradients",
                 "experimental_image_format", "experimental_skip_saver",
                 "experimental_sharding_callback", "extra_tags")

    def __init__(self, namespace_whitelist=None, save_debug_info=False, function_aliases=None,
                 experimental_debug_stripper=False, experimental_io_device=None,
                 experimental_variable_policy=None, experimental_custom_gradients=True,
                 experimental_image_format=False, experimental_skip_saver=False,
                 experimental_sharding_callback=None, extra_tags=None):
        self.namespace_whitelist = list(namespace_whitelist or [])
        self.save_debug_info = save_debug_info
        self.function_aliases = dict(function_aliases or {})
        self.experimental_debug_stripper = experimental_debug_stripper
        self.experimental_io_device = experimental_io_device
        self.experimental_variable_policy = experimental_variable_policy
        self.experimental_custom_gradients = experimental_custom_gradients
        self.experimental_image_format = experimental_image_format
        self.experimental_skip_saver = experimental_skip_saver
        self.experimental_sharding_callback = experimental_sharding_callback
        self.extra_tags = list(extra_tags or [])


class LoadOptions:
    """`tf.saved_model.LoadOptions`: accepted (nothing in tenfold's reader depends on it)."""

    def __init__(self, allow_partial_checkpoint=False, experimental_io_device=None,
                 experimental_skip_checkpoint=False, experimental_variable_policy=None,
                 experimental_load_function_aliases=False):
        self.allow_partial_checkpoint = allow_partial_checkpoint
        self.experimental_io_device = experimental_io_device
        self.experimental_skip_checkpoint = experimental_skip_checkpoint
        self.experimental_variable_policy = experimental_variable_policy
        self.experimental_load_function_aliases = experimental_load_function_aliases


SERVING = _SERVE_TAG
DEFAULT_SERVING_SIGNATURE_DEF_KEY = _DEFAULT_KEY
PREDICT_METHOD_NAME = _PREDICT


# ---------------------------------------------------------------------------- signatures
class _Signature:
    """One signature to export: a Python callable taking tensors positionally, its input
    TensorSpecs and input names, and how to name its outputs."""

    def __init__(self, fn, specs, names, autograph=True, model=None):
        self.fn = fn
        self.model = model      # a Keras model: errors name the layer of a failing op
        self.specs = list(specs)
        self.names = list(names)
        self.autograph = autograph


def _keras_input_names(model):
    # Keras 3 names an exported input after its input tensor: the name given to
    # keras.Input(name=...), else "keras_tensor" (+ suffix), never the layer's "input_layer".
    names = []
    for i, t in enumerate(model.inputs):
        n = str(getattr(t, "name", "") or "").split(":")[0]
        if not n or n.startswith("input_layer"):
            n = "keras_tensor" + n[len("input_layer"):] if n else f"keras_tensor_{i}"
        names.append(n)
    return names


def _keras_signature(model, input_signature=None):
    from tenfold.graph.spec import TensorSpec
    if input_signature is not None:
        specs = list(input_signature)
        if len(specs) == 1 and isinstance(specs[0], (list, tuple)):
            specs = list(specs[0])
        names = [s.name or f"args_{i}" for i, s in enumerate(specs)]
    else:
        inputs = getattr(model, "inputs", None)
        if not inputs:
            raise ValueError(
                f"SavedModel export of {type(model).__name__} '{getattr(model, 'name', '')}':"
                " the model has no known inputs (a subclassed model that was never called, or "
                "built without an Input). Call it on data once, or pass input_signature="
                "[tf.TensorSpec(shape, dtype)].")
        names = _keras_input_names(model)
        specs = [TensorSpec(tuple(t.shape), getattr(t, "dtype", "float32"), name=n)
                 for t, n in zip(inputs, names)]
    single = len(specs) == 1

    def serve(*xs):
        return model(xs[0] if single else list(xs), training=False)
    return _Signature(serve, specs, names, model=model)


def _function_signature(fn, where):
    """A tf.function with an input_signature, or a ConcreteFunction."""
    from tenfold.graph.function import ConcreteFunction, Function
    from tenfold.graph.spec import TensorSpec
    if isinstance(fn, ConcreteFunction):
        func = fn._function
        specs = [s for s in fn._arg_specs if isinstance(s, TensorSpec)]
        if len(specs) != len(fn._arg_specs):
            raise ValueError(f"{where}: a concrete function with non-tensor arguments cannot "
                             "be a signature (signatures take tensors only).")
    elif isinstance(fn, Function):
        if fn.input_signature is None:
            raise ValueError(
                f"{where}: tf.function '{fn.__name__}' has no input_signature. Give it one "
                "(@tf.function(input_signature=[tf.TensorSpec(...)])) or pass "
                "f.get_concrete_function(tf.TensorSpec(...)).")
        func = fn
        from tenfold.graph.function import _flatten
        specs = []
        _flatten(list(fn.input_signature), specs, "", None)
    else:
        raise TypeError(f"{where}: expected a tf.function or a ConcreteFunction, got "
                        f"{type(fn).__name__}")
    try:
        params = list(func._signature.parameters) if func._signature is not None else []
    except (AttributeError, TypeError):
        params = []
    names = []
    for i, s in enumerate(specs):
        if s.name:
            names.append(s.name)
        elif len(params) == len(specs):
            names.append(params[i])
        else:
            names.append(f"args_{i}")
    py = func._python_function
    return _Signature(lambda *xs: py(*xs), specs, names, autograph=func._autograph)


def _find_signatures(obj, signatures):
    from tenfold.graph.function import ConcreteFunction, Function
    where = "tf.saved_model.save"
    if signatures is not None:
        if isinstance(signatures, dict):
            return {str(k): _function_signature(v, f"{where}: signature '{k}'")
                    for k, v in signatures.items()}
        return {_DEFAULT_KEY: _function_signature(signatures, where)}
    from tenfold.keras.models.model import Model
    if isinstance(obj, Model):
        return {_DEFAULT_KEY: _keras_signature(obj)}
    if isinstance(obj, (Function, ConcreteFunction)):
        return {_DEFAULT_KEY: _function_signature(obj, where)}
    found = []
    for name in sorted(set(dir(type(obj))) | set(getattr(obj, "__dict__", {}))):
        if name.startswith("__") and name != "__call__":
            continue
        try:
            attr = getattr(obj, name)
        except Exception:  # a property that raises: not a signature
            continue
        if isinstance(attr, Function) and attr.input_signature is not None:
            found.append((name, attr))
    if len(found) == 1:
        return {_DEFAULT_KEY: _function_signature(found[0][1], where)}
    if not found:
        raise ValueError(
            f"{where}: {type(obj).__name__} has no signature to export. Pass signatures="
            "(a tf.function with an input_signature, a ConcreteFunction, or a dict of them), "
            "or save a Keras model.")
    raise ValueError(
        f"{where}: {type(obj).__name__} has several tf.functions with an input_signature "
        f"({', '.join(n for n, _ in found)}); say which to export with signatures="
        "{'serving_default': obj.method}.")


# ---------------------------------------------------------------------------- tracing
@contextlib.contextmanager
def _layer_owners(model, owners):
    """While tracing `model`: owners[node index] = the innermost layer whose call recorded
    the node (so an op without a lowering is reported with its layer)."""
    from tenfold.graph.tracer import current_tracer
    if model is None:
        yield
        return
    patched = []
    for layer in model._flatten_layers(include_self=False):
        orig = layer.call

        @functools.wraps(orig)
        def call(*args, _orig=orig, _layer=layer, **kwargs):
            tr = current_tracer()
            start = len(tr.graph.nodes) if tr is not None else 0
            out = _orig(*args, **kwargs)
            if tr is not None:
                for i in range(start, len(tr.graph.nodes)):
                    owners.setdefault(i, _layer)
            return out
        object.__setattr__(layer, "call", call)
        patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")


def _trace(sig, size, owners=None):
    """(graph, output names) of `sig` traced with None dimensions set to `size`."""
    import tenfold
    from tenfold.graph.spec import TensorSpec
    concrete = [TensorSpec(tuple(size if d is None else d for d in s.shape.as_list()),
                           s.dtype) for s in sig.specs]
    f = tenfold.function(sig.fn, autograph=sig.autograph)
    with _layer_owners(sig.model, {} if owners is None else owners):
        cf = f.get_concrete_function(*concrete)
    program = cf._first
    kinds = program.out_kinds
    if any(type(k) is not int for k in kinds):
        raise ValueError("tf.saved_model.save: the signature function returns Python values "
                         "(not tensors); a signature returns tensors only.")
    tmpl = program.out_template
    if isinstance(tmpl, dict):
        names = [str(k) for k in sorted(tmpl, key=lambda k: (str(type(k)), str(k)))]
    elif program.single:
        names = ["output_0"]
    else:
        names = [f"output_{i}" for i in range(len(kinds))]
    outs = [program.graph.outputs[k] for k in kinds]
    return program.graph, outs, names


def _varying_dims(g1, g2, owners=None):
    """{value id: axes whose size differs} between two traces of one function, after
    checking that they are the same program and bake no size into a constant."""
    if len(g1.nodes) != len(g2.nodes) or len(g1.values) != len(g2.values) or any(
            a.op.name != b.op.name for a, b in zip(g1.nodes, g2.nodes)):
        raise ValueError(
            "tf.saved_model.save: the function traces to different programs for different "
            "batch sizes, so one graph cannot serve them all; give the input signature a "
            "fixed batch size.")
    varying = {}
    for vid, (a, b) in enumerate(zip(g1.values, g2.values)):
        if a.shape != b.shape:
            if len(a.shape) != len(b.shape):
                raise ValueError("tf.saved_model.save: a value changes rank with the batch "
                                 "size; give the input signature a fixed batch size.")
            varying[vid] = {i for i, (x, y) in enumerate(zip(a.shape, b.shape)) if x != y}
        if a.kind == "const" and (varying.get(vid) or not np.array_equal(
                np.asarray(a.payload), np.asarray(b.payload))):
            users = [k for k, n in enumerate(g1.nodes) if vid in n.inputs]
            layers = [owners[k] for k in users if owners and k in owners]
            where = f"{type(layers[0]).__name__} layer \"{layers[0].name}\": " if layers \
                else ""
            raise ValueError(
                f"tf.saved_model.save: {where}a constant used by "
                f"{[g1.nodes[k].op.name for k in users] or 'an output'} depends on "
                "the batch size (it was computed from the input's shape while tracing); this "
                "has no batch-independent graph. Give the input signature a fixed batch size.")
    for a, b in zip(g1.nodes, g2.nodes):
        if _strip(a.params) != _strip(b.params) and not _batch_free_params(a.op.name):
            raise ValueError(
                f"tf.saved_model.save: op '{a.op.name}' has parameters that depend on the "
                f"batch size ({_strip(a.params)} vs {_strip(b.params)}); give the input "
                "signature a fixed batch size.")
    return varying


def _batch_free_params(name):
    """Whether the lowering of primitive `name` makes its traced-shape params batch-free."""
    from tenfold.export._tf_graph import LOWERINGS
    return getattr(LOWERINGS.get(name), "batch_free_params", False)


def _strip(params):
    return {k: v for k, v in params.items() if not callable(v)}


def _meta_graph(signatures, tags):
    from tenfold.export import _tf_graph as G
    from tenfold.export import _tf_protos as P
    b = G.Builder()
    mg = P.meta_graph_pb2.MetaGraphDef()
    mg.meta_info_def.tags.extend(tags)
    mg.meta_info_def.tensorflow_version = P.TF_VERSION
    mg.meta_info_def.tensorflow_git_version = "tenfold"
    done = {}
    for key, sig in signatures.items():
        if id(sig) in done:  # one signature under two keys (Keras: serving_default, serve)
            mg.signature_def[key].CopyFrom(mg.signature_def[done[id(sig)]])
            continue
        done[id(sig)] = key
        has_none = any(d is None for s in sig.specs for d in s.shape.as_list())
        owners = {}
        g1, outs, out_names = _trace(sig, _TRACE_SIZES[0], owners)
        varying = {}
        if has_none:
            g2, _, _ = _trace(sig, _TRACE_SIZES[1])
            varying = _varying_dims(g1, g2, owners)
        scope = "" if key == _DEFAULT_KEY else f"{key}/"
        ins = []
        for vid, name, spec in zip(g1.inputs, sig.names, sig.specs):
            ins.append(b.placeholder(f"{key}_{name}", g1.values[vid].dtype, spec.shape.as_list()))
        tensors = G.Lowering(b, g1, ins, varying, scope=scope, owners=owners).run()
        sd = mg.signature_def[key]
        sd.method_name = _PREDICT
        for name, t, vid, spec in zip(sig.names, ins, g1.inputs, sig.specs):
            info = sd.inputs[name]
            info.name = t + ":0"
            info.dtype = P.dt_enum(g1.values[vid].dtype)
            info.tensor_shape.CopyFrom(P.shape_proto(spec.shape.as_list()))
        by_vid = dict(zip(g1.outputs, tensors))
        for name, vid in zip(out_names, outs):
            v = g1.values[vid]
            t = b.node("Identity", [by_vid[vid]], name=scope + "Identity",
                       T=G.type_attr(v.dtype))
            info = sd.outputs[name]
            info.name = t + ":0"
            info.dtype = P.dt_enum(v.dtype)
            shape = [None if i in varying.get(vid, ()) else d for i, d in enumerate(v.shape)]
            info.tensor_shape.CopyFrom(P.shape_proto(shape))
    mg.graph_def.CopyFrom(b.graph_def)
    return mg


def _write(export_dir, meta_graph):
    from tenfold.export import _tf_protos as P
    sm = P.saved_model_pb2.SavedModel(saved_model_schema_version=1)
    sm.meta_graphs.add().CopyFrom(meta_graph)
    data = sm.SerializeToString()
    export_dir = os.fspath(export_dir)
    if os.path.isfile(export_dir):
        raise ValueError(f"tf.saved_model.save: '{export_dir}' is a file; a SavedModel is a "
                         "directory.")
    os.makedirs(os.path.join(export_dir, "variables"), exist_ok=True)
    tmp = os.path.join(export_dir, ".saved_model.pb.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(export_dir, "saved_model.pb"))


def save(obj, export_dir, signatures=None, options=None):
    """Writes `obj` (a Keras model, a tf.function with an input_signature, or an object with
    one; or `signatures`: a function or a dict of them) to the SavedModel directory
    `export_dir`. Nothing is written when a signature cannot be exported."""
    if options is not None and not isinstance(options, SaveOptions):
        raise TypeError(f"tf.saved_model.save: options must be a tf.saved_model.SaveOptions, "
                        f"got {type(options).__name__}")
    sigs = _find_signatures(obj, signatures)
    tags = [_SERVE_TAG] + [t for t in (options.extra_tags if options else []) if t != "serve"]
    _write(export_dir, _meta_graph(sigs, tags))


def export_keras(model, filepath, input_signature=None, verbose=True):
    """`model.export(filepath)` (format="tf_saved_model"): the "serve" endpoint, also the
    "serving_default" signature, as Keras 3 writes them."""
    sig = _keras_signature(model, input_signature)
    _write(filepath, _meta_graph({_DEFAULT_KEY: sig, "serve": sig}, [_SERVE_TAG]))
    if verbose:
        args = "\n".join(f"  {n}: TensorSpec(shape={tuple(s.shape.as_list())}, "
                         f"dtype={s.dtype.name})" for n, s in zip(sig.names, sig.specs))
        print(f"Saved artifact at '{os.fspath(filepath)}'. The following endpoints are "
              f"available:\n\n* Endpoint 'serve'\n{args}")


class ExportArchive:
    """`keras.export.ExportArchive`: endpoints of tracked models written as one SavedModel.

        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", model.call,
                             input_signature=[keras.InputSpec((None, 28, 28), "float32")])
        archive.write_out("digits/1")

    Every endpoint becomes a signature of that name, and the first one is also
    `serving_default` (unless an endpoint has that name), as Keras writes them. Weights are
    frozen (see the module docstring), so `add_variable_collection` is refused.
    """

    def __init__(self):
        self._tracked = []
        self._endpoints = {}

    def track(self, resource):
        self._tracked.append(resource)
        return resource

    @property
    def variables(self):
        return [v for r in self._tracked for v in getattr(r, "variables", [])]

    def add_endpoint(self, name, fn, input_signature=None, **kwargs):
        from tenfold.graph.function import Function
        if name in self._endpoints:
            raise ValueError(f"Endpoint name '{name}' is already taken.")
        if "jax2tf_kwargs" in kwargs or "is_static" in kwargs:
            raise ValueError("'jax2tf_kwargs' and 'is_static' are only supported with the "
                             "jax backend.")
        where = f"ExportArchive.add_endpoint('{name}')"
        if input_signature is None:
            if not isinstance(fn, Function):
                raise ValueError(
                    f"{where}: if `fn` is not a tf.function, you must provide an "
                    "`input_signature` argument to specify the shape and dtype of the "
                    "function arguments, e.g. input_signature=[keras.InputSpec(shape=(None, "
                    "224, 224, 3), dtype='float32')].")
            if fn.input_signature is not None:
                sig = _function_signature(fn, where)
            else:
                concrete = [c for c in fn._concrete.values() if c._first is not None]
                if not concrete:
                    raise ValueError(
                        f"{where}: the tf.function '{fn.__name__}' has never been called. "
                        "Call it once, or pass an `input_signature` argument.")
                sig = _function_signature(concrete[0], where)
                sig.specs = [_unbatched(s) for s in sig.specs]
        else:
            sig = _endpoint_signature(fn, input_signature)
        self._endpoints[name] = sig
        return fn

    def track_and_add_endpoint(self, name, resource, input_signature, **kwargs):
        self.track(resource)
        return self.add_endpoint(name, resource.__call__, input_signature, **kwargs)

    def add_variable_collection(self, name, variables):
        raise NotImplementedError(
            f"ExportArchive.add_variable_collection('{name}'): tenfold's SavedModels freeze "
            "the weights into the graph, so there are no variables to reload. Save the "
            "weights separately (model.save_weights) if you need them.")

    def write_out(self, filepath, options=None, verbose=True):
        if not self._endpoints:
            raise ValueError("No endpoints have been set yet. Call add_endpoint().")
        if options is not None and not isinstance(options, SaveOptions):
            raise TypeError(f"write_out: options must be a tf.saved_model.SaveOptions, got "
                            f"{type(options).__name__}")
        sigs = dict(self._endpoints)
        if _DEFAULT_KEY not in sigs:
            sigs = {_DEFAULT_KEY: next(iter(self._endpoints.values())), **sigs}
        tags = [_SERVE_TAG] + [t for t in (options.extra_tags if options else [])
                               if t != _SERVE_TAG]
        _write(filepath, _meta_graph(sigs, tags))
        if verbose:
            lines = []
            for name, sig in self._endpoints.items():
                args = "\n".join(f"  {n}: TensorSpec(shape={tuple(s.shape.as_list())}, "
                                 f"dtype={s.dtype.name})" for n, s in zip(sig.names, sig.specs))
                lines.append(f"* Endpoint '{name}'\n{args}")
            print(f"Saved artifact at '{os.fspath(filepath)}'. The following endpoints are "
                  "available:\n\n" + "\n\n".join(lines))


def _unbatched(spec):
    """A traced concrete shape with its batch left open, as Keras's endpoints have it."""
    from tenfold.graph.spec import TensorSpec
    dims = spec.shape.as_list()
    return TensorSpec([None] + dims[1:] if dims else dims, spec.dtype, name=spec.name)


def _endpoint_signature(fn, input_signature):
    """A _Signature for `fn` called with `input_signature` (TensorSpecs, keras.InputSpecs or
    KerasTensors; one nested list is passed to `fn` as one list argument)."""
    import inspect
    from tenfold.graph.spec import TensorSpec

    def spec_of(x, i):
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", None) or "float32"
        if shape is None:
            raise TypeError(f"input_signature[{i}]: expected a tf.TensorSpec, keras.InputSpec "
                            f"or KerasTensor with a shape, got {x!r}")
        name = getattr(x, "name", None)
        name = str(name).split(":")[0] if isinstance(name, str) and name else None
        return TensorSpec(tuple(shape), dtype, name=name)

    sig = list(input_signature)
    as_list = len(sig) == 1 and isinstance(sig[0], (list, tuple))
    leaves = list(sig[0]) if as_list else sig
    specs = [spec_of(x, i) for i, x in enumerate(leaves)]
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    for i, s in enumerate(specs):
        if s.name:
            names.append(s.name)
        elif not as_list and i < len(params):
            names.append(params[i].name)
        else:
            names.append(f"args_{i}" if not as_list else f"args_0_{i}")
    seen = set()
    for i, n in enumerate(names):  # signature input names must be unique
        if n in seen:
            names[i] = f"{n}_{i}"
        seen.add(names[i])
    if as_list:
        def call(*xs):
            return fn(list(xs))
    else:
        def call(*xs):
            return fn(*xs)
    model = getattr(fn, "__self__", None)
    from tenfold.keras.layers.layer import Layer
    return _Signature(call, specs, names, model=model if isinstance(model, Layer) else None)


# ---------------------------------------------------------------------------- load
class SignatureFunction:
    """A loaded signature: call it with its inputs by name (keyword arguments); returns a
    dict of output tensors, as TensorFlow's `loaded.signatures[key]` does."""

    def __init__(self, runner, key, signature_def):
        from tenfold.export import _tf_protos as P
        self.name = key
        self._runner = runner
        self.inputs = {k: v for k, v in signature_def.inputs.items()}
        self.outputs = {k: v for k, v in signature_def.outputs.items()}
        self._input_order = list(self.inputs)
        self._dtypes = {k: P.np_dtype(v.dtype) for k, v in self.inputs.items()}
        self._shapes = {k: [d.size for d in v.tensor_shape.dim] if not
                        v.tensor_shape.unknown_rank else None for k, v in self.inputs.items()}
        runner.needed([v.name for v in self.outputs.values()],
                      {_node_name(v.name) for v in self.inputs.values()})

    @property
    def structured_input_signature(self):
        from tenfold.graph.spec import TensorSpec
        return ((), {k: TensorSpec([None if d == -1 else d for d in (self._shapes[k] or [])],
                                   self._dtypes[k], name=k) for k in self._input_order})

    @property
    def structured_outputs(self):
        from tenfold.export import _tf_protos as P
        from tenfold.graph.spec import TensorSpec
        return {k: TensorSpec([None if d.size == -1 else d.size for d in v.tensor_shape.dim],
                              P.np_dtype(v.dtype), name=k) for k, v in self.outputs.items()}

    def __call__(self, *args, **kwargs):
        import tenfold
        if args:
            raise TypeError(f"signature '{self.name}' takes its inputs as keyword arguments "
                            f"({', '.join(self._input_order)}), got {len(args)} positional")
        missing = [k for k in self._input_order if k not in kwargs]
        extra = [k for k in kwargs if k not in self.inputs]
        if missing or extra:
            raise TypeError(f"signature '{self.name}' takes inputs {self._input_order}; "
                            f"missing {missing}, unexpected {extra}")
        feeds = {}
        for k in self._input_order:
            x = tenfold.convert_to_tensor(kwargs[k], dtype=self._dtypes[k])
            shape = self._shapes[k]
            if shape is not None and (len(x.shape) != len(shape) or any(
                    d != -1 and d != s for d, s in zip(shape, x.shape))):
                raise ValueError(f"signature '{self.name}': input '{k}' has shape "
                                 f"{tuple(x.shape)}, expected "
                                 f"{tuple(None if d == -1 else d for d in shape)}")
            feeds[_node_name(self.inputs[k].name)] = x
        keys = list(self.outputs)
        outs = self._runner.run(feeds, [self.outputs[k].name for k in keys])
        return dict(zip(keys, outs))


def _node_name(tensor_name):
    """The node of a tensor name ("dense/MatMul:0" -> "dense/MatMul")."""
    return tensor_name.lstrip("^").partition(":")[0]


class _Loaded:
    """What `tf.saved_model.load` returns for a graph SavedModel: `.signatures`; and, when a
    "serve" signature exists (Keras exports), `.serve(*inputs)` called positionally."""

    def __init__(self, signatures, meta_graph):
        self.signatures = signatures
        self.tensorflow_version = meta_graph.meta_info_def.tensorflow_version
        self.graph_def = meta_graph.graph_def
        self.variables = []
        self.trainable_variables = []

    def __getattr__(self, name):
        if name == "serve" and "serve" in self.__dict__.get("signatures", {}):
            sig = self.signatures["serve"]

            def serve(*xs):
                out = sig(**dict(zip(sig._input_order, xs)))
                vals = [out[k] for k in sorted(out, key=lambda k: int(k.split("_")[-1])
                                               if k.startswith("output_") else 0)]
                return vals[0] if len(vals) == 1 else vals
            return serve
        raise AttributeError(f"loaded SavedModel has no attribute {name!r}")


def load(export_dir, tags=None, options=None):
    """Loads a SavedModel directory; returns an object whose `.signatures[key](**inputs)`
    run with tenfold's ops."""
    from tenfold.export import _tf_protos as P
    from tenfold.export._tf_run import GraphRunner
    export_dir = os.fspath(export_dir)
    path = os.path.join(export_dir, "saved_model.pb")
    if not os.path.exists(path):
        if os.path.exists(os.path.join(export_dir, "saved_model.pbtxt")):
            raise ValueError(f"tf.saved_model.load('{export_dir}'): text-format "
                             "saved_model.pbtxt is not supported; save it as saved_model.pb.")
        raise OSError(f"tf.saved_model.load: no SavedModel at '{export_dir}' (no "
                      "saved_model.pb found).")
    sm = P.saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        data = f.read()
    try:
        sm.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError: name the file
        raise ValueError(f"tf.saved_model.load: '{path}' is not a SavedModel protobuf "
                         f"({e})") from None
    if not sm.meta_graphs:
        raise ValueError(f"tf.saved_model.load: '{path}' is not a usable SavedModel: it holds "
                         "no MetaGraph.")
    want = {tags} if isinstance(tags, str) else set(tags or [_SERVE_TAG])
    metas = [m for m in sm.meta_graphs if want <= set(m.meta_info_def.tags)]
    if not metas:
        have = [list(m.meta_info_def.tags) for m in sm.meta_graphs]
        raise ValueError(f"tf.saved_model.load('{export_dir}'): no MetaGraph with tags "
                         f"{sorted(want)}; it has {have}.")
    mg = metas[0]
    if mg.HasField("object_graph_def") and len(mg.object_graph_def.nodes) and \
            not mg.signature_def:
        raise ValueError(f"tf.saved_model.load('{export_dir}'): a TensorFlow 2 object-graph "
                         "SavedModel without signatures; tenfold reads graph signatures only.")
    runner = GraphRunner(mg.graph_def, where=f"SavedModel '{export_dir}'")
    if any(n.op in ("VarHandleOp", "VariableV2") for n in mg.graph_def.node):
        raise ValueError(
            f"tf.saved_model.load('{export_dir}'): this SavedModel keeps its weights in "
            "variables (a checkpoint), which tenfold's reader does not restore; tenfold "
            "reads SavedModels with frozen weights, such as those tenfold writes. Load the "
            "model from a .keras file instead.")
    sigs = {k: SignatureFunction(runner, k, sd) for k, sd in mg.signature_def.items()
            if not k.startswith("__")}
    return _Loaded(sigs, mg)


def contains_saved_model(export_dir):
    return os.path.exists(os.path.join(os.fspath(export_dir), "saved_model.pb"))
