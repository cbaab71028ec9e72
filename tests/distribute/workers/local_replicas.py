"""Run under `mpirun -n N`: N processes x 2 local replicas (MultiWorkerMirroredStrategy with
local_devices): ReplicaContext.all_reduce over all 2N replicas, and Keras fit (a synchronized
BatchNormalization among its layers, compiled with tf.function) against one process with one
replica and the same global batch. Rank 0 writes the results to the JSON file argv[1]."""
import json
import sys

import numpy as np

import tenfold as tf
from tenfold import keras

strategy = tf.distribute.MultiWorkerMirroredStrategy(local_devices=["/cpu:0", "/cpu:1"])
rank = strategy.cluster_resolver.task_id
R = strategy.num_replicas_in_sync
res = {"replicas": R}


def reduce_ids():
    ctx = tf.distribute.get_replica_context()
    rid = tf.cast(ctx.replica_id_in_sync_group, "float32")
    return ctx.all_reduce("SUM", rid + 1.0), ctx.all_reduce("MEAN", rid)


s, m = strategy.run(reduce_ids)
res["all_reduce"] = [[float(v) for v in strategy.experimental_local_results(t)] for t in (s, m)]

rng = np.random.RandomState(0)
G = 4 * R
x = rng.randn(6 * G, 5).astype("float32")
x[::2] *= 3.0
y = (x @ rng.randn(5, 1)).astype("float32")


def make_model(synchronized=True):
    keras.utils.set_random_seed(1)
    mdl = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8),
                            keras.layers.BatchNormalization(synchronized=synchronized),
                            keras.layers.Activation("tanh"), keras.layers.Dense(1)])
    # SGD: the Dense bias before the BatchNormalization gets gradients at rounding level,
    # which Adam would blow up to steps of its learning rate
    mdl.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.5), loss="mse",
                metrics=["mae"])
    return mdl


with strategy.scope():
    model = make_model()
h = model.fit(x, y, batch_size=G, epochs=2, shuffle=False, verbose=0)
ref = make_model()
h_ref = ref.fit(x, y, batch_size=G, epochs=2, shuffle=False, verbose=0)
res["fit"] = {"weights": [w.tolist() for w in model.get_weights()],
              "ref": [w.tolist() for w in ref.get_weights()],
              "history": h.history, "ref_history": h_ref.history}
all_weights = strategy._comm.allgather_object(res["fit"]["weights"])
res["ranks_agree"] = all(a == all_weights[0] for a in all_weights)


# Per-replica BatchNormalization statistics (synchronized=False): the same replicas spread
# over processes or kept in one process train alike: 2 processes x 2 replicas against one
# process with 4, and 2 processes x 1 replica against one process with 2.
def fit_weights(strat):
    with strat.scope():
        mdl = make_model(synchronized=False)
    mdl.fit(x, y, batch_size=G, epochs=2, shuffle=False, verbose=0)
    return [w.tolist() for w in mdl.get_weights()]


one_per_worker = tf.distribute.MultiWorkerMirroredStrategy()
res["per_replica_bn"] = {
    "2x2": fit_weights(strategy),
    "1x4": fit_weights(tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(R)])),
    "2x1": fit_weights(one_per_worker),
    "1x2": fit_weights(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
    "sync_ref": res["fit"]["ref"]}
# Keras 3's DataParallel over 2 devices per worker: the same 2 x 2 replicas
keras.distribution.set_distribution(keras.distribution.DataParallel(
    devices=[f"cpu:{i}" for i in range(R)]))
dp = make_model()
dp.fit(x, y, batch_size=G, epochs=2, shuffle=False, verbose=0)
keras.distribution.set_distribution(None)
res["data_parallel"] = {"replicas": dp.__dict__["_distribute_strategy"].num_replicas_in_sync,
                        "weights": [w.tolist() for w in dp.get_weights()]}
if rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(res, f)
