"""`keras.callbacks.TerminateOnNaN`: stop training when the loss becomes NaN or infinite."""
import math

from tenfold.keras.callbacks.callback import Callback
from tenfold.keras.utils.progbar import print_msg


class TerminateOnNaN(Callback):
    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
