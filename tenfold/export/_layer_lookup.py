"""Finding a Keras layer's entry in an exporter's table (ONNX, TFLite), shared by both."""


def lowering_for(table, layer, unsupported, tool):
    """The entry of `table` (keyed by class name) for the nearest tenfold Keras class of
    `layer`, or None. A subclass that overrides `call()` is refused: its computation is Python
    code `tool` cannot translate."""
    for cls in type(layer).__mro__:
        fn = table.get(cls.__name__)
        if fn is not None and cls.__module__.startswith("tenfold.keras"):
            if type(layer).call is not cls.call:
                raise unsupported(layer, f"the class overrides `call()` of {cls.__name__}, so "
                                  f"its computation is Python code the {tool} cannot "
                                  "translate")
            return fn
    return None
