"""A small AutoGraph: Python `if` / `while` / `for` on tensors inside tf.function.

`convert(fn)` rewrites the function's source (`inspect.getsource` + `ast`) so that every
`if`, `while` and `for` statement calls a runtime helper of this module (`if_stmt`,
`while_stmt`, `for_stmt`) in functional form: each branch / loop body becomes an inner
function taking the state (the local variables the statement assigns) as arguments and
returning it, and the statement becomes `x, y = ag__.if_stmt(test, true_fn, false_fn,
(x, y), ('x', 'y'), ...)`. At run time a helper whose test is a dynamic tensor (one that
depends on the traced function's inputs) calls `tf.cond` / `tf.while_loop`; any other test
runs as plain Python, with Python's semantics (side effects happen at trace time only).

A tail `return` in an `if` is supported (`if c: return a` followed by more statements becomes
an if/else assigning one return value). A statement holding what a branch function cannot
(`return` elsewhere, `break` / `continue`, `yield`, loop `else:`) stays plain Python; and a
function with `global` / `nonlocal`, private `__names`, a lambda, a generator or a function
without source is not converted at all, so tf.function behaves as it did without AutoGraph
(a tensor condition there raises OperatorNotAllowedInGraphError as before).
"""
import ast
import inspect
import sys
import textwrap
import types

_PREFIX = "ag__"


class _Undefined:
    """Value of a state variable not yet assigned before a converted statement."""
    __slots__ = ()

    def __repr__(self):
        return "<undefined>"


UNDEFINED = _Undefined()


class _Unsupported(Exception):
    pass


# ---------------------------------------------------------------------------- runtime

def _tensor_types():
    from tenfold.framework.tensor import Tensor
    from tenfold.framework.variable import Variable
    return Tensor, Variable


def _is_dynamic(x):
    Tensor, _ = _tensor_types()
    if not isinstance(x, Tensor):
        return False
    from tenfold.graph import tracer
    tr = tracer.current_tracer()
    return tr is not None and tr.is_dynamic(x)


def if_stmt(test, true_fn, false_fn, state, names, only_true=(), only_false=()):
    """`true_fn(*state)` if test else `false_fn(*state)`; tf.cond when test is a dynamic tensor."""
    if not _is_dynamic(test):
        return tuple(true_fn(*state) if test else false_fn(*state))
    from tenfold.graph import control_flow
    for name, v in zip(names, state):
        if v is UNDEFINED and (name in only_true or name in only_false):
            other = "else" if name in only_true else "if"
            raise ValueError(
                f"AutoGraph: '{name}' must also be initialized in the {other} branch of an `if` "
                f"whose condition is a tensor (or be defined before the `if` statement): "
                f"tf.cond needs both branches to produce the same variables.")
    if not names:
        control_flow.cond(test, lambda: (true_fn(*state), ())[1],
                          lambda: (false_fn(*state), ())[1])
        return ()
    out = control_flow.cond(test, lambda: tuple(true_fn(*state)),
                            lambda: tuple(false_fn(*state)))
    return tuple(out)


def _loop_value(v):
    """Whether a state value can be a loop variable of tf.while_loop."""
    import numpy as np
    Tensor, Variable = _tensor_types()
    if isinstance(v, Variable):
        return False
    return isinstance(v, (Tensor, np.ndarray, np.generic, bool, int, float))


