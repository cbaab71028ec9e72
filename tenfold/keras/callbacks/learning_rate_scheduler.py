"""`keras.callbacks.LearningRateScheduler`: set the learning rate from `schedule(epoch, lr)`."""
import numpy as np

from tenfold.keras.callbacks.callback import Callback
from tenfold.keras.callbacks.reduce_lr_on_plateau import get_lr, set_lr
from tenfold.keras.utils.progbar import print_msg
from tenfold.framework.host import to_host


class LearningRateScheduler(Callback):
    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        if not hasattr(opt, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            lr = self.schedule(epoch, get_lr(opt))
        except TypeError:  # schedule(epoch), the old signature
            lr = self.schedule(epoch)
        if hasattr(lr, "numpy"):
            lr = to_host(lr)[()]
        if not isinstance(lr, (float, np.floating)):
            raise ValueError("The output of the `schedule` function should be a float. Got: "
                             f"{lr!r}")
        set_lr(opt, float(lr))
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                      f"{float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_lr(self.model.optimizer)
