"""`keras.callbacks.History`: records the epoch logs; `fit` returns it."""
from tenfold.keras.callbacks.callback import Callback


class History(Callback):
    """`history.history` maps each log name (`loss`, `val_accuracy`, ...) to one value per
    epoch; `history.epoch` lists the epoch indices."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self
