"""`keras.callbacks.ProgbarLogger`: the progress bar `fit` prints (added automatically)."""
from tenfold.keras.callbacks.callback import Callback
from tenfold.keras.utils.progbar import Progbar, pythonify_logs


class ProgbarLogger(Callback):
    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._maybe_init()

    def on_predict_begin(self, logs=None):
        self._reset()
        self._maybe_init()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._maybe_init()
        if self.verbose and self.epochs > 1:
            from tenfold.keras.utils.progbar import print_msg
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(logs)

    def _reset(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=set())

    def _update(self, batch, logs):
        self._maybe_init()
        self.seen = batch + 1
        if self.verbose == 1:
            # Logs are converted to Python numbers only when a line is actually printed.
            self.progbar.update_lazy(self.seen, logs)

    def _finalize(self, logs):
        self._maybe_init()
        logs = pythonify_logs(logs or {})
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list(logs.items()), finalize=True)
