"""`tf.autograph`: the conversion tf.function applies (tenfold/graph/autograph.py)."""
import types as _types


def _do_not_convert(func=None):
    """Marks a function as not to be converted: tf.function traces it as written."""
    if func is None:
        return _do_not_convert
    try:
        func.__ag_do_not_convert__ = True
    except (AttributeError, TypeError):
        pass
    return func


def set_verbosity(level, alsologtostdout=False):
    pass


def to_code(entity, recursive=True, experimental_optional_features=None):
    import inspect
    return inspect.getsource(entity)


def to_graph(entity, recursive=True, experimental_optional_features=None):
    """The converted function: Python `if` / `while` / `for` on tensors become tf.cond /
    tf.while_loop when it runs inside tf.function (unchanged if it cannot be converted)."""
    from tenfold.graph import autograph
    return autograph.convert(entity)


experimental = _types.SimpleNamespace(do_not_convert=_do_not_convert,
                                      set_loop_options=lambda **kwargs: None,
                                      Feature=_types.SimpleNamespace(ALL="ALL"))