def _tf_while(test_fn, body_fn, state, names):
    from tenfold.framework.tensor import convert_to_tensor
    from tenfold.graph import control_flow
    Tensor, _ = _tensor_types()
    state = list(state)
    loop_pos = [j for j, v in enumerate(state) if _loop_value(v)]
    init = [state[j] if isinstance(state[j], Tensor) else convert_to_tensor(state[j])
            for j in loop_pos]

    def full(vals):
        s = list(state)
        for p, v in zip(loop_pos, vals):
            s[p] = v
        return s

    def cond(*vals):
        return test_fn(*full(vals))

    def body(*vals):
        out = list(body_fn(*full(vals)))
        for j, v in enumerate(out):
            if j in loop_pos or state[j] is UNDEFINED:
                continue
            if v is not state[j]:
                raise ValueError(
                    f"AutoGraph: '{names[j]}' holds a {type(state[j]).__name__}, which cannot "
                    f"be a loop variable of a `while`/`for` on a tensor, but the loop body "
                    f"assigns it; make it a tensor before the loop.")
        res = []
        for j, t0 in zip(loop_pos, init):
            v = out[j]
            if not isinstance(v, Tensor):
                v = convert_to_tensor(v, dtype=t0.dtype)
            res.append(v)
        return res

    if not loop_pos:
        raise ValueError("AutoGraph: a `while` on a tensor needs at least one loop variable "
                         "(a local variable assigned in the loop body).")
    final = control_flow.while_loop(cond, body, init)
    if not isinstance(final, (list, tuple)):
        final = [final]
    return tuple(full(list(final)))


def while_stmt(test_fn, body_fn, state, names):
    """Python `while` while the test is not a dynamic tensor; tf.while_loop from then on."""
    state = tuple(state)
    while True:
        t = test_fn(*state)
        if _is_dynamic(t):
            return _tf_while(test_fn, body_fn, state, names)
        if not t:
            return state
        state = tuple(body_fn(*state))


def for_stmt(iterable, body_fn, state, names):
    """Python `for` over non-tensors; over a dynamic tensor, a tf.while_loop on an index."""
    if not isinstance(iterable, _DynamicRange) and not _is_dynamic(iterable):
        state = tuple(state)
        for item in iterable:
            state = tuple(body_fn(item, *state))
        return state
    tf = _tf()
    if isinstance(iterable, _DynamicRange):
        start, limit, delta = iterable.start, iterable.limit, iterable.delta

        def test_fn(i, *s):
            return (limit - i) * tf.sign(delta) > 0

        def loop_body(i, *s):
            return (i + delta,) + tuple(body_fn(i, *s))
        first = start
    else:
        if len(iterable.shape) == 0:
            raise TypeError("AutoGraph: cannot iterate over a scalar tensor.")
        n = tf.shape(iterable)[0]

        def test_fn(i, *s):
            return i < n

        def loop_body(i, *s):
            return (i + 1,) + tuple(body_fn(tf.gather(iterable, i), *s))
        first = tf.constant(0)
    out = _tf_while(test_fn, loop_body, (first,) + tuple(state),
                    ("<loop index>",) + tuple(names))
    return out[1:]


class _DynamicRange:
    """`tf.range(start, limit, delta)` with bounds only known when the graph runs, as the
    iterable of a converted `for` (iterated by a tf.while_loop, never materialized)."""

    def __init__(self, start, limit, delta):
        self.start, self.limit, self.delta = start, limit, delta


def _tf():
    """The few tf.* ops the loop helpers use, from the layers below (not the root package)."""
    import types
    from tenfold.framework import dtypes
    from tenfold.framework.tensor import Tensor, constant, convert_to_tensor
    from tenfold.ops import array_ops, math_ops
    return types.SimpleNamespace(sign=math_ops.sign, shape=array_ops.shape,
                                 gather=array_ops.gather, constant=constant,
                                 range=array_ops.range, Tensor=Tensor,
                                 convert_to_tensor=convert_to_tensor,
                                 as_dtype=dtypes.as_dtype, cast=math_ops.cast)


