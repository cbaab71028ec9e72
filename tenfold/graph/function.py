"""`tf.function`: trace a Python function into a graph once per input signature, then run the
graph.

    @tf.function
    def step(x, y):
        ...

    step(x, y)                    # first call: traces (runs the Python code once, recording)
    step(x2, y2)                  # same shapes/dtypes: runs the compiled graph
    step.experimental_get_tracing_count()

The signature of a call is, per argument: shape and dtype for tensors and NumPy arrays,
identity for variables and other objects, the value for Python numbers, strings and None.
A new signature traces again; past five traces each new one warns and says which argument
changed and how to avoid it (`input_signature=` or `reduce_retracing=True`).

Graphs are specialised to concrete shapes (that is what makes them fast on NumPy): with an
`input_signature` that has `None` dimensions, or with `reduce_retracing=True`, a call with a
new concrete shape counts no new trace but runs the Python function once more to build that
shape's graph (its Python side effects, such as `print`, happen again for it).

When a GradientTape is recording around the call, the graph is replayed op by op through the
primitives so the tape sees every op (gradients then work as in eager execution).
"""
import functools
import inspect
import threading
import warnings
import weakref

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.variable import Variable
from tenfold.framework.state import STATE as _STATE
from tenfold.graph import tracer as _tracer
from tenfold.graph.spec import TensorSpec, describe_shape
from tenfold.graph import executor as _executor
from tenfold.graph import threads as _threads
from tenfold.backend import fpenv as _fpenv
from time import perf_counter as _clock

_wrap = Tensor._wrap
_ndarray = np.ndarray
# tf.config.run_functions_eagerly (tenfold/config.py sets it; the graph layer owns it)
_config_state = {"run_functions_eagerly": False}

MAX_QUIET_TRACES = 5  # as TensorFlow: more traces than this print why


class RetracingWarning(UserWarning):
    """A tf.function traced more than five times; the message says which argument changed."""


# ------------------------------------------------------------------------------------------
# Flattening arguments into leaves and a hashable key

_SCALARS = (int, float, bool, str, bytes, type(None), complex)


def _flatten(x, leaves, path, paths):
    """Appends the leaves of `x` to `leaves` and returns a hashable key of its structure."""
    t = type(x)
    if t is list or t is tuple:
        return (t.__name__,) + tuple(_flatten(c, leaves, f"{path}[{i}]", paths)
                                     for i, c in enumerate(x))
    if isinstance(x, dict):
        keys = sorted(x, key=_sort_key)
        return (t,) + tuple((k, _flatten(x[k], leaves, f"{path}[{k!r}]", paths))
                            for k in keys)
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return (t,) + tuple(_flatten(c, leaves, f"{path}.{f}", paths)
                            for f, c in zip(x._fields, x))
    if isinstance(x, (list, tuple)):
        return (t,) + tuple(_flatten(c, leaves, f"{path}[{i}]", paths)
                            for i, c in enumerate(x))
    leaves.append(x)
    if paths is not None:
        paths.append(path)
    return None


def _sort_key(k):
    return (str(type(k)), k) if not isinstance(k, str) else ("", k)


def _unflatten(template, leaves):
    """Rebuilds the containers of `template` (a real structure) around `leaves`, in the order
    `_flatten` visits them."""
    it = iter(leaves)

    def build(x):
        t = type(x)
        if t is list or t is tuple:
            return t([build(c) for c in x])
        if isinstance(x, dict):
            built = {k: build(x[k]) for k in sorted(x, key=_sort_key)}
            try:
                return t((k, built[k]) for k in x)
            except TypeError:
                return {k: built[k] for k in x}
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return t(*[build(c) for c in x])
        if isinstance(x, (list, tuple)):
            try:
                return t([build(c) for c in x])
            except TypeError:
                return list(build(c) for c in x)
        return next(it)
    return build(template)


def _leaf_key(x):
    """The part of the signature one leaf contributes (and whether it is a tensor)."""
    t = type(x)
    if t is Tensor or t is _ndarray:
        a = x._value if t is Tensor else x
        return (a.shape, a.dtype), True
    if isinstance(x, Variable):
        return ("V", id(x)), False
    if isinstance(x, Tensor):
        return (x._value.shape, x._value.dtype), True
    if isinstance(x, TensorSpec):
        return (x.shape._dims, x.dtype._np), True
    if t in _SCALARS:
        return ("P", t, x), False
    if isinstance(x, np.generic):
        return ("P", t, x.item()), False
    if isinstance(x, np.ndarray):
        return (x.shape, x.dtype), True
    if isinstance(x, (dtypes.DType,)):
        return ("P", "dtype", x.name), False
    return ("O", id(x)), False


