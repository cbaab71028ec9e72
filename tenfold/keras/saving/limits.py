"""Limits that keep a small hostile file from making the loader allocate gigabytes or recurse
without end.

- Config nesting: at most `MAX_CONFIG_DEPTH` levels of JSON objects/lists (real Keras configs
  use about 10, plus about 4 per nested model).
- Parameters: while a model is rebuilt from a file, every weight it creates is counted before
  it is allocated. The limit is the smaller of the global limit (`get_max_load_parameters()`,
  default 1e9 parameters, about 4 GB in float32) and, when the file has a weights store, the
  number of values that store declares plus 1M (a model cannot need more weights than its
  file holds). Raise the global limit, for models you trust, with

      keras.saving.set_max_load_parameters(5_000_000_000)
      # or the environment variable TENFOLD_MAX_LOAD_PARAMETERS=5000000000
"""
import contextlib
import contextvars
import math
import os

MAX_CONFIG_DEPTH = 100
DEFAULT_MAX_LOAD_PARAMETERS = 1_000_000_000
UNSAVED_SLACK = 1 << 20        # variables a model has but does not save (seeds, counters)
_max_params = None
_budget = contextvars.ContextVar("tenfold_load_parameter_budget", default=None)


class LoadLimitError(ValueError):
    """A file asks for more than the loader's limits allow; the message says how to raise
    them."""


def set_max_load_parameters(n):
    """Sets the most parameters a model rebuilt from a file may create (None: the default,
    or $TENFOLD_MAX_LOAD_PARAMETERS)."""
    global _max_params
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n <= 0):
        raise ValueError(f"set_max_load_parameters expects a positive int or None; got {n!r}")
    _max_params = n


def get_max_load_parameters():
    if _max_params is not None:
        return _max_params
    env = os.environ.get("TENFOLD_MAX_LOAD_PARAMETERS")
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise ValueError(f"TENFOLD_MAX_LOAD_PARAMETERS must be a number of parameters; "
                             f"got {env!r}") from None
    return DEFAULT_MAX_LOAD_PARAMETERS


class _Budget:
    def __init__(self, limit, source, stored):
        self.limit = limit
        self.source = source
        self.stored = stored
        self.used = 0


@contextlib.contextmanager
def parameter_budget(source, stored_elements=None):
    """Counts the weights created inside the block against the limits (see module doc)."""
    limit = get_max_load_parameters()
    if stored_elements is not None:
        limit = min(limit, int(stored_elements) + UNSAVED_SLACK)
    token = _budget.set(_Budget(limit, source, stored_elements))
    try:
        yield
    finally:
        _budget.reset(token)


def charge_parameters(layer, shape, dtype=None):
    """Called by Layer.add_weight before it allocates: raises LoadLimitError when a model
    being loaded would go over its parameter budget. A no-op outside loading."""
    budget = _budget.get()
    if budget is None:
        return
    n = math.prod(int(d) for d in shape) if shape else 1
    budget.used += n
    if budget.used <= budget.limit:
        return
    name = getattr(layer, "name", type(layer).__name__)
    why = (f"its weights store holds only {budget.stored} values"
           if budget.stored is not None and budget.limit < get_max_load_parameters()
           else f"the limit is {budget.limit} parameters")
    raise LoadLimitError(
        f"Refusing to build the model from {budget.source}: layer '{name}' would create a "
        f"weight of shape {tuple(int(d) for d in shape)} ({n} values), taking the model to "
        f"{budget.used} parameters, and {why}. The file is corrupted or hostile. If you trust "
        "it and the model really is this large, raise the limit with "
        "keras.saving.set_max_load_parameters(n) or the environment variable "
        "TENFOLD_MAX_LOAD_PARAMETERS.")


def check_depth(node, source, limit=MAX_CONFIG_DEPTH):
    """Raises LoadLimitError when a parsed JSON value nests deeper than `limit` (iterative:
    safe on any depth)."""
    stack = [(node, 1)]
    while stack:
        cur, depth = stack.pop()
        if depth > limit:
            raise LoadLimitError(f"Refusing to load {source}: its config nests more than "
                                 f"{limit} levels deep (real Keras configs use far fewer); the "
                                 "file is corrupted or hostile.")
        if isinstance(cur, dict):
            stack.extend((v, depth + 1) for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend((v, depth + 1) for v in cur if isinstance(v, (dict, list)))
