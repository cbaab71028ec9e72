"""Where each variable of a model lives in a weights file: Keras 3's object walk, mirrored.

Keras 3 stores a saveable's own variables under `<path>/vars/<i>` (trainable ones first, then
non-trainable, in creation order) and finds children by walking `dir(obj)`, sorted with private
names last, skipping what every base Layer has. A Sequential or Functional model's `layers`
come first; a layer inside a list or dict is named by its class in snake case, numbered when
repeated (`layers/dense`, `layers/dense_1`). Each object is visited once (first path wins).

Walking tenfold objects the same way gives the same paths, which is what makes `.keras` and
`.weights.h5` files interchangeable with Keras 3. tf.train.Checkpoint uses the same walk for
Keras objects.
"""
import re
import sys

_SKIPSETS = {}


def to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _layer_cls():
    mod = sys.modules.get("tenfold.keras.layers.layer")
    return getattr(mod, "Layer", None) if mod is not None else None


def _optimizer_cls():
    mod = sys.modules.get("tenfold.keras.optimizers.optimizer")
    return getattr(mod, "Optimizer", None) if mod is not None else None


def _model_kind(obj):
    """'Sequential' / 'Functional' for those model classes (by MRO name), else None."""
    names = [c.__name__ for c in type(obj).__mro__]
    mod = sys.modules.get("tenfold.keras.models")
    seq = getattr(mod, "Sequential", None) if mod is not None else None
    fun = getattr(mod, "Functional", None) if mod is not None else None
    if seq is not None and isinstance(obj, seq):
        return "Sequential"
    if fun is not None and isinstance(obj, fun):
        return "Functional"
    if "Sequential" in names:
        return "Sequential"
    if "Functional" in names:
        return "Functional"
    # A Model built from inputs/outputs without a separate Functional class.
    if getattr(obj, "_is_graph_network", False) or getattr(obj, "_is_functional", False):
        return "Functional"
    return None


def saveable_kind(obj):
    """'Sequential', 'Functional', 'Layer', 'Optimizer' for saveable objects; else None."""
    layer = _layer_cls()
    if layer is not None and isinstance(obj, layer):
        return _model_kind(obj) or "Layer"
    opt = _optimizer_cls()
    if opt is not None and isinstance(obj, opt):
        return "Optimizer"
    return None


def _skipset(kind):
    s = _SKIPSETS.get(kind)
    if s is not None:
        return s
    s = {"_self_unconditional_dependency_names"}
    if kind in ("Layer", "Functional", "Sequential"):
        from tenfold.keras.layers.layer import Layer
        probe = Layer(name="__tenfold_skipset_probe__")
        s.update(dir(probe))
        if kind == "Functional":
            s.update(("operations", "_operations"))
        if kind == "Sequential":
            s.add("_functional")
    elif kind == "Optimizer":
        from tenfold.keras.optimizers.optimizer import Optimizer
        s.update(dir(Optimizer))
        s.update(("_variables", "_trainable_variables", "_slots", "_scratch", "_views",
                  "_accumulated_gradients", "_model_variables_moving_average",
                  "_trainable_variables_indices", "_iterations", "_learning_rate"))
        s.discard("variables")
    _SKIPSETS[kind] = s
    return s


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name


def children(obj, kind):
    """(attribute name, child) pairs in Keras's visiting order."""
    if kind in ("Sequential", "Functional"):
        yield "layers", list(obj.layers)
    skip = _skipset(kind)
    for attr in sorted(dir(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            child = getattr(obj, attr)
        except Exception:
            continue
        yield attr, child


def own_variables(obj, kind):
    """The variables Keras saves as `vars/0..n-1` for this object, in order."""
    if kind == "Optimizer":
        return list(obj.variables)
    own = obj._own_vars() if hasattr(obj, "_own_vars") else []
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def iter_saveables(root):
    """Yields (path, obj, kind) for every saveable reachable from `root`, Keras's order."""
    visited = set()
    out = []
    _visit(root, "", visited, out)
    return out


def _join(a, b):
    return f"{a}/{b}" if a else b


def _visit(obj, path, visited, out):
    kind = saveable_kind(obj)
    if kind is None or id(obj) in visited:
        return
    out.append((path, obj, kind))
    visited.add(id(obj))
    for attr, child in children(obj, kind):
        if saveable_kind(child) is not None:
            _visit(child, _join(path, attr), visited, out)
        elif isinstance(child, (list, tuple, dict)):
            _visit_container(child, _join(path, attr), visited, out, set())


def _visit_container(container, path, visited, out, seen_containers):
    if id(container) in seen_containers:
        return
    seen_containers.add(id(container))
    used = {}
    items = list(container.values()) if isinstance(container, dict) else list(container)
    for item in items:
        if saveable_kind(item) is not None:
            name = _unique(to_snake_case(type(item).__name__), used)
            _visit(item, _join(path, name), visited, out)
        elif isinstance(item, (list, tuple, dict)):
            name = _unique("container", used)
            _visit_container(item, _join(path, name), visited, out, seen_containers)


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def custom_hooks(obj):
    """(save_own_variables, load_own_variables) if the object's class defines its own, else
    (None, None): the walk then saves `own_variables` directly."""
    save = getattr(type(obj), "save_own_variables", None)
    load = getattr(type(obj), "load_own_variables", None)
    return save, load


def custom_hook(obj, method):
    """`obj`'s bound `method` ('save_own_variables' / 'load_own_variables') when its class
    defines one, else None (tenfold's base Layer and Optimizer define them, but the walk
    implements those directly)."""
    fn = getattr(type(obj), method, None)
    if fn is None:
        return None
    for klass in type(obj).__mro__:
        if method in vars(klass):
            if klass.__module__ in ("tenfold.keras.layers.layer",
                                    "tenfold.keras.optimizers.optimizer"):
                return None
            return getattr(obj, method)
    return None


def _register_with_checkpoints():
    # tf.train.Checkpoint (a tool below Keras) walks Keras objects through this module
    from tenfold.train import checkpoint
    checkpoint.register_keras_walk(sys.modules[__name__])


_register_with_checkpoints()
