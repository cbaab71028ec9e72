"""Functional models: a graph of layer calls from `Input`s to outputs.

The graph is the Nodes that `symbolic_call` recorded (`layer._inbound_nodes`). It is walked
once, iteratively (deep models don't hit the recursion limit), into Keras 3's order of
operations, and turned into a flat execution plan that `call` runs with one dict lookup per
edge.
"""
import collections

import numpy as np

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.keras.engine.keras_tensor import KerasTensor
from tenfold.keras.layers.layer import Layer
from tenfold.keras.models.model import Model
from tenfold.util import nest
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import to_host


# ---------------------------------------------------------------------------- graph walking
def _node_of(kt):
    hist = kt._keras_history
    if hist is None:
        return None, None
    layer, node_index = hist[0], hist[1]
    return layer, layer._inbound_nodes[node_index]


def _build_map(inputs, outputs):
    """Nodes in decreasing depth (post-order DFS from the outputs) and the order in which
    layers were first reached — as Keras 3's `_build_map`, without recursion."""
    finished, in_progress = set(), set()
    order, op_index = [], {}
    input_ids = {id(t) for t in inputs}

    def enter(t):
        layer, node = _node_of(t)
        if layer is None:
            return None
        if id(node) in finished:
            return None
        if not node.is_input and id(t) in input_ids:
            finished.add(id(node))
            return None
        if id(node) in in_progress:
            raise ValueError(f"Tensor {t} from layer '{layer.name}' is part of a cycle.")
        op_index.setdefault(id(layer), (len(op_index), layer))
        in_progress.add(id(node))
        children = [] if node.is_input else list(node.input_tensors)
        return [node, iter(children)]

    for out in outputs:
        frame = enter(out)
        stack = [frame] if frame else []
        while stack:
            node, it = stack[-1]
            child = next(it, None)
            if child is None:
                stack.pop()
                finished.add(id(node))
                in_progress.discard(id(node))
                order.append(node)
                continue
            f = enter(child)
            if f:
                stack.append(f)
    return order, op_index


def map_graph(inputs, outputs):
    """(node ids in the graph, nodes by depth, layers in Keras's order)."""
    nodes_in_decreasing_depth, op_index = _build_map(inputs, outputs)
    in_graph = {id(n) for n in nodes_in_decreasing_depth}
    node_depth = {}
    op_depth = {}
    node_by_id = {}
    for node in reversed(nodes_in_decreasing_depth):
        node_by_id[id(node)] = node
        depth = node_depth.setdefault(id(node), 0)
        prev = op_depth.get(id(node.layer), 0)
        depth = max(depth, prev)
        op_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            if id(parent) not in in_graph:
                continue
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:
        layer, node = _node_of(t)
        if layer is not None and id(layer) not in op_depth and node.is_input:
            op_depth[id(layer)] = 0
            op_index[id(layer)] = (-1, layer)
            node_depth[id(node)] = 0
            node_by_id[id(node)] = node
            in_graph.add(id(node))
    nodes_by_depth = collections.defaultdict(list)
    for nid, depth in node_depth.items():
        nodes_by_depth[depth].append(node_by_id[nid])
    ops_by_depth = collections.defaultdict(list)
    for lid, depth in op_depth.items():
        ops_by_depth[depth].append(op_index[lid])
    operations = []
    for depth in sorted(ops_by_depth, reverse=True):
        for _, layer in sorted(ops_by_depth[depth], key=lambda p: p[0]):
            operations.append(layer)
    # every node's inputs must be computable from the inputs
    computable = {id(t) for t in inputs}
    done = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input and not any(id(t) in computable for t in node.output_tensors):
                raise ValueError(
                    f"Graph disconnected: the outputs depend on the Input "
                    f"'{node.layer.name}', which is not one of the model's `inputs` "
                    f"({[getattr(t, 'name', t) for t in inputs]}). Add it to "
                    "Model(inputs=[...]).")
            for t in node.input_tensors:
                if id(t) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for tensor {t} at layer "
                        f"'{node.layer.name}'. The following previous layers were accessed "
                        f"without issue: {done}. Every path from the outputs must lead back "
                        "to one of the model's `inputs`: did you forget to pass an Input to "
                        "Model(inputs=...)?")
            done.append(node.layer.name)
            for t in node.output_tensors:
                computable.add(id(t))
    names = [l.name for l in operations]
    for n in names:
        if names.count(n) != 1:
            raise ValueError(f'The name "{n}" is used {names.count(n)} times in the model. All '
                             "layer names should be unique.")
    return in_graph, nodes_by_depth, operations


