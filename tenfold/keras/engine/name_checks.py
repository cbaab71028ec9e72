"""compile() checks the names it is given (optimizer, losses, metrics) at once, so that a typo
is reported at `compile` with the closest known name, not several calls later inside `fit`.
(Keras 3 resolves loss and metric names when `fit` first runs; the names accepted are the
same.)"""
import difflib

# Names resolved against the targets when fit first runs, as Keras does.
_LOSS_BY_TARGETS = ("crossentropy", "ce")
_METRIC_BY_TARGETS = ("accuracy", "acc", "crossentropy", "ce")


def _strings(spec):
    """The strings in a loss / metrics spec (a name, or lists / dicts of them)."""
    if isinstance(spec, str):
        yield spec
    elif isinstance(spec, dict):
        for v in spec.values():
            yield from _strings(v)
    elif isinstance(spec, (list, tuple)):
        for v in spec:
            yield from _strings(v)


def closest(name, candidates):
    """" Did you mean 'x'?" for the closest of `candidates`, else ""."""
    found = difflib.get_close_matches(str(name).lower(), sorted(set(candidates)), n=1,
                                      cutoff=0.6)
    return f" Did you mean '{found[0]}'?" if found else ""


def _lower_names(known):
    return [n for n in known if n[:1].islower()]


def check_loss_names(loss):
    from tenfold.keras import losses
    for name in _strings(loss):
        if name.lower() in _LOSS_BY_TARGETS:
            continue
        try:
            losses.get(name)
        except ValueError:
            hint = closest(name, _lower_names(losses.ALL_OBJECTS_DICT))
            raise ValueError(f"compile(): unknown loss {name!r}.{hint} Loss names are the "
                             "functions of keras.losses ('mse', 'mae', 'binary_crossentropy', "
                             "'categorical_crossentropy', 'sparse_categorical_crossentropy', "
                             "'huber', ...), or pass a keras.losses object.") from None


def check_metric_names(*specs):
    from tenfold.keras import metrics
    for spec in specs:
        for name in _strings(spec):
            if name.lower() in _METRIC_BY_TARGETS:
                continue
            try:
                metrics.get(name)
            except ValueError:
                hint = closest(name, _lower_names(metrics.ALL_OBJECTS_DICT) +
                               list(_METRIC_BY_TARGETS))
                raise ValueError(f"compile(): unknown metric {name!r}.{hint} Metric names are "
                                 "'accuracy' and the functions of keras.metrics ('mae', 'mse', "
                                 "'binary_accuracy', 'top_k_categorical_accuracy', ...), or "
                                 "pass a keras.metrics object.") from None