def _leaf_array(x):
    t = type(x)
    if t is Tensor:
        return x._value
    if t is _ndarray:
        return x
    if isinstance(x, Tensor):
        return x._value
    return np.asarray(x)


# ------------------------------------------------------------------------------------------

class _Program:
    """One traced graph for one concrete signature, with its compiled plans."""

    __slots__ = ("graph", "const_values", "out_template", "out_kinds", "plans", "keepalive",
                 "n_inputs", "single", "tuner", "_variables_device")

    def __init__(self, graph, const_values, out_template, out_kinds, keepalive):
        self.graph = graph
        self.const_values = const_values
        self.out_template = out_template   # the returned structure, leaves set to None
        self.out_kinds = out_kinds         # per output leaf: graph output index or ("py", v)
        self.single = out_template is None and len(out_kinds) == 1 and \
            type(out_kinds[0]) is int
        self.plans = {}
        self.keepalive = keepalive
        self.n_inputs = len(graph.inputs)
        self.tuner = _threads.Tuner() if _threads.adaptive() and any(
            getattr(n.op, "uses_blas", False) for n in graph.nodes) else None

    @property
    def variables_device(self):
        """The non-host backend holding the graph's captured variables (None: the host);
        variables never change device, so it is found once."""
        try:
            return self._variables_device
        except AttributeError:
            found = None
            for v in self.graph.values:
                if v.kind == "var":
                    found = _executor.device_backend_of(v.payload._value)
                    if found is not None:
                        break
            self._variables_device = found
            return found

    def plan(self, device=None):
        key = _executor.options_key()
        if device is not None:  # device arrays (CuPy, the CI stand-in): no CPU-only passes
            key = key + (device.name,)
        p = self.plans.get(key)
        if p is None:
            options = _executor.device_options() if device is not None else None
            p = self.plans[key] = _executor.Plan(self.graph, self.const_values, options,
                                                 backend=device)
        return p

    def run(self, arrays):
        device = None
        for a in arrays:
            if type(a) is not _ndarray:
                device = _executor.device_backend_of(a)
                if device is not None:
                    break
        if device is None:  # no device input: the captured variables' device, if any
            device = self.variables_device
        plan = self.plan(device)
        tuner = self.tuner
        # an optimizer update's C work may be left running past the program's end only for
        # the outermost program inside fit's loop (executor.keeping_started)
        scope = _executor.scope
        keep = scope.keep and device is None
        call = (arrays, True) if keep else (arrays,)
        if keep:   # a program this one runs (a py_function's) joins at its end
            scope.keep = False
        # host programs run with subnormals flushed to zero, as TensorFlow's kernels do
        # (backend/fpenv.py); device programs' kernels have their own modes
        fp = _fpenv.enter() if device is None else None
        try:
            if tuner is not None and _threads._state["user"] is None:
                n = tuner.pick()
                t0 = _clock()
                outs = plan.run(*call)
                tuner.record(n, _clock() - t0)
            else:
                outs = plan.run(*call)
        except BaseException as e:  # name the op that failed
            _executor.join_started()   # nothing may run on after an error
            if not isinstance(e, Exception):
                raise
            err = plan.translate_error(e)
            if err is e:
                raise
            raise err from None
        finally:
            if keep:
                scope.keep = True
            _fpenv.restore(fp)
        return self.pack([_wrap(a) for a in outs])

    def replay(self, tensors):
        with _fpenv.flushing():
            return self.pack(self.graph.replay(tensors))

    def pack(self, out_tensors):
        kinds = self.out_kinds
        if self.single:
            return out_tensors[0]
        leaves = [out_tensors[k] if type(k) is int else k[1] for k in kinds]
        return _unflatten(self.out_template, leaves)