def range_call(fn, *args, **kwargs):
    """Calls `fn(*args, **kwargs)`, the iterable of a converted `for`; `tf.range` (or Python's
    `range`) with bounds that depend on the traced inputs becomes a `_DynamicRange` instead."""
    tf = _tf()
    values = list(args) + list(kwargs.values())
    if (fn is not tf.range and fn is not range) or not any(_is_dynamic(a) for a in values):
        return fn(*args, **kwargs)
    names = ("start", "limit", "delta", "dtype", "name")
    bound = dict(zip(names, args))
    bound.update(kwargs)
    if len(args) == 1 and "limit" not in kwargs:
        bound = {"start": 0, "limit": args[0], **kwargs}
    start, limit = bound.get("start", 0), bound.get("limit")
    delta, dtype = bound.get("delta", 1), bound.get("dtype")
    if limit is None:
        start, limit = 0, start
    ts = [tf.convert_to_tensor(v) if not isinstance(v, tf.Tensor) else v
          for v in (start, limit, delta)]
    if dtype is None:
        dt = ts[0].dtype
        for t in ts[1:]:
            if t.dtype.is_floating:
                dt = t.dtype
    else:
        dt = tf.as_dtype(dtype)
    return _DynamicRange(*[tf.cast(t, dt) for t in ts])


# ---------------------------------------------------------------------------- transform

def _assigned(stmts):
    """Names a block binds (not counting nested functions' / classes' / lambdas' bodies)."""
    names = []

    def add(n):
        if not n.startswith(_PREFIX) and n not in names:
            names.append(n)

    def visit(node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            add(node.name)
            for d in node.decorator_list:
                visit(d)
            return
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                               ast.GeneratorExp)):
            return
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.NamedExpr):
            add(node.target.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for s in stmts:
        visit(s)
    return names


def _check_block(stmts):
    """Raises _Unsupported for constructs a converted block cannot hold."""
    def visit(node, in_loop):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal,
                             ast.Await)):
            raise _Unsupported(type(node).__name__)
        if isinstance(node, (ast.Break, ast.Continue)) and not in_loop:
            raise _Unsupported(type(node).__name__)
        if isinstance(node, ast.NamedExpr):
            raise _Unsupported("walrus")
        loop = in_loop or isinstance(node, (ast.For, ast.While))
        for child in ast.iter_child_nodes(node):
            visit(child, loop)

    for s in stmts:
        visit(s, False)


def _always_returns(stmts):
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False


def _normalize_returns(stmts):
    """`if c: ...return a` + rest  ->  `if c: ...return a  else: rest` (recursively)."""
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.If):
            s.body = _normalize_returns(s.body)
            s.orelse = _normalize_returns(s.orelse)
            if _always_returns(s.body) and not _always_returns(s.orelse) and \
                    not s.orelse and i + 1 < len(stmts):
                s.orelse = _normalize_returns(stmts[i + 1:])
                out.append(s)
                return out
        out.append(s)
    return out


def _tail_returns_to_assign(stmts, var):
    """In a block that always returns through if/else tails, `return e` -> `var = e`."""
    last = stmts[-1]
    if isinstance(last, ast.Return):
        value = last.value or ast.Constant(value=None)
        stmts[-1] = ast.copy_location(
            ast.Assign(targets=[ast.Name(id=var, ctx=ast.Store())], value=value), last)
    else:
        _tail_returns_to_assign(last.body, var)
        _tail_returns_to_assign(last.orelse, var)


def _parse(src):
    return ast.parse(textwrap.dedent(src)).body


