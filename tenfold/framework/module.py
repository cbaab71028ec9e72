"""`tf.Module`: a named container that finds the variables and submodules in its attributes."""
import re

from tenfold.framework.variable import Variable

_VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")


def _camel_to_snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class Module:
    """Base class for objects that own variables: `variables`, `trainable_variables` and
    `submodules` are found by walking attributes (lists, tuples and dicts included)."""

    _TF_MODULE_IGNORED_PROPERTIES = frozenset()

    def __init__(self, name=None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not _VALID.match(name):
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid "
                             f"Python identifiers (e.g. a valid class name).")
        self._name = name
        from tenfold.framework.context import current_name_scope
        self._scope_name = current_name_scope() + name

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        from tenfold.framework.context import name_scope
        return name_scope(self._scope_name + "/")

    @property
    def variables(self):
        return tuple(self._flatten(lambda x: isinstance(x, Variable)))

    @property
    def trainable_variables(self):
        return tuple(self._flatten(lambda x: isinstance(x, Variable) and x.trainable))

    @property
    def non_trainable_variables(self):
        return tuple(self._flatten(lambda x: isinstance(x, Variable) and not x.trainable))

    @property
    def submodules(self):
        return tuple(self._flatten(lambda x: isinstance(x, Module)))

    def _flatten(self, predicate, recursive=True):
        """Objects matching predicate, depth-first in attribute order, each once."""
        seen, out = {id(self)}, []
        stack = [self]
        while stack:
            obj = stack.pop()
            children = []
            for key, val in sorted(vars(obj).items()) if isinstance(obj, Module) else []:
                if key in getattr(obj, "_TF_MODULE_IGNORED_PROPERTIES", ()):
                    continue
                children.extend(_leaves(val))
            submodules = []
            for c in children:
                if id(c) in seen:
                    continue
                seen.add(id(c))
                if predicate(c):
                    out.append(c)
                if recursive and isinstance(c, Module):
                    submodules.append(c)
            # as TensorFlow: this module's own leaves first, then each submodule in attribute
            # order, depth first (the stack pops the first submodule next)
            stack.extend(reversed(submodules))
        return out

    @classmethod
    def with_name_scope(cls, method):
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        wrapped.__name__ = getattr(method, "__name__", "method")
        wrapped.__doc__ = getattr(method, "__doc__", None)
        return wrapped

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} object named {self._name!r}>"


def _leaves(val):
    """Variables and modules inside val (walking lists, tuples, sets and dicts)."""
    out, stack = [], [val]
    while stack:
        v = stack.pop()
        if isinstance(v, (Variable, Module)):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(reversed([v[k] for k in sorted(v, key=str)]))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
    return out