class ConcreteFunction:
    """A traced function for one input signature (`f.get_concrete_function(...)`).

    `graph` is the graph form (nodes over primitives); calling it runs the graph. With `None`
    dimensions in its signature, each new concrete shape gets its own specialised graph.
    """

    def __init__(self, function, specs_key, arg_specs, leaf_paths):
        self._function = function
        self._specs_key = specs_key
        self._arg_specs = arg_specs         # per leaf: TensorSpec or the Python value
        self._leaf_paths = leaf_paths
        self._programs = {}                 # exact key -> _Program
        self._first = None

    @property
    def graph(self):
        return self._first.graph if self._first is not None else None

    @property
    def structured_input_signature(self):
        return self._function._rebuild_args(self._arg_specs)

    @property
    def structured_outputs(self):
        p = self._first
        if p is None:
            return None
        specs = []
        for k in p.out_kinds:
            if type(k) is int:
                v = p.graph.values[p.graph.outputs[k]]
                specs.append(TensorSpec(v.shape, dtypes.from_numpy(v.dtype)))
            else:
                specs.append(k[1])
        return _unflatten(p.out_template, specs)

    @property
    def inputs(self):
        return [s for s in self._arg_specs if isinstance(s, TensorSpec)]

    @property
    def outputs(self):
        from tenfold.util import nest
        return [s for s in nest.flatten(self.structured_outputs) if isinstance(s, TensorSpec)]

    @property
    def variables(self):
        return self.graph.variables if self.graph is not None else []

    @property
    def trainable_variables(self):
        return [v for v in self.variables if v.trainable]

    @property
    def captured_inputs(self):
        return self.variables

    @property
    def name(self):
        return self._function.__name__

    def pretty_printed_signature(self, verbose=True):
        """The signature as TensorFlow prints it: "Input Parameters:", "Output Type:" and
        "Captures:" sections (the variables the graph reads)."""
        names = self._leaf_paths
        lines = ["Input Parameters:"]
        kinds = self._function._param_kinds()
        given = {}
        for n, spec in zip(names, self._arg_specs):
            given.setdefault(n.split("[", 1)[0].split(".", 1)[0], []).append((n, spec))
        order = list(kinds) + [b for b in given if b not in kinds]
        for base in order:
            kind = kinds.get(base, ("POSITIONAL_OR_KEYWORD", None))
            if base in given:
                for n, spec in given[base]:
                    lines.append(f"  {n} ({kind[0]}): {_type_repr(spec)}")
            elif kind[1] is not inspect.Parameter.empty and kind[1] is not None:
                lines.append(f"  {base} ({kind[0]}): {_type_repr(kind[1])}")
        lines.append("Output Type:")
        lines.append(f"  {_type_repr(self.structured_outputs)}")
        lines.append("Captures:")
        captured = self.variables
        if not captured:
            lines.append("  None")
        for v in captured:
            lines.append(f"  {id(v)}: TensorSpec(shape=(), dtype=tf.resource, name=None)")
        return "\n".join(lines)

    def __call__(self, *args, **kwargs):
        leaves = []
        _flatten((args, kwargs), leaves, "", None)
        tensors = [x for x in leaves if _leaf_key(x)[1]]
        specs = [s for s in self._arg_specs if isinstance(s, TensorSpec)]
        if len(tensors) != len(specs):
            raise TypeError(f"{self.name}: this concrete function takes {len(specs)} tensor "
                            f"argument(s) {specs}, got {len(tensors)}")
        for x, s, name in zip(tensors, specs, [n for n, s in zip(self._leaf_paths,
                                                                    self._arg_specs)
                                                   if isinstance(s, TensorSpec)]):
            if not s.is_compatible_with(x):
                raise ValueError(_mismatch_message(self.name, name, x, s))
        return self._function._call_concrete(self, args, kwargs)

    def __repr__(self):
        return f"<ConcreteFunction {self.name} at 0x{id(self):X}>"


def _type_repr(x):
    """A value's trace type as TensorFlow prints it in signatures."""
    if isinstance(x, TensorSpec):
        return repr(x)
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return "Tuple[" + ", ".join(_type_repr(v) for v in x) + "]"
    if isinstance(x, list):
        return "List[" + ", ".join(_type_repr(v) for v in x) + "]"
    if isinstance(x, dict):
        return "Dict[" + ", ".join(f"[{k!r}, {_type_repr(v)}]" for k, v in x.items()) + "]"
    if x is None:
        return "NoneType"
    if isinstance(x, (bool, int, float, str, bytes)):
        return f"Literal[{x!r}]"
    return type(x).__name__


def _run_program(program, leaves):
    tensor_leaves = [x for x in leaves if _leaf_key(x)[1]]
    if _STATE.observers:  # a tape is recording: replay op by op on the caller's tensors
        return program.replay([x if isinstance(x, Tensor) else _wrap(_leaf_array(x))
                               for x in tensor_leaves])
    return program.run([_leaf_array(x) for x in tensor_leaves])


def _describe_leaf(x):
    a = _leaf_array(x) if _leaf_key(x)[1] else None
    if a is not None:
        return f"shape {describe_shape(tuple(a.shape))} and dtype {dtypes.from_numpy(a.dtype).name}"
    return f"value {x!r}"