class _Converter:
    def __init__(self):
        self.counter = 0

    def fresh(self, kind):
        self.counter += 1
        return f"{_PREFIX}{kind}_{self.counter}"

    def _prologue(self, names):
        """`try: x / except NameError: x = ag__.UNDEFINED` for each state variable."""
        out = []
        for n in names:
            out += _parse(f"try:\n    {n}\nexcept NameError:\n    {n} = ag__.UNDEFINED\n")
        return out

    def _epilogue(self, names):
        out = []
        for n in names:
            out += _parse(f"if {n} is ag__.UNDEFINED:\n    del {n}\n")
        return out

    def _fn(self, name, params, body, names):
        tup = "(" + "".join(f"{n}, " for n in names) + ")"
        fdef = _parse(f"def {name}({', '.join(params)}):\n    return {tup}\n")[0]
        fdef.body = (body or []) + fdef.body
        return fdef

    def _assign_state(self, names, call_src):
        if names:
            tgt = "(" + "".join(f"{n}, " for n in names) + ")"
            return _parse(f"{tgt} = {call_src}\n")
        return _parse(f"{call_src}\n")

    def block(self, stmts):
        out = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s):
        if isinstance(s, (ast.If, ast.While, ast.For)):
            try:
                return self._control(s)
            except _Unsupported:
                # e.g. `break` or a non-tail `return` inside: the statement stays Python (and
                # a tensor condition in it raises OperatorNotAllowedInGraphError as before)
                return [s]
        return self._other(s)

    def _control(self, s):
        if isinstance(s, ast.If):
            _check_block(s.body)
            _check_block(s.orelse)
            tn, fn_ = _assigned(s.body), _assigned(s.orelse)
            names = tn + [n for n in fn_ if n not in tn]
            only_t = [n for n in tn if n not in fn_]
            only_f = [n for n in fn_ if n not in tn]
            body, orelse = self.block(s.body), self.block(s.orelse)
            t_name, f_name, test = self.fresh("if_true"), self.fresh("if_false"), \
                self.fresh("test")
            out = self._prologue(names)
            out += [ast.Assign(targets=[ast.Name(id=test, ctx=ast.Store())], value=s.test)]
            out.append(self._fn(t_name, names, body or [ast.Pass()], names))
            out.append(self._fn(f_name, names, orelse or [ast.Pass()], names))
            tup = "(" + "".join(f"{n}, " for n in names) + ")"
            out += self._assign_state(
                names, f"ag__.if_stmt({test}, {t_name}, {f_name}, {tup}, {tuple(names)!r}, "
                       f"{tuple(only_t)!r}, {tuple(only_f)!r})")
            return out + self._epilogue(names)
        if isinstance(s, ast.While):
            if s.orelse:
                raise _Unsupported("while/else")
            _check_block(s.body)
            self._no_break(s.body)
            names = _assigned(s.body)
            body = self.block(s.body)
            t_name, b_name = self.fresh("while_test"), self.fresh("while_body")
            out = self._prologue(names)
            tdef = _parse(f"def {t_name}({', '.join(names)}):\n    return None\n")[0]
            tdef.body[0].value = s.test
            out.append(tdef)
            out.append(self._fn(b_name, names, body, names))
            tup = "(" + "".join(f"{n}, " for n in names) + ")"
            out += self._assign_state(
                names, f"ag__.while_stmt({t_name}, {b_name}, {tup}, {tuple(names)!r})")
            return out + self._epilogue(names)
        if isinstance(s, ast.For):
            if s.orelse:
                raise _Unsupported("for/else")
            _check_block(s.body)
            self._no_break(s.body)
            names = _assigned([s.target]) + [n for n in _assigned(s.body)
                                             if n not in _assigned([s.target])]
            body = self.block(s.body)
            b_name, item, it = self.fresh("for_body"), self.fresh("item"), self.fresh("iter")
            out = self._prologue(names)
            it_val = s.iter
            if isinstance(it_val, ast.Call) and not any(isinstance(a, ast.Starred)
                                                        for a in it_val.args):
                it_val = ast.Call(func=ast.Attribute(value=ast.Name(id="ag__", ctx=ast.Load()),
                                                     attr="range_call", ctx=ast.Load()),
                                  args=[it_val.func] + it_val.args, keywords=it_val.keywords)
            out.append(ast.Assign(targets=[ast.Name(id=it, ctx=ast.Store())], value=it_val))
            bind = ast.Assign(targets=[s.target], value=ast.Name(id=item, ctx=ast.Load()))
            out.append(self._fn(b_name, [item] + names, [bind] + body, names))
            tup = "(" + "".join(f"{n}, " for n in names) + ")"
            out += self._assign_state(
                names, f"ag__.for_stmt({it}, {b_name}, {tup}, {tuple(names)!r})")
            return out + self._epilogue(names)
        raise _Unsupported(type(s).__name__)

    def _other(self, s):
        if isinstance(s, (ast.With, ast.AsyncWith)):
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, ast.Try):
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            s.finalbody = self.block(s.finalbody)
            for h in s.handlers:
                h.body = self.block(h.body)
            return [s]
        if isinstance(s, (ast.Global, ast.Nonlocal)):
            raise _Unsupported(type(s).__name__)
        return [s]

    def _no_break(self, stmts):
        def visit(node):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda, ast.For, ast.While)):
                return
            if isinstance(node, (ast.Break, ast.Continue)):
                raise _Unsupported("break/continue")
            for c in ast.iter_child_nodes(node):
                visit(c)
        for s in stmts:
            visit(s)