class _Plan:
    """The execution plan (kept out of attribute tracking by not being a container)."""

    def __init__(self, steps, node_ids):
        self.steps = steps
        self.node_ids = node_ids


def unpack_singleton(x):
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


# ---------------------------------------------------------------------------- Functional
class Functional(Model):
    """A model defined by `Model(inputs, outputs)` (or built by Sequential)."""

    def __new__(cls, *args, **kwargs):
        return Layer.__new__(cls)

    def __init__(self, inputs, outputs, name=None, **kwargs):
        self._init_trainer()
        trainable = kwargs.pop("trainable", None)
        if isinstance(inputs, dict):
            for k, v in inputs.items():
                if isinstance(v, KerasTensor) and k != v.name:
                    import warnings
                    warnings.warn(f"When providing `inputs` as a dict, all keys in the dict "
                                  f"must match the names of the corresponding tensors. Received "
                                  f"key '{k}' mapping to a tensor named '{v.name}'.",
                                  stacklevel=2)
        flat_in = nest.flatten(inputs)
        flat_out = nest.flatten(outputs)
        for what, flat, given in (("inputs", flat_in, inputs), ("outputs", flat_out, outputs)):
            if not flat:
                raise ValueError(f"`{what}` argument cannot be empty. Received: {what}={given}")
            for x in flat:
                if not isinstance(x, KerasTensor):
                    hint = (" Did you pass NumPy data or a tensor? Model(inputs, outputs) takes "
                            "the symbolic tensors of the functional API: inputs = "
                            "keras.Input(shape=...), outputs = layer(...)(inputs).")
                    raise ValueError(f"All `{what}` values must be KerasTensors. Received: "
                                     f"{what}={given!r} including invalid value {x!r} of type "
                                     f"{type(x).__name__}.{hint}")
        Layer.__init__(self, name=name, **kwargs)
        self._inputs_struct = _copy_struct(inputs)
        self._outputs_struct = _copy_struct(outputs)
        self._inputs = flat_in
        self._outputs = flat_out
        node_ids, nodes_by_depth, operations = map_graph(flat_in, flat_out)
        self._nodes_by_depth = nodes_by_depth
        self._model_layers = list(operations)
        self._plan = _Plan(self._make_plan(nodes_by_depth), node_ids)
        self.built = True
        if trainable is not None:
            self.trainable = trainable
        self.output_names = [x._keras_history[0].name for x in flat_out]
        self._build_shapes = None

    def _make_plan(self, nodes_by_depth):
        steps = []
        for depth in sorted(nodes_by_depth, reverse=True):
            for node in nodes_by_depth[depth]:
                if node.is_input:
                    continue
                args, kwargs = node.call_args, node.call_kwargs
                simple = (len(args) == 1 and isinstance(args[0], KerasTensor) and not kwargs)
                in_id = id(args[0]) if simple else None
                out_ids = [id(t) for t in node.output_tensors]
                single_out = isinstance(node.outputs, KerasTensor)
                steps.append((node.layer, args, kwargs, simple, in_id, out_ids, single_out))
        return steps

    def _node_in_graph(self, node):
        return id(node) in self._plan.node_ids

    # ------------------------------------------------------------------ properties
    @property
    def layers(self):
        return [op for op in self._model_layers if isinstance(op, Layer)]

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used.")

    @property
    def operations(self):
        return list(self._model_layers)

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_names(self):
        return [x._keras_history[0].name for x in self._inputs]

    @property
    def input_shape(self):
        shapes = [x.shape for x in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [x.shape for x in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_dtype(self):
        return self._inputs[0].dtype

    def build(self, input_shape=None):
        self.built = True

    def _maybe_build(self, args):
        self.built = True

    def add_loss(self, loss):
        raise NotImplementedError("add_loss() on a functional model is not supported: add the "
                                  "loss inside a layer (self.add_loss in its call()).")

    # ------------------------------------------------------------------ call
    def _convert_inputs(self, x):
        return x  # conversion (to each Input's dtype) happens in call()

    def call(self, inputs, training=None, mask=None):
        flat = self._standardize_inputs(inputs)
        if mask is not None:
            for x, m in zip(flat, nest.flatten(mask)):
                if m is not None and isinstance(x, Tensor):
                    x._keras_mask = m
        vals = {}
        for kt, v in zip(self._inputs, flat):
            vals[id(kt)] = v
        for layer, args, kwargs, simple, in_id, out_ids, single_out in self._plan.steps:
            if simple:
                out = layer(vals[in_id])
            else:
                a = nest.map_structure(_filler(vals), args)
                k = nest.map_structure(_filler(vals), kwargs) if kwargs else {}
                if training is not None and "training" in k:
                    # Keras 3: the model's own `training` (when given) overrides one fixed
                    # in the graph, e.g. `base(x, training=False)` runs in training mode
                    # under fit() once `base` is trainable.
                    k["training"] = training
                out = layer(*a, **k)
            if single_out:
                vals[out_ids[0]] = out
            else:
                for oid, o in zip(out_ids, nest.flatten(out)):
                    vals[oid] = o
        outs = [vals[id(kt)] for kt in self._outputs]
        result = nest.pack_sequence_as(self._outputs_struct, outs) \
            if nest.is_nested(self._outputs_struct) else outs[0]
        return unpack_singleton(result)

    def _standardize_inputs(self, inputs):
        struct = self._inputs_struct
        n = len(self._inputs)
        if isinstance(inputs, dict) and not isinstance(struct, dict):
            names = [kt.name for kt in self._inputs]
            missing = [nm for nm in names if nm not in inputs]
            if missing:
                raise ValueError(f'Model "{self.name}" expects inputs named {names}, but the '
                                 f"dict passed is missing {missing} (it has keys "
                                 f"{sorted(inputs)}).")
            flat = [inputs[nm] for nm in names]
        elif isinstance(struct, dict):
            if not isinstance(inputs, dict):
                if n == 1 and not isinstance(inputs, (list, tuple)):
                    flat = [inputs]
                elif isinstance(inputs, (list, tuple)) and len(inputs) == n:
                    flat = list(inputs)
                else:
                    raise ValueError(f'Model "{self.name}" expects a dict of inputs with keys '
                                     f"{sorted(struct)}; received {type(inputs).__name__}.")
            else:
                missing = [k for k in struct if k not in inputs]
                if missing:
                    raise ValueError(f'Model "{self.name}" expects inputs {sorted(struct)}, '
                                     f"but the dict passed is missing {missing}.")
                flat = nest.flatten({k: inputs[k] for k in struct})
        elif isinstance(inputs, (list, tuple)) and not (n == 1 and _is_array_list(inputs)):
            flat = nest.flatten(inputs)
        else:
            flat = [inputs]
        if len(flat) != n:
            raise ValueError(
                f'Model "{self.name}" expects {n} input(s) '
                f"({[kt.name for kt in self._inputs]}), but it received {len(flat)} input "
                "tensors. Pass one array per Input, as a list in the same order (or a dict "
                "keyed by input name).")
        out = []
        for i, (x, ref) in enumerate(zip(flat, self._inputs)):
            out.append(self._check_input(i, x, ref))
        return out

    def _check_input(self, i, x, ref):
        if x is None:
            raise ValueError(f"The input '{ref.name}' is not optional, but None was passed.")
        want = ref.dtype
        if not isinstance(x, Tensor):
            x = convert_to_tensor(np.asarray(x, dtype=want))
        elif npd(x).name != want and npd(x).kind != "b":
            from tenfold.ops.math_ops import cast
            mask = getattr(x, "_keras_mask", None)
            x = cast(x, want)
            if mask is not None:
                x._keras_mask = mask
        shape = tuple(shape_of(x))
        rshape = ref.shape
        if len(shape) != len(rshape):
            from tenfold.ops import array_ops
            from tenfold.keras.engine.beginner_hints import note_rank_adjusted
            if len(shape) == len(rshape) + 1 and shape[-1] == 1:
                note_rank_adjusted(self, shape, rshape, added=False)  # said once per model
                x = array_ops.squeeze(x, axis=-1)
            elif len(shape) == len(rshape) - 1 and rshape[-1] == 1:
                note_rank_adjusted(self, shape, rshape, added=True)
                x = array_ops.expand_dims(x, axis=-1)
            else:
                raise ValueError(self._shape_error(i, ref, shape))
            shape = tuple(shape_of(x))
        for d, rd in zip(shape[1:], rshape[1:]):
            if rd is not None and d != rd:
                raise ValueError(self._shape_error(i, ref, shape))
        return x

    def _shape_error(self, i, ref, shape):
        rshape = ref.shape
        msg = (f'Input {i} of layer "{self.name}" is incompatible with the layer: expected '
               f"shape={rshape}, found shape={shape} (input '{ref.name}').")
        flat_want = [d for d in rshape[1:]]
        if None not in flat_want and len(shape) > len(rshape) and \
                int(np.prod(shape[1:])) == int(np.prod(flat_want)):
            msg += (f" The data has more dimensions than the model expects: flatten or reshape "
                    f"it, e.g. x.reshape(-1, {', '.join(str(d) for d in flat_want)}), or add a "
                    "Flatten() layer after an Input of the data's shape.")
        elif len(shape) == len(rshape):
            msg += (f" Each sample should have shape {rshape[1:]} but has shape {shape[1:]}: "
                    "check the Input(shape=...) of the model against the data.")
        return msg

    # ------------------------------------------------------------------ config
    def get_config(self):
        if not _functional_like_constructor(type(self)):
            return Model.get_config(self)
        from tenfold.keras.engine.serialization import serialize_keras_object
        config = {"name": self.name, "trainable": self.trainable}
        own = self._plan.node_ids
        reindex = {}
        for op in self._model_layers:
            kept = 1 if isinstance(op, Functional) else 0
            for idx, node in enumerate(op._inbound_nodes):
                if id(node) in own:
                    reindex[(id(op), idx)] = kept
                    kept += 1
        layer_configs = []
        for op in self._model_layers:
            nodes = []
            for idx, node in enumerate(op._inbound_nodes):
                if id(node) in own:
                    data = _serialize_node(node, own)
                    if data is not None:
                        nodes.append(data)
            lc = serialize_keras_object(op)
            lc["name"] = op.name
            lc["inbound_nodes"] = nodes
            layer_configs.append(lc)
        config["layers"] = layer_configs

        def tensor_config(t):
            op, idx, ti = t._keras_history
            return [op.name, reindex[(id(op), idx)], ti]
        config["input_layers"] = _map_kt(self._inputs_struct, tensor_config)
        config["output_layers"] = _map_kt(self._outputs_struct, tensor_config)
        return config

    def get_build_config(self):
        return {"input_shape": None}

    def build_from_config(self, config):
        pass


def _is_array_list(x):
    """A Python list of numbers (one input given as a list) rather than a list of inputs."""
    return bool(x) and all(isinstance(v, (int, float, np.generic)) for v in x)


def _filler(vals):
    def fill(o):
        if isinstance(o, KerasTensor):
            return vals[id(o)]
        return o
    return fill


def _copy_struct(s):
    if isinstance(s, list):
        return [_copy_struct(v) for v in s]
    if isinstance(s, tuple):
        return tuple(_copy_struct(v) for v in s)
    if isinstance(s, dict):
        return {k: _copy_struct(v) for k, v in s.items()}
    return s


def _map_kt(struct, fn):
    if isinstance(struct, KerasTensor):
        return fn(struct)
    if isinstance(struct, dict):
        return {k: _map_kt(v, fn) for k, v in struct.items()}
    return [_map_kt(v, fn) for v in struct]


def _functional_like_constructor(cls):
    import inspect
    if cls is Functional:
        return True
    spec = inspect.getfullargspec(cls.__init__)
    args = spec.args[1:]
    if args == inspect.getfullargspec(Functional.__init__).args[1:]:
        return True
    return spec.varargs is not None and spec.varkw is not None


def _serialize_node(node, own):
    if not node.input_tensors:
        return None

    def ser(x):
        if isinstance(x, KerasTensor):
            op, idx, ti = x._keras_history
            irrelevant = sum(1 for i, n in enumerate(op._inbound_nodes[:idx]) if id(n) not in own)
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(x.shape), "dtype": x.dtype,
                               "keras_history": [op.name, idx - irrelevant, ti]}}
        return _ser_value(x)
    return {"args": _ser_struct(node.call_args, ser), "kwargs": _ser_struct(node.call_kwargs, ser)}