def _mismatch_message(fname, argname, x, spec):
    return (f"{fname}(): argument '{argname}' has {_describe_leaf(x)}, which does not match "
            f"its input_signature {spec}. Pass a tensor of that shape and dtype (None "
            f"dimensions accept any size), or change input_signature.")


def _check_input_signature(sig, py_signature):
    """TensorFlow's checks of `input_signature` when tf.function is applied (TypeError)."""
    leaves = []
    _flatten(list(sig), leaves, "", None)
    bad = [x for x in leaves if not isinstance(x, TensorSpec) and
           (isinstance(x, (int, float, complex, str, bytes)) or not hasattr(x, "dtype"))]
    if bad:
        raise TypeError(f"input_signature must be a possibly nested sequence of TensorSpec "
                        f"objects, got invalid args {bad} with types "
                        f"{[type(x) for x in bad]}.")
    if py_signature is None:
        return
    params = list(py_signature.parameters.values())
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(sig) > len(positional):
        raise TypeError(f"input_signature contains {len(sig) - len(positional)} extra type "
                        f"constraints.")


def _binding_error(fname, reason, args, kwargs, signature):
    return TypeError(f"Binding inputs to tf.function failed due to `{reason}`. Received args: "
                     f"{tuple(args)} and kwargs: {dict(kwargs)} for signature: {signature}.")