def _has_control_flow(fdef):
    for node in ast.walk(fdef):
        if isinstance(node, (ast.If, ast.While, ast.For)):
            return True
    return False


def _convert(fn):
    if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>":
        raise _Unsupported("not a plain function")
    if fn.__code__.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE |
                               inspect.CO_ASYNC_GENERATOR):
        raise _Unsupported("generator")
    if getattr(fn, "__ag_do_not_convert__", False):
        raise _Unsupported("do_not_convert")
    src = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(src)
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef) or \
            tree.body[0].name != fn.__name__:
        raise _Unsupported("source is not one def")
    fdef = tree.body[0]
    if not _has_control_flow(fdef):
        raise _Unsupported("nothing to convert")
    for node in ast.walk(fdef):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            raise _Unsupported("global/nonlocal")
        if isinstance(node, ast.Name) and node.id.startswith(_PREFIX):
            raise _Unsupported("reserved name")
        ident = getattr(node, "attr", None) or getattr(node, "id", None) or ""
        if ident.startswith("__") and not ident.endswith("__"):
            raise _Unsupported("private name (mangled in a class body)")
    fdef.decorator_list = []
    for node in ast.walk(fdef):
        # zero-argument super() reads the first argument of the function it is written in,
        # which would be a branch function's: name the class and the instance explicitly
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "super" and not node.args and not node.keywords:
            if "__class__" not in fn.__code__.co_freevars or not fdef.args.args:
                raise _Unsupported("super()")
            node.args = [ast.Name(id="__class__", ctx=ast.Load()),
                         ast.Name(id=fdef.args.args[0].arg, ctx=ast.Load())]
    body = _normalize_returns(fdef.body)
    if body and isinstance(body[-1], ast.If) and _always_returns(body[-1].body) and \
            _always_returns(body[-1].orelse):
        _tail_returns_to_assign(body, "retval__ag")
        body.append(_parse("return retval__ag\n")[0])
    fdef.body = _Converter().block(body)
    freevars = fn.__code__.co_freevars
    factory = ast.FunctionDef(
        name=f"{_PREFIX}factory",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(arg="ag__")] +
                           [ast.arg(arg=v) for v in freevars],
                           vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[fdef, ast.Return(value=ast.Name(id=fn.__name__, ctx=ast.Load()))],
        decorator_list=[], returns=None, type_comment=None)
    if sys.version_info >= (3, 12):
        factory.type_params = []
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    first = fn.__code__.co_firstlineno
    ast.increment_lineno(module, first - 1)
    code = compile(module, inspect.getsourcefile(fn) or "<autograph>", "exec")
    ns = {}
    exec(code, fn.__globals__, ns)
    cells = [c.cell_contents for c in (fn.__closure__ or ())]
    new = ns[f"{_PREFIX}factory"](sys.modules[__name__], *cells)
    new.__defaults__ = fn.__defaults__
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update(fn.__dict__)
    new.__wrapped__ = fn
    new.__ag_converted__ = True
    return new


def convert(fn):
    """The AutoGraph-converted form of `fn`, or `fn` itself when it cannot be converted."""
    if getattr(fn, "__ag_converted__", False):
        return fn
    try:
        return _convert(fn)
    except Exception:   # no source, unsupported construct, ...: keep the Python function
        return fn
