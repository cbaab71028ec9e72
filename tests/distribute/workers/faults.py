"""Run under `mpirun -n 2` with a mode (argv[1]):
- "models": rank 1 builds a wider hidden layer -> a clear error naming the variable.
- "kill": rank 1 kills itself (SIGKILL) at its 3rd batch -> the job stops, naming rank 1.
- "hang": rank 1 stops taking part (sleeps) at its 3rd batch -> rank 0 times out naming it.
"""
import os
import signal
import sys
import time

import numpy as np

import tenfold as tf
from tenfold import keras

mode = sys.argv[1]
# a short collective timeout only where the test waits for it (a loaded machine can delay a
# healthy worker by seconds; the others keep the default)
options = tf.distribute.experimental.CommunicationOptions(
    timeout_seconds=8 if mode == "hang" else None)
strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
rank = strategy.cluster_resolver.task_id
comm = strategy.extended.communicator
comm._submit(comm._comm.Barrier, "start").wait(timeout=120)  # both workers are up
x = np.random.RandomState(0).randn(96, 5).astype("float32")
y = x[:, :1] * 2.0
units = 9 if (mode == "models" and rank == 1) else 8
with strategy.scope():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(units), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")


class Fault(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if rank == 1 and batch == 2:
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(60)


model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[Fault()])
print(f"rank {rank} finished", flush=True)