class Function:
    """The callable `tf.function` returns (see the module docstring)."""

    def __init__(self, python_function, name=None, input_signature=None, autograph=True,
                 jit_compile=None, reduce_retracing=False, experimental_implements=None,
                 experimental_autograph_options=None, experimental_attributes=None,
                 experimental_relax_shapes=None, experimental_compile=None,
                 experimental_follow_type_hints=None):
        if not callable(python_function):
            raise TypeError(f"{python_function!r} is not a callable object")
        functools.update_wrapper(self, python_function, updated=())
        self._python_function = python_function
        self._name = name or getattr(python_function, "__name__", "function")
        self._autograph = autograph
        # AutoGraph (tenfold/graph/autograph.py): the function traced, with Python `if` /
        # `while` / `for` on tensors rewritten to tf.cond / tf.while_loop; converted lazily at
        # the first trace, and the Python function itself when autograph=False or it cannot
        # be converted.
        self._traced_function = None
        self._jit_compile = jit_compile if jit_compile is not None else experimental_compile
        self._reduce_retracing = bool(reduce_retracing or experimental_relax_shapes)
        self._input_signature = None
        if input_signature is not None:
            if not isinstance(input_signature, (list, tuple)):
                raise TypeError("input_signature must be a list or tuple of tf.TensorSpec, got "
                                f"{input_signature!r}")
            self._input_signature = tuple(input_signature)
        self._exact = {}            # exact key -> (ConcreteFunction, _Program)
        self._concrete = {}         # signature key -> ConcreteFunction
        self._trace_count = 0
        self._traced_before = False  # variables may be created by the first trace only
        self._history = []          # (leaf keys, leaf paths) of each counted trace
        self._lock = threading.RLock()
        self._bound = weakref.WeakKeyDictionary()
        self._bound_ids = {}
        try:
            self._signature = inspect.signature(python_function)
        except (TypeError, ValueError):
            self._signature = None
        if self._input_signature is not None:
            _check_input_signature(self._input_signature, self._signature)

    # ------------------------------------------------------------ descriptor (methods)
    def __get__(self, instance, owner):
        if instance is None:
            return self
        try:
            bound = self._bound.get(instance)
        except TypeError:
            bound = self._bound_ids.get(id(instance))
        if bound is None:
            # the bound function holds the instance weakly, so the cache does not keep it alive
            ref = weakref.ref(instance)
            fn = self._graph_function()

            def method(*args, **kwargs):
                return fn(ref(), *args, **kwargs)
            functools.update_wrapper(method, fn)
            del method.__wrapped__
            if self._signature is not None:
                params = list(self._signature.parameters.values())[1:]
                method.__signature__ = self._signature.replace(parameters=params)
            bound = Function(method, self._name, self._input_signature, False,  # converted
                             self._jit_compile, self._reduce_retracing)
            try:
                self._bound[instance] = bound
            except TypeError:
                self._bound_ids[id(instance)] = bound
        return bound

    def _graph_function(self):
        """The Python function to trace: AutoGraph-converted unless autograph=False."""
        if self._traced_function is None:
            f = self._python_function
            if self._autograph:
                from tenfold.graph import autograph
                f = autograph.convert(f)
            self._traced_function = f
        return self._traced_function

    # ------------------------------------------------------------ properties
    @property
    def python_function(self):
        return self._python_function

    def _param_kinds(self):
        if self._signature is None:
            return {}
        return {p.name: (p.kind.name, p.default) for p in self._signature.parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"}

    def pretty_printed_concrete_signatures(self, verbose=True):
        """Every concrete function's signature (TensorFlow's format), one block each."""
        return "\n\n".join(cf.pretty_printed_signature(verbose)
                            for cf in self._concrete.values() if cf._first is not None)

    @property
    def input_signature(self):
        return self._input_signature

    @property
    def function_spec(self):
        return self._signature

    def experimental_get_tracing_count(self):
        """How many times the function has been traced (one per new signature)."""
        return self._trace_count

    def __repr__(self):
        return f"<tf.function {self._name}>"

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if _config_state["run_functions_eagerly"] or _tracer.active_tracers():
            # eager debugging, or a call inside another trace: the ops are recorded there
            if _tracer.active_tracers():
                return self._graph_function()(*args, **kwargs)
            return self._python_function(*args, **kwargs)
        # fast path: positional tensors only
        if not kwargs:
            key = []
            simple = True
            for a in args:
                t = type(a)
                if t is Tensor:
                    v = a._value
                    key.append((v.shape, v.dtype))
                elif t is _ndarray:
                    key.append((a.shape, a.dtype))
                else:
                    simple = False
                    break
            if simple:
                hit = self._exact.get(("fast",) + tuple(key))
                if hit is not None:
                    program = hit[1]
                    if _STATE.observers:  # a tape is recording: replay op by op on these tensors
                        return program.replay([a if type(a) is Tensor else _wrap(a)
                                               for a in args])
                    return program.run([a._value if type(a) is Tensor else a for a in args])
        return self._call_slow(args, kwargs)

    def _call_slow(self, args, kwargs):
        # a call that traces runs the ops as it goes: flushed as the program's runs are
        with _fpenv.flushing():
            return self._call_slow_flushed(args, kwargs)

    def _call_slow_flushed(self, args, kwargs):
        leaves = []
        struct = _flatten((args, kwargs), leaves, "", None)
        keys = []
        for x in leaves:
            k, is_t = _leaf_key(x)
            keys.append(k)
        exact = (struct, tuple(keys))
        hit = self._exact.get(exact)
        if hit is None:
            self._check_binding(args, kwargs)
            with self._lock:
                hit = self._exact.get(exact)
                if hit is None:
                    return self._trace_and_run(args, kwargs, leaves, struct, keys, exact)
        return _run_program(hit[1], leaves)

    def _call_concrete(self, cf, args, kwargs):
        leaves = []
        struct = _flatten((args, kwargs), leaves, "", None)
        keys = [_leaf_key(x)[0] for x in leaves]
        exact = (struct, tuple(keys))
        program = cf._programs.get(exact)
        if program is None:
            with self._lock:
                return self._specialize(cf, args, kwargs, leaves, struct, keys, exact)
        return _run_program(program, leaves)

    # ------------------------------------------------------------ signatures
    def _check_binding(self, args, kwargs):
        """Arguments that do not fit the Python signature: TensorFlow's TypeError, before
        anything is traced."""
        sig = self._signature
        if sig is None or isinstance(self._python_function, functools.partial):
            return
        try:
            sig.bind(*args, **kwargs)
        except TypeError as e:
            shown = sig
            if self._input_signature is not None:
                specs = list(self._input_signature)
                shown = "(" + ", ".join(
                    f"{p}: {specs[i]}" if i < len(specs) else str(p)
                    for i, p in enumerate(sig.parameters.values())) + ")"
            raise _binding_error(self._name, e, args, kwargs, shown) from None

    def _leaf_paths(self, args, kwargs):
        """Argument names per leaf ('x', 'batch[0]', ...) for messages."""
        names = []
        params = []
        if self._signature is not None:
            params = [p.name for p in self._signature.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            var = [p.name for p in self._signature.parameters.values()
                   if p.kind == p.VAR_POSITIONAL]
        else:
            var = []
        leaves = []
        for i, a in enumerate(args):
            name = params[i] if i < len(params) else (f"{var[0]}[{i - len(params)}]" if var
                                                      else f"args[{i}]")
            _flatten(a, leaves, name, names)
        for k in sorted(kwargs, key=_sort_key):
            _flatten(kwargs[k], leaves, k, names)
        return names

    def _bind_signature(self, args, kwargs):
        """Checks the call against input_signature; returns the per-leaf specs."""
        sig = self._input_signature
        if self._signature is not None:
            params = [p for p in self._signature.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        else:
            params = []
        if isinstance(self._python_function, functools.partial):
            params = params[len(self._python_function.args):]
        # keyword arguments named in the signature's range count as positional
        args = list(args)
        kwargs = dict(kwargs)
        for p in params[len(args):len(sig)]:
            if p.name in kwargs:
                args.append(kwargs.pop(p.name))
            else:
                break
        if len(args) != len(sig):
            raise TypeError(f"{self._name}() takes {len(sig)} argument(s) per its "
                            f"input_signature {list(sig)}, got {len(args)}.")
        names = self._leaf_paths(args, {})
        leaves = []
        _flatten(list(args), leaves, "", None)
        spec_leaves = []
        _flatten(list(sig), spec_leaves, "", None)
        if len(spec_leaves) != len(leaves):
            raise TypeError(f"{self._name}(): the arguments' structure does not match "
                            f"input_signature {list(sig)}.")
        for x, s, n in zip(leaves, spec_leaves, names):
            if not isinstance(s, TensorSpec):
                continue
            if not _leaf_key(x)[1] or not s.is_compatible_with(_leaf_array(x)):
                # TensorFlow: a TypeError ("Binding inputs to tf.function failed ...")
                raise TypeError(_mismatch_message(self._name, n, x, s))
        return args, kwargs, spec_leaves

    def _trace_and_run(self, args, kwargs, leaves, struct, keys, exact):
        paths = self._leaf_paths(args, kwargs)
        if self._input_signature is not None:
            b_args, b_kwargs, spec_leaves = self._bind_signature(args, kwargs)
            specs = list(spec_leaves) + [x for x in leaves[len(spec_leaves):]]
            specs_key = ("signature",)
        elif self._reduce_retracing:
            specs, specs_key = self._relaxed_specs(struct, leaves, keys)
        else:
            specs = [TensorSpec(k[0], dtypes.from_numpy(k[1])) if is_t else x
                     for x, k, is_t in ((x, k, _leaf_key(x)[1]) for x, k in zip(leaves, keys))]
            specs_key = exact
        cf = self._concrete.get(specs_key)
        if cf is None:
            cf = ConcreteFunction(self, specs_key, specs, paths)
            self._concrete[specs_key] = cf
            self._count_trace(keys, paths, leaves)
        return self._specialize(cf, args, kwargs, leaves, struct, keys, exact)

    def _relaxed_specs(self, struct, leaves, keys):
        """reduce_retracing: generalise shapes that differ from an earlier trace's to None."""
        tensor_flags = [_leaf_key(x)[1] for x in leaves]
        for cf in self._concrete.values():
            s = cf._specs_key
            if not isinstance(s, tuple) or len(s) != 3 or s[0] != "relaxed" or s[1] != struct:
                continue
            old = cf._arg_specs
            if len(old) != len(leaves):
                continue
            ok = True
            for x, o, k, is_t in zip(leaves, old, keys, tensor_flags):
                if is_t != isinstance(o, TensorSpec):
                    ok = False
                elif is_t:
                    if not o.is_compatible_with(_leaf_array(x)):
                        ok = False
                elif _leaf_key(o)[0] != k:
                    ok = False
                if not ok:
                    break
            if ok:
                return old, s
        # a new relaxed signature: merge with a same-structure trace if there is one
        specs = [TensorSpec(k[0], dtypes.from_numpy(k[1])) if is_t else x
                 for x, k, is_t in zip(leaves, keys, tensor_flags)]
        for cf in self._concrete.values():
            s = cf._specs_key
            if not isinstance(s, tuple) or len(s) != 3 or s[0] != "relaxed" or s[1] != struct:
                continue
            old = cf._arg_specs
            merged = []
            for new, o in zip(specs, old):
                if isinstance(new, TensorSpec) and isinstance(o, TensorSpec):
                    m = new.most_specific_common_supertype([o])
                    if m is None:
                        break
                    merged.append(m)
                elif _leaf_key(new)[0] == _leaf_key(o)[0]:
                    merged.append(new)
                else:
                    break
            else:
                specs = merged
                break
        key = ("relaxed", struct, tuple(
            (s.shape._dims, s.dtype.name) if isinstance(s, TensorSpec) else _leaf_key(s)[0]
            for s in specs))
        return specs, key

    def _count_trace(self, keys, paths, leaves):
        self._trace_count += 1
        self._history.append((keys, paths))
        if self._trace_count > MAX_QUIET_TRACES:
            warnings.warn(self._retrace_message(keys, paths), RetracingWarning, stacklevel=4)

    def _retrace_message(self, keys, paths):
        prev_keys, prev_paths = self._history[-2] if len(self._history) > 1 else (None, None)
        head = (f"tf.function '{self._name}' was traced {self._trace_count} times (more than "
                f"{MAX_QUIET_TRACES}); tracing is slow, and each new signature traces again.")
        if prev_keys is None or len(prev_keys) != len(keys) or prev_paths != paths:
            return head + (" This time the arguments' structure or names changed; pass "
                           "tensors with a stable structure.")
        for i, (a, b, name) in enumerate(zip(prev_keys, keys, paths)):
            if a == b:
                continue
            if a[0] == "P" or b[0] == "P":
                return head + (f" This time argument '{name}' changed value from {a[-1]!r} to "
                               f"{b[-1]!r}: Python values are part of the signature; pass "
                               f"tensors instead (tf.constant(...)) to avoid retracing.")
            if a[0] in ("V", "O") or b[0] in ("V", "O"):
                return head + (f" This time argument '{name}' is a different object; pass the "
                               f"same object or tensors.")
            if a[1] != b[1]:
                return head + (f" This time argument '{name}' changed dtype from "
                               f"{dtypes.from_numpy(a[1]).name} to "
                               f"{dtypes.from_numpy(b[1]).name}.")
            # shape change: suggest a signature generalising every shape seen for this leaf
            dims = list(b[0])
            for hk, hp in self._history:
                if len(hk) == len(keys) and hp == paths and hk[i][0] not in ("P", "V", "O") \
                        and len(hk[i][0]) == len(dims):
                    dims = [d if d == e else None for d, e in zip(dims, hk[i][0])]
            spec = ", ".join("None" if d is None else str(d) for d in dims)
            sig = ", ".join(
                f"tf.TensorSpec([{spec}]{'' if b[1] == np.float32 else ', tf.' + dtypes.from_numpy(b[1]).name})"
                if j == i else "..." for j in range(len(keys)) if keys[j][0] not in ("P", "V", "O"))
            return head + (f" This time argument '{name}' changed shape from "
                           f"{describe_shape(a[0])} to {describe_shape(b[0])}; pass "
                           f"input_signature=[{sig}] or reduce_retracing=True.")
        return head

    def _rebuild_args(self, arg_specs):
        return tuple(arg_specs), {}

    # ------------------------------------------------------------ tracing
    def _specialize(self, cf, args, kwargs, leaves, struct, keys, exact):
        program, result = self._trace(args, kwargs, leaves, struct, specs=cf._arg_specs)
        cf._programs[exact] = program
        if cf._first is None:
            cf._first = program
        self._exact[exact] = (cf, program)
        if not kwargs and all(type(a) in (Tensor, _ndarray) for a in args):
            self._exact[("fast",) + tuple(keys)] = (cf, program)
        return result

    def _trace(self, args, kwargs, leaves, struct, dry_run=False, specs=None):
        tr = _tracer.Tracer(dry_run=dry_run, name=self._name)
        tr.jit = tr.graph.jit = bool(self._jit_compile)
        new_leaves = []
        tape_recording = bool(_STATE.observers)
        used = set()
        try:
            paths = self._leaf_paths(args, kwargs)
        except Exception:  # names are for printing only
            paths = []
        for i, x in enumerate(leaves):
            if _leaf_key(x)[1]:
                spec = x if isinstance(x, TensorSpec) else (
                    specs[i] if specs is not None and i < len(specs) else None)
                spec_shape = spec.shape if isinstance(spec, TensorSpec) else None
                path = paths[i] if i < len(paths) else None
                if isinstance(x, TensorSpec):
                    shape = tuple(1 if d is None else d for d in x.shape._dims)
                    t = _wrap(np.zeros(shape, x.dtype._np))
                elif tape_recording and type(x) is Tensor:
                    # the caller's own tensor (or, passed twice, a recorded copy of it): a
                    # tape recording this call links through the trace
                    if id(x) not in used:
                        t = x
                    else:
                        from tenfold.ops.array_ops import identity
                        t = identity(x)
                else:
                    t = _wrap(_leaf_array(x))
                used.add(id(t))
                tr.add_input(t, path, spec_shape)
                new_leaves.append(t)
            else:
                new_leaves.append(x)
        new_args, new_kwargs = _unflatten((args, kwargs), new_leaves)
        keepalive = [x for x in leaves if not _leaf_key(x)[1] and _leaf_key(x)[0][0] in
                     ("V", "O")]
        with _tracer.tracing(tr):
            result = self._graph_function()(*new_args, **new_kwargs)
            if tr.created_variables and self._traced_before:
                raise ValueError(
                    f"tf.function only supports singleton tf.Variables created on the first "
                    f"call. Make sure the tf.Variable is only created once or created outside "
                    f"tf.function ('{self._name}' created {len(tr.created_variables)} "
                    f"variable(s) while tracing again for new arguments): create them in "
                    f"__init__ or guard creation with `if self.v is None:`.")
            out_leaves = []
            template = _flatten(result, out_leaves, "", None)
            kinds = []
            real = []
            for o in out_leaves:
                if isinstance(o, Tensor):
                    if isinstance(o, Variable):
                        from tenfold.graph import effects
                        o = effects.read_value(o)
                    tr.graph.outputs.append(tr.output_id(o))
                    kinds.append(len(tr.graph.outputs) - 1)
                    real.append(o)
                else:
                    kinds.append(("py", o))
                    real.append(o)
        if dry_run:
            tr.restore_variables()
        self._traced_before = True
        tr.prune_failed()
        graph = tr.graph
        out_template = _unflatten(result, [None] * len(out_leaves))
        program = _Program(graph, tr.const_values, out_template, kinds, keepalive)
        tr.release()
        return program, _unflatten(result, real)

    # ------------------------------------------------------------ concrete functions
    def get_concrete_function(self, *args, **kwargs):
        """The ConcreteFunction for these arguments (TensorSpecs, tensors or Python values),
        tracing without running if it is new; with no arguments, the input_signature's."""
        if not args and not kwargs and self._input_signature is not None:
            args = self._input_signature
        if self._input_signature is not None:
            specs_key = ("signature",)
        leaves = []
        struct = _flatten((args, kwargs), leaves, "", None)
        keys = [_leaf_key(x)[0] for x in leaves]
        paths = self._leaf_paths(args, kwargs)
        if self._input_signature is not None:
            specs = list(self._input_signature)
            flat_specs = []
            _flatten(specs, flat_specs, "", None)
            specs = flat_specs + leaves[len(flat_specs):]
        else:
            specs = []
            for x, k in zip(leaves, keys):
                if isinstance(x, TensorSpec):
                    specs.append(x)
                elif _leaf_key(x)[1]:
                    a = _leaf_array(x)
                    specs.append(TensorSpec(a.shape, dtypes.from_numpy(a.dtype)))
                else:
                    specs.append(x)
            specs_key = ("concrete", struct, tuple(
                (s.shape._dims, s.dtype.name) if isinstance(s, TensorSpec) else _leaf_key(s)[0]
                for s in specs))
            exact_hit = self._exact.get((struct, tuple(keys)))
            if exact_hit is not None:
                return exact_hit[0]
        with self._lock:
            cf = self._concrete.get(specs_key)
            if cf is not None and cf._first is not None:
                return cf
            if cf is None:
                cf = ConcreteFunction(self, specs_key, specs, paths)
                self._concrete[specs_key] = cf
                self._count_trace(keys, paths, leaves)
            dry_leaves = [s if isinstance(s, TensorSpec) else x for s, x in zip(specs, leaves)]
            program, _ = self._trace(args, kwargs, dry_leaves, struct, dry_run=True)
            cf._first = program
            if all(not isinstance(s, TensorSpec) or s.shape.is_fully_defined() for s in specs):
                ekeys = tuple(_leaf_key(s)[0] for s in dry_leaves)
                cf._programs[(struct, ekeys)] = program
                self._exact[(struct, ekeys)] = (cf, program)
        return cf

    def experimental_get_compiler_ir(self, *args, **kwargs):
        cf = self.get_concrete_function(*args, **kwargs)
        return lambda stage="hlo": repr(cf.graph)


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_implements=None,
             experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None, name=None):
    """Compiles a Python function into a graph function (`tf.function`): usable as
    `@tf.function`, `@tf.function(input_signature=[...])` or `tf.function(f)`."""
    kwargs = dict(input_signature=input_signature, autograph=autograph, jit_compile=jit_compile,
                  reduce_retracing=reduce_retracing,
                  experimental_relax_shapes=experimental_relax_shapes,
                  experimental_compile=experimental_compile, name=name)

    def decorate(f):
        if isinstance(f, Function):
            f = f.python_function
        return Function(f, **kwargs)
    if func is None:
        return decorate
    return decorate(func)
