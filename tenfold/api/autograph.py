"""`tf.autograph`: tf.function traces Python directly, so conversion switches are no-ops."""
import types as _types


def _do_not_convert(func=None):
    """Marks a function as not to be converted (accepted, and a no-op here)."""
    if func is None:
        return _do_not_convert
    return func


def set_verbosity(level, alsologtostdout=False):
    pass


def to_code(entity, recursive=True, experimental_optional_features=None):
    import inspect
    return inspect.getsource(entity)


def to_graph(entity, recursive=True, experimental_optional_features=None):
    return entity


experimental = _types.SimpleNamespace(do_not_convert=_do_not_convert,
                                      set_loop_options=lambda **kwargs: None,
                                      Feature=_types.SimpleNamespace(ALL="ALL"))
