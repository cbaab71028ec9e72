"""`keras.callbacks.CallbackList`: calls every callback's hook, in order.

Per-batch hooks go only to the callbacks that override them, and logs are converted to Python
numbers once per hook (and only when some callback needs them), so callbacks cost nothing per
batch unless they do something per batch.
"""
from tenfold.keras.callbacks.callback import Callback
from tenfold.keras.callbacks.history import History
from tenfold.keras.callbacks.progbar_logger import ProgbarLogger
from tenfold.keras.utils.progbar import pythonify_logs
from tenfold.util import nest

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
                "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
                "on_predict_batch_end")


def _overrides(cb, hook):
    d = getattr(cb, "__dict__", {})
    if hook in d or (hook.startswith("on_train_batch_") and
                     hook.replace("on_train_batch_", "on_batch_") in d):
        return True
    impl = getattr(type(cb), hook, None)
    base = getattr(Callback, hook)
    if impl is base:
        if hook.startswith("on_train_batch_"):
            alias = hook.replace("on_train_batch_", "on_batch_")
            return getattr(type(cb), alias, None) is not getattr(Callback, alias)
        return False
    return impl is not None


class CallbackList(Callback):
    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = nest.flatten(callbacks) if callbacks else []
        for cb in self.callbacks:
            if isinstance(cb, type) or not hasattr(cb, "set_model") or \
                    not hasattr(cb, "on_epoch_end"):
                raise TypeError(f"Each callback must be a keras.callbacks.Callback instance; "
                                f"got {cb!r} of type {type(cb).__name__}. Did you pass the "
                                "class instead of an instance (EarlyStopping instead of "
                                "EarlyStopping())?")
        self._history = None
        self._progbar = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self._hooked = {}
        self.set_model(model)
        self.set_params(params)

    def _who(self, hook):
        got = self._hooked.get(hook)
        if got is None:
            got = [cb for cb in self.callbacks if _overrides(cb, hook)]
            self._hooked[hook] = got
        return got

    def append(self, callback):
        self.callbacks.append(callback)
        self._hooked.clear()

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if not model:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    # -- per-batch hooks: only those who listen, logs as given (ProgbarLogger converts lazily)
    def _batch(self, hook, batch, logs):
        who = self._who(hook)
        if not who:
            return
        plain = None
        for cb in who:
            if isinstance(cb, ProgbarLogger):
                getattr(cb, hook)(batch, logs)
            else:
                if plain is None:
                    plain = pythonify_logs(logs)
                getattr(cb, hook)(batch, logs=plain)

    def on_batch_begin(self, batch, logs=None):
        self._batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._batch("on_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        who = self._who("on_predict_batch_end")
        for cb in who:
            cb.on_predict_batch_end(batch, logs=logs)

    # -- the rest
    def _all(self, hook, *args, logs=None):
        logs = pythonify_logs(logs) if logs else (logs if logs is not None else {})
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._all("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        # Callbacks share (and may add to) one dict, as in Keras (e.g. `learning_rate`).
        logs = pythonify_logs(logs) if logs else {}
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        self._all("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._all("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        self._all("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._all("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._all("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._all("on_predict_end", logs=logs)

    def __iter__(self):
        return iter(self.callbacks)
