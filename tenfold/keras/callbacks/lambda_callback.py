"""`keras.callbacks.LambdaCallback`: a callback from plain functions."""
from tenfold.keras.callbacks.callback import Callback


class LambdaCallback(Callback):
    """`LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch))`; any other `on_*` hook
    may be given as a keyword too (`on_batch_end=...`, `on_test_end=...`)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        for name, fn in dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                             on_train_begin=on_train_begin, on_train_end=on_train_end,
                             on_train_batch_begin=on_train_batch_begin,
                             on_train_batch_end=on_train_batch_end).items():
            if fn is not None:
                setattr(self, name, fn)
