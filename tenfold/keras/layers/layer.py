"""The Keras `Layer`: owns variables, builds them lazily from the first input, calls ops.

Lifecycle (as Keras 3): `__init__` stores configuration; the first `__call__` runs
`build(input_shape)` (creating weights with `add_weight`), then `call(inputs, ...)`.
Variables and sub-layers assigned as attributes (also inside lists and dicts) are tracked,
even when assigned before `super().__init__()`.
"""
import contextlib
import functools
import inspect
import re
import threading

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.variable import (
    Variable as _CoreVariable, autocast_scope, autocast_dtype as _autocast_dtype)
from tenfold.keras.engine.keras_tensor import KerasTensor
from tenfold.keras.mixed_precision import policy as _policy
from tenfold.util import nest
from tenfold.ops.buffers import tensor_buffer
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import to_host
from tenfold.keras.saving import _walk as _checkpoint_walk  # noqa: F401 - registers it

_name_counters = {}


def reset_name_counters():
    _name_counters.clear()


def unique_name(base):
    n = _name_counters.get(base, 0)
    _name_counters[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def to_snake_case(name):
    """Keras's rule: `Conv2D` -> `conv2d`, `BatchNormalization` -> `batch_normalization`."""
    s = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s if not s.startswith("_") else "private" + s


class _CallContext(threading.local):
    def __init__(self):
        self.stack = []  # (layer, training) of the calls in progress


_ctx = _CallContext()


class _ScopeStack(threading.local):
    def __init__(self):
        self.stack = []  # (name, layer, parent path or None): Keras 3's name scopes


_scopes = _ScopeStack()


def current_path():
    """The name-scope path Keras 3 gives new variables: the enclosing layers' names, from where
    the outermost of them was first called or built (e.g. "model/dense")."""
    parts = []
    for name, _, parent in _scopes.stack:
        if parent is not None:
            parts = [p for p in parent.split("/") if p]
        parts.append(name)
    return "/".join(parts)


def _push_scope(layer, set_parent=True):
    """Enters `layer`'s name scope (Keras 3's `name_scope(layer.name, caller=layer)`); returns
    whether something was pushed (re-entering the innermost scope of the same layer is not)."""
    d = layer.__dict__
    if set_parent and d.get("_parent_path") is None:
        d["_parent_path"] = current_path()
    stack = _scopes.stack
    name = d.get("name")
    if stack and stack[-1][1] is layer and stack[-1][0] == name:
        return False
    stack.append((name, layer, d.get("_parent_path")))
    return True


@contextlib.contextmanager
def name_scope(layer, set_parent=True):
    pushed = _push_scope(layer, set_parent)
    try:
        yield
    finally:
        if pushed:
            _scopes.stack.pop()


def _scoped_build(build):
    """Wraps a layer class's `build` so the variables it creates get Keras 3's paths and the
    layer records its own `path`."""
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        with name_scope(self):
            if self.__dict__.get("_path") is None:
                self.__dict__["_path"] = current_path()
            result = build(self, *args, **kwargs)
        # As Keras 3's build wrapper: a layer built by hand is built (its first call must not
        # create the weights again) and remembers the shapes for `get_build_config`.
        if self.__dict__.get("_build_shapes") is None and (args or kwargs):
            self.__dict__["_build_shapes"] = _build_arguments(build, self, args, kwargs)
        self.built = True
        return result
    wrapper._name_scoped = True
    return wrapper


def _plain_shape(shape):
    """A `TensorShape` given to build() is kept as a tuple (what `get_build_config` writes)."""
    as_list = getattr(shape, "as_list", None)
    if as_list is not None and not isinstance(shape, (list, tuple, dict)):
        try:
            return tuple(as_list())
        except ValueError:  # a shape of unknown rank
            return None
    return shape


def _build_arguments(build, layer, args, kwargs):
    """The shape given to a hand-called build(): one shape, or {argument name: shape} when
    build takes several (Keras's `shapes_dict`)."""
    try:
        bound = inspect.signature(build).bind(layer, *args, **kwargs).arguments
    except TypeError:
        return None
    bound.pop(next(iter(bound)), None)  # self
    shapes = {k: nest.map_structure(_plain_shape, v) if nest.is_nested(v) else _plain_shape(v)
              for k, v in bound.items() if v is not None}
    if len(shapes) == 1:
        return next(iter(shapes.values()))
    return None

# How many losses layers hold from add_loss() (so a call clears them only when there are any).
_pending_losses = [0]


def current_training():
    """The `training` value of the innermost layer call in progress, or None."""
    for _, training in reversed(_ctx.stack):
        if training is not None:
            return training
    return None


class InputSpec:
    """What a layer accepts: ndim / min_ndim / max_ndim, dtype, and sizes of given axes."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}


def _check_input_spec(layer, specs, inputs):
    if specs is None:
        return
    specs = nest.flatten(specs)
    flat = nest.flatten(inputs)
    for i, (spec, x) in enumerate(zip(specs, flat)):
        if spec is None:
            continue
        shape = tuple(shape_of(x)) if isinstance(x, Tensor) else tuple(x.shape)
        nd = len(shape)
        where = _SpecWhere(layer, i)  # formatted only when an error is raised
        if spec.ndim is not None and nd != spec.ndim:
            raise ValueError(f"{where} is incompatible with the layer: expected ndim="
                             f"{spec.ndim}, found ndim={nd}. Full shape received: {shape}")
        if spec.min_ndim is not None and nd < spec.min_ndim:
            raise ValueError(f"{where} is incompatible with the layer: expected min_ndim="
                             f"{spec.min_ndim}, found ndim={nd}. Full shape received: {shape}")
        if spec.max_ndim is not None and nd > spec.max_ndim:
            raise ValueError(f"{where} is incompatible with the layer: expected max_ndim="
                             f"{spec.max_ndim}, found ndim={nd}. Full shape received: {shape}")
        for axis, value in spec.axes.items():
            if value is None:
                continue
            d = shape[axis] if -nd <= axis < nd else None
            if d is not None and d != value:
                raise ValueError(
                    f"{where} is incompatible with the layer: expected axis {axis} of input "
                    f"shape to have value {value}, but received input with shape {shape}"
                    + _hint(layer, value, shape))
        if spec.shape is not None:
            for a, (want, got) in enumerate(zip(spec.shape, shape)):
                if want is not None and got is not None and want != got:
                    raise ValueError(f"{where} is incompatible with the layer: expected shape="
                                     f"{spec.shape}, found shape={shape}")


class _SpecWhere:
    __slots__ = ("layer", "i")

    def __init__(self, layer, i):
        self.layer, self.i = layer, i

    def __str__(self):
        return f"Input {self.i} of layer \"{self.layer.name}\" ({type(self.layer).__name__})"


def _hint(layer, want, shape):
    if len(shape) > 2 and want == int(np.prod([d for d in shape[1:] if d])):
        return (f". The input looks like unflattened data: add a Flatten() layer before "
                f"\"{layer.name}\" or reshape the data to (-1, {want}).")
    return ""


class Layer:
    """Base class of all layers (as `keras.layers.Layer`)."""

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        Layer._init_tracking(obj)
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and callable(build) and not getattr(build, "_name_scoped", False):
            cls.build = _scoped_build(build)

    def _init_tracking(self):
        d = self.__dict__
        d.setdefault("_own_variables", [])
        d.setdefault("_losses", [])
        d.setdefault("_tracking_ready", True)

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True,
                 name=None, **kwargs):
        Layer._init_tracking(self)
        # Arguments Keras accepts on any layer (the first layer of a Sequential in particular).
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        input_length = kwargs.pop("input_length", None)
        kwargs.pop("weights", None)
        for legacy in ("input_dtype",):
            kwargs.pop(legacy, None)
        if kwargs:
            bad = ", ".join(sorted(kwargs))
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected keyword "
                            f"argument(s): {bad}. Check the spelling against the layer's "
                            "documented arguments.")
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,) if input_length is None else (input_length, input_dim)
        if batch_input_shape is not None:
            batch_size = batch_input_shape[0]
            input_shape = tuple(batch_input_shape[1:])
        self._input_shape_arg = None if input_shape is None else (
            tuple(input_shape) if isinstance(input_shape, (list, tuple)) else (input_shape,))
        self._batch_size_arg = batch_size
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype_policy = _policy.get(dtype)
        self.autocast = autocast
        self.activity_regularizer = _get_regularizer(activity_regularizer)
        self.built = False
        self.supports_masking = getattr(self, "supports_masking", False)
        self.input_spec = getattr(self, "input_spec", None)
        self._inbound_nodes = []
        self._call_signature = inspect.signature(self.call)
        params = self._call_signature.parameters
        self._call_has_training = "training" in params
        self._call_has_mask = "mask" in params
        self._call_var_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
        self._build_shapes = None

    # ------------------------------------------------------------------ attribute tracking
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_tracking_ready" not in d:
            Layer._init_tracking(self)
        if isinstance(value, _TRACKABLE) or isinstance(d.get(name), _TRACKABLE):
            _TRACKING[0] += 1   # the cached layer / variable lists are rebuilt
            value = _tracked(value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        _TRACKING[0] += 1
        object.__delattr__(self, name)

    def _sublayers(self):
        """Direct sub-layers, in attribute order (lists and dicts looked into)."""
        out, seen = [], set()
        for key, v in self.__dict__.items():
            if key in _UNTRACKED:
                continue
            for x in _walk(v):
                if isinstance(x, Layer) and x is not self and id(x) not in seen:
                    seen.add(id(x))
                    out.append(x)
        return out

    @property
    def _layers(self):
        return self._sublayers()

    def _cached(self, key, make):
        """make(), remembered until a layer's tracked structure changes anywhere (an
        attribute set to or from a layer, variable, list or dict; a tracked list or dict
        mutated; a weight added). `model.trainable_variables` in an eager loop: 10x faster."""
        cache = self.__dict__.get("_tracking_cache")
        version = _TRACKING[0]
        if cache is None or cache[0] != version or cache[1] != id(self):  # (a copy's id differs)
            cache = (version, id(self), {})
            self.__dict__["_tracking_cache"] = cache
        hit = cache[2].get(key)
        if hit is None:
            hit = cache[2][key] = make()
        return hit

    def _own_vars(self):
        return list(self._cached("own_vars", self._scan_own_vars))

    def _scan_own_vars(self):
        own = list(self._own_variables)
        seen = {id(v) for v in own}
        for key, v in self.__dict__.items():
            if key in _UNTRACKED or key == "_own_variables":
                continue
            for x in _walk(v):
                if isinstance(x, _CoreVariable) and id(x) not in seen:
                    seen.add(id(x))
                    own.append(x)
        return own

    def _flatten_layers(self, include_self=True, recursive=True):
        return list(self._cached(("layers", include_self, recursive),
                                 lambda: self._scan_layers(include_self, recursive)))

    def _scan_layers(self, include_self, recursive):
        out = [self] if include_self else []
        stack = list(reversed(self._sublayers()))
        seen = {id(self)}
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            if recursive:
                stack.extend(reversed(layer._sublayers()))
        return out

    # ------------------------------------------------------------------ weights
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        for layer in self._flatten_layers():
            layer._trainable = value

    def _collect(self, pick):
        out, seen = [], set()
        for layer in self._flatten_layers():
            for v in pick(layer):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return self._collect(lambda l: [v for v in l._own_vars() if v.trainable]
                             if l._trainable else [])

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return self._collect(lambda l: [v for v in l._own_vars()
                                        if not v.trainable or not l._trainable])

    @property
    def weights(self):
        own = self._own_vars()
        own_t = [v for v in own if v.trainable]
        own_n = [v for v in own if not v.trainable]
        out, seen = [], set()
        for v in own_t + own_n:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._sublayers():
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None, **kwargs):
        """Creates a variable owned by this layer (Keras 3's signature; `name` may come first
        as a keyword, as tf.keras code writes it)."""
        from tenfold.keras import initializers
        from tenfold.keras.variables import Variable
        if "getter" in kwargs or "use_resource" in kwargs:
            kwargs.pop("getter", None)
            kwargs.pop("use_resource", None)
        kwargs.pop("synchronization", None)
        kwargs.pop("experimental_autocast", None)
        if kwargs:
            raise TypeError(f"add_weight() got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        shape = () if shape is None else tuple(int(d) for d in shape)
        dt = dtypes.as_dtype(dtype or self.dtype_policy.variable_dtype)
        from tenfold.keras.saving.limits import charge_parameters
        charge_parameters(self, shape, dt)   # a model rebuilt from a file: within budget?
        if initializer is None:
            initializer = "glorot_uniform" if dt.is_floating else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dt)
        arr = tensor_buffer(value) if isinstance(value, Tensor) else value
        if isinstance(arr, np.ndarray) and not arr.flags.c_contiguous:
            value = np.ascontiguousarray(arr)  # C order keeps matmuls on the BLAS fast path
        var = Variable(value, dtype=dt, trainable=trainable, autocast=autocast,
                       aggregation=aggregation, name=name or f"variable_{len(self._own_variables)}")
        with name_scope(self, set_parent=False):
            var.path = f"{current_path()}/{var.name}"
        var.regularizer = _get_regularizer(regularizer)
        var._constraint = _get_constraint(constraint)
        var.overwrite_with_gradient = overwrite_with_gradient
        self._own_variables.append(var)
        _TRACKING[0] += 1
        return var

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True,
                     regularizer=None, constraint=None, name=None):
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, autocast=autocast, regularizer=regularizer,
                               constraint=constraint, name=name)

    def get_weights(self):
        return [to_host(v) for v in self.weights]

    def set_weights(self, weights):
        params = self.weights
        weights = list(weights)
        if len(params) != len(weights):
            raise ValueError(
                f"Layer {self.name!r} expected {len(params)} weights, but received "
                f"{len(weights)} input weights." + (
                    " The layer has no weights yet: call it on data (or build it) first."
                    if not params else ""))
        weights = [to_host(w) for w in weights]  # user data: arrays, lists or tensors
        for v, w in zip(params, weights):
            if tuple(v.shape) != w.shape:
                raise ValueError(f"Layer {self.name!r} weight shape {tuple(v.shape)} is not "
                                 f"compatible with provided weight shape {w.shape} "
                                 f"(weight {v.path if hasattr(v, 'path') else v.name}).")
        for v, w in zip(params, weights):
            v.assign(np.asarray(w, dtype=npd(v)))

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             "the layer isn't built. Build it first (call it on data or call "
                             "`build(input_shape)`).")
        return int(sum(int(np.prod(v.shape)) if len(v.shape) else 1 for v in self.weights))

    # ------------------------------------------------------------------ losses
    def add_metric(self, *args, **kwargs):
        # Keras 3 removed it (tf.keras 2 code still calls it); raise what Keras raises, with
        # the layer named.
        raise NotImplementedError(
            f"{type(self).__name__} \"{self.name}\": Layer `add_metric()` method is deprecated "
            "(removed in Keras 3). Add your metric in `Model.compile(metrics=[...])`, or create "
            "metric trackers (e.g. `keras.metrics.Mean`) in __init__() or build() when "
            "subclassing the layer or model, then call `metric.update_state()` whenever "
            "necessary.")

    def add_loss(self, loss):
        self._losses.append(loss)
        _pending_losses[0] += 1

    @property
    def losses(self):
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._losses)
            for v in layer._own_vars():
                reg = getattr(v, "regularizer", None)
                if reg is not None and v.trainable:
                    out.append(reg(v))
        return out

    def _clear_losses(self):
        # (perf) the walk over all layers is skipped when no layer anywhere holds a loss
        if not _pending_losses[0]:
            return
        for layer in self._flatten_layers():
            _pending_losses[0] = max(0, _pending_losses[0] - len(layer._losses))
            layer._losses.clear()

    # ------------------------------------------------------------------ dtype
    @property
    def dtype(self):
        return self.dtype_policy.variable_dtype

    @property
    def compute_dtype(self):
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self.dtype_policy.variable_dtype

    @property
    def input_dtype(self):
        return self.dtype_policy.compute_dtype

    # ------------------------------------------------------------------ build / call
    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call(); "
                                  "subclasses define call(self, inputs, ...).")

    def _maybe_build(self, args):
        if self.built:
            return
        first = args[0] if args else None
        shapes = nest.map_structure(lambda x: _shape_of(x), first) if first is not None else None
        self._build_shapes = shapes
        sig = inspect.signature(self.build)
        if len(sig.parameters) == 0:
            self.build()
        else:
            self.build(shapes)
        self.built = True

    def __call__(self, *args, **kwargs):
        if "_tracking_ready" not in self.__dict__ or "_call_signature" not in self.__dict__:
            raise RuntimeError(
                f"Layer {type(self).__name__} was called before Layer.__init__ ran: did you "
                "forget to call `super().__init__(**kwargs)` in its __init__?")
        if not args and kwargs:
            # the first input given by keyword, e.g. mha(query=x, value=y)
            first = next(iter(self._call_signature.parameters), None)
            if first in kwargs:
                args = (kwargs.pop(first),)
        if not args:
            raise ValueError(f"Layer {self.name!r} was called without inputs.")
        # flattened once; a single tensor (the common case) needs no walk
        flat_in = [args[0]] if isinstance(args[0], Tensor) else nest.flatten(args[0])
        if any(isinstance(x, KerasTensor) for x in flat_in):
            from tenfold.keras.engine.symbolic import symbolic_call
            return symbolic_call(self, args, kwargs)
        x0 = self._convert_inputs(args[0])
        args = (x0,) + args[1:]
        flat_in = [x0] if isinstance(x0, Tensor) else nest.flatten(x0)
        outermost = not _ctx.stack
        if outermost:
            self._clear_losses()
        # training: explicit > enclosing call > None (layers treat None as inference)
        training = kwargs.get("training", None)
        if training is None:
            training = current_training()
        if self._call_has_training or self._call_var_kwargs:
            if training is not None or "training" in kwargs:
                kwargs["training"] = training
        else:
            kwargs.pop("training", None)
        # Input masks go to compute_mask always, and to call() when it takes `mask`.
        mask = kwargs.get("mask", None)
        if mask is None:
            masks = [getattr(x, "_keras_mask", None) for x in flat_in if isinstance(x, Tensor)]
            if any(m is not None for m in masks):
                mask = masks[0] if len(masks) == 1 else masks
                if self._call_has_mask:
                    kwargs["mask"] = mask
        if not self._call_has_mask:
            kwargs.pop("mask", None)
        pushed = _push_scope(self)
        try:
            if not self.built:
                self._maybe_build(args)
            _check_input_spec(self, self.input_spec, args[0])
        except BaseException:
            if pushed:
                _scopes.stack.pop()
            raise
        _ctx.stack.append((self, training))
        try:
            cdt = self.dtype_policy.compute_dtype
            if cdt != self.dtype_policy.variable_dtype and self.autocast:
                with autocast_scope(cdt):
                    outputs = self.call(*args, **kwargs)
            elif _autocast_dtype[0] is not None:  # a float32 layer inside a mixed one
                with autocast_scope(None):
                    outputs = self.call(*args, **kwargs)
            else:
                outputs = self.call(*args, **kwargs)
        finally:
            _ctx.stack.pop()
            if pushed:
                _scopes.stack.pop()
        if self.activity_regularizer is not None:
            for o in nest.flatten(outputs):
                if isinstance(o, Tensor):
                    loss = self.activity_regularizer(o)
                    if len(o.shape):  # Keras 3 divides by the batch size
                        n = o.shape[0]
                        loss = loss / float(n) if n else loss * 0.0
                    self.add_loss(loss)
        if self.supports_masking or type(self).compute_mask is not Layer.compute_mask:
            try:
                out_mask = self.compute_mask(args[0], mask)
            except Exception:
                out_mask = None
            if out_mask is not None:
                for o, mk in zip(nest.flatten(outputs), nest.flatten(out_mask)
                                 if isinstance(out_mask, (list, tuple)) else
                                 [out_mask] * len(nest.flatten(outputs))):
                    if isinstance(o, Tensor):
                        o._keras_mask = mk
        return outputs

    # Layers whose computation mixes the inputs with floating weights or float statistics
    # (Dense, RNNs, convolutions, normalizations, attention, average pooling) take bool and
    # integer inputs as the compute dtype: in Keras 3 their ops' type promotion turns
    # `bool @ float32` into float32 (a boolean one-hot into Dense works). Layers that keep the
    # input dtype (Embedding, preprocessing, Dropout, Flatten, merging, max pooling) leave
    # them alone, as Keras does.
    _promotes_numeric_inputs = False

    def _convert_inputs(self, x):
        cdt = dtypes.as_dtype(self.dtype_policy.compute_dtype)
        if type(x) is Tensor and x.dtype == cdt:
            return x  # the common case: nothing to convert
        promote = self._promotes_numeric_inputs and (cdt.is_floating or cdt.is_complex)

        def conv(v):
            if isinstance(v, Tensor):
                if type(v) is not Tensor or v.dtype == cdt:
                    return v
                vd = v.dtype
                float_in = vd.is_floating
                if (float_in and self.autocast) or \
                        (promote and (vd.is_integer or vd == dtypes.bool)):
                    from tenfold.ops.math_ops import cast
                    mask = getattr(v, "_keras_mask", None)
                    out = cast(v, cdt)
                    if mask is not None:
                        out._keras_mask = mask
                    return out
                return v
            if isinstance(v, (np.ndarray, list, float, int, np.generic)):
                arr = np.asarray(v)  # host data given by the user, not a tensor
                if (arr.dtype.kind == "f" and self.autocast) or \
                        (promote and arr.dtype.kind in "iub"):
                    arr = arr.astype(cdt.as_numpy_dtype, copy=False)
                return convert_to_tensor(arr)
            return v
        return nest.map_structure(conv, x) if nest.is_nested(x) else conv(x)

    def compute_mask(self, inputs, previous_mask=None):
        if not self.supports_masking:
            return None
        return previous_mask

    def compute_output_shape(self, input_shape):
        """Output shape, found by running the layer on placeholder data of that shape."""
        from tenfold.keras.engine.symbolic import infer_output_shape
        return infer_output_shape(self, input_shape)

    def compute_output_spec(self, *args, **kwargs):
        from tenfold.keras.engine.symbolic import infer_output_spec
        return infer_output_spec(self, args, kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": _policy_config(self.dtype_policy)}
        if self._input_shape_arg is not None and not isinstance(self, _InputLayerMarker):
            config["batch_input_shape"] = (self._batch_size_arg,) + tuple(self._input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "dtype" in config and isinstance(config["dtype"], dict):
            config["dtype"] = _policy.get(config["dtype"])
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using config="
                            f"{config}.\n\nException encountered: {e}") from None

    def get_build_config(self):
        if self._build_shapes is not None:
            return {"input_shape": self._build_shapes}
        return None

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            self.build(config["input_shape"])
            self.built = True
        elif config and config.get("shapes_dict"):
            # several build arguments (Keras writes e.g. {"query_shape": .., "value_shape": ..})
            self.build(**config["shapes_dict"])
            self.built = True

    # ------------------------------------------------------------------ misc
    @property
    def input(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has no inbound nodes: it has not been "
                                 "called on a symbolic input.")
        return self._inbound_nodes[0].input_tensors_struct

    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has no inbound nodes: it has not been "
                                 "called on a symbolic input.")
        return self._inbound_nodes[0].output_tensors_struct

    @property
    def path(self):
        """Where the layer was built, e.g. "model/dense" (Keras 3's `Layer.path`)."""
        return self.__dict__.get("_path") or self.name

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class _InputLayerMarker:
    """Mixed into InputLayer so configs don't repeat the batch shape."""


_TRACKABLE = (Layer, _CoreVariable, list, tuple, dict)
_TRACKING = [0]   # version of every layer's tracked structure (see Layer._cached)


def _tracked(v):
    """Lists and dicts held by layers become _TrackedList / _TrackedDict (copies, as in Keras
    3), nested ones too, so mutating them in place is seen by the tracking caches."""
    if type(v) is list:
        return _TrackedList(v)
    if type(v) is dict:
        return _TrackedDict(v)
    if type(v) is tuple and any(type(x) in (list, dict) for x in v):
        return tuple(_tracked(x) for x in v)
    return v


def _changed(method):
    def wrapper(self, *args, **kwargs):
        _TRACKING[0] += 1
        return method(self, *args, **kwargs)
    wrapper.__name__ = method.__name__
    return wrapper


class _TrackedList(list):
    """A list held by a layer attribute: in-place changes invalidate the tracking caches."""

    def __init__(self, items=()):
        super().__init__(_tracked(x) for x in items)

    def append(self, x):
        _TRACKING[0] += 1
        super().append(_tracked(x))

    def insert(self, i, x):
        _TRACKING[0] += 1
        super().insert(i, _tracked(x))

    def extend(self, xs):
        _TRACKING[0] += 1
        super().extend(_tracked(x) for x in xs)

    def __iadd__(self, xs):
        self.extend(xs)
        return self

    def __setitem__(self, i, x):
        _TRACKING[0] += 1
        super().__setitem__(i, [_tracked(v) for v in x] if isinstance(i, slice) else _tracked(x))

    __delitem__ = _changed(list.__delitem__)
    pop = _changed(list.pop)
    remove = _changed(list.remove)
    clear = _changed(list.clear)
    sort = _changed(list.sort)
    reverse = _changed(list.reverse)
    __imul__ = _changed(list.__imul__)


class _TrackedDict(dict):
    """A dict held by a layer attribute: in-place changes invalidate the tracking caches."""

    def __init__(self, items=()):
        super().__init__((k, _tracked(v)) for k, v in dict(items).items())

    def __setitem__(self, k, v):
        _TRACKING[0] += 1
        super().__setitem__(k, _tracked(v))

    def setdefault(self, k, v=None):
        _TRACKING[0] += 1
        return super().setdefault(k, _tracked(v))

    def update(self, *args, **kwargs):
        _TRACKING[0] += 1
        for k, v in dict(*args, **kwargs).items():
            super().__setitem__(k, _tracked(v))

    __delitem__ = _changed(dict.__delitem__)
    pop = _changed(dict.pop)
    popitem = _changed(dict.popitem)
    clear = _changed(dict.clear)


_UNTRACKED = frozenset({"_tracking_cache", "_inbound_nodes", "_outbound_nodes",
                        "_call_signature", "dtype_policy", "activity_regularizer",
                        "_build_shapes", "input_spec", "_losses"})


def _walk(v):
    """The layers and variables in v, looking into lists, tuples and dicts."""
    if isinstance(v, (Layer, _CoreVariable)):
        yield v
    elif isinstance(v, (list, tuple)):
        for x in v:
            if isinstance(x, (Layer, _CoreVariable, list, tuple, dict)):
                yield from _walk(x)
    elif isinstance(v, dict):
        for x in v.values():
            if isinstance(x, (Layer, _CoreVariable, list, tuple, dict)):
                yield from _walk(x)


def _shape_of(x):
    if isinstance(x, (Tensor, KerasTensor)):
        return tuple(x.shape)
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return None


def _policy_config(p):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": p.name},
            "registered_name": None}


def _get_regularizer(r):
    if r is None:
        return None
    from tenfold.keras import regularizers
    return regularizers.get(r)


def _get_constraint(c):
    if c is None:
        return None
    from tenfold.keras import constraints
    return constraints.get(c)