def _ser_struct(s, leaf):
    if isinstance(s, (list, tuple)):
        return [_ser_struct(v, leaf) for v in s]
    if isinstance(s, dict):
        return {k: _ser_struct(v, leaf) for k, v in s.items()}
    return leaf(s)


def _ser_value(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": x.tolist(),
                                                       "dtype": x.dtype.name}}
    if isinstance(x, Tensor):
        return {"class_name": "__tensor__", "config": {"value": to_host(x).tolist(),
                                                        "dtype": x.dtype.name}}
    from tenfold.keras.engine.serialization import serialize_keras_object
    return serialize_keras_object(x)


def _deserialize_node(node_data, created):
    """(args, kwargs) of one recorded call, or IndexError if a parent node isn't made yet."""
    if not node_data:
        return [], {}
    if isinstance(node_data, list):  # legacy: [[layer, node, tensor, kwargs], ...]
        tensors = []
        kwargs = {}
        for item in node_data:
            name, ni, ti = item[0], item[1], item[2]
            if len(item) == 4:
                kwargs = item[3]
            layer = created.get(name)
            if layer is None:
                raise ValueError(f"Invalid Functional model configuration. Missing node: {name}")
            if len(layer._inbound_nodes) <= ni:
                raise IndexError(ni)
            tensors.append(layer._inbound_nodes[ni].output_tensors[ti])
        return [unpack_singleton(tensors)], kwargs

    def des(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            name, ni, ti = v["config"]["keras_history"]
            layer = created.get(name)
            if layer is None:
                raise ValueError(f"Unknown layer: {name}")
            if len(layer._inbound_nodes) <= ni:
                raise IndexError(ni)
            return layer._inbound_nodes[ni].output_tensors[ti]
        if isinstance(v, dict) and v.get("class_name") == "__numpy__":
            return np.asarray(v["config"]["value"], dtype=v["config"]["dtype"])
        if isinstance(v, dict) and v.get("class_name") == "__tensor__":
            return convert_to_tensor(np.asarray(v["config"]["value"], dtype=v["config"]["dtype"]))
        if isinstance(v, dict) and "class_name" in v:
            from tenfold.keras.engine.serialization import deserialize_keras_object
            return deserialize_keras_object(v)
        if isinstance(v, dict):
            return {k: des(x) for k, x in v.items()}
        if isinstance(v, list):
            return [des(x) for x in v]
        return v
    args = des(node_data.get("args", []))
    kwargs = des(node_data.get("kwargs", {}))
    return list(args), kwargs


def functional_from_config(cls, config, custom_objects=None):
    from tenfold.keras.engine.serialization import deserialize_keras_object
    config = dict(config)
    created = {}
    pending = collections.OrderedDict()
    for layer_data in config["layers"]:
        layer = deserialize_keras_object(layer_data, custom_objects=custom_objects)
        if not isinstance(layer, Layer):
            raise ValueError(f"Unexpected object from deserialization, expected a layer, got "
                             f"{type(layer).__name__}")
        created[layer_data["name"]] = layer
        nodes = layer_data.get("inbound_nodes") or []
        if nodes:
            pending[layer_data["name"]] = list(nodes)
    while pending:
        progressed = False
        for layer_data in config["layers"]:
            name = layer_data["name"]
            if name not in pending:
                continue
            layer = created[name]
            todo = pending[name]
            k = 0
            while k < len(todo):
                try:
                    args, kwargs = _deserialize_node(todo[k], created)
                except IndexError:
                    break
                layer(*args, **kwargs)
                k += 1
            if k:
                progressed = True
            if k >= len(todo):
                del pending[name]
            else:
                pending[name] = todo[k:]
        if not progressed:
            raise ValueError("Invalid Functional model configuration. The graph either has "
                             f"loops or disconnected nodes: could not resolve {list(pending)}.")

    def get_tensor(ref):
        name, ni, ti = ref
        layer = created[name]
        if isinstance(layer, Functional):
            ni -= 1
        return layer._inbound_nodes[ni].output_tensors[ti]

    def map_refs(v):
        if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str):
            return get_tensor(v)
        if isinstance(v, dict):
            return {k: map_refs(x) for k, x in v.items()}
        return [map_refs(x) for x in v]
    inputs = map_refs(config.pop("input_layers"))
    outputs = map_refs(config.pop("output_layers"))
    config.pop("layers")
    name = config.pop("name", None)
    trainable = config.pop("trainable", None)
    config.pop("dtype", None)
    kwargs = {"name": name}
    if trainable is not None:
        kwargs["trainable"] = trainable
    if cls is Model:
        cls = Functional
    return cls(inputs=inputs, outputs=outputs, **kwargs, **config)
