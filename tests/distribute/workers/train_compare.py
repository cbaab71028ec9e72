"""Run under `mpirun -n N`: trains with MultiWorkerMirroredStrategy (per-worker batch B) and,
in the same process without any strategy, the reference (one process, batch N*B, same data
order). Rank 0 writes both to the JSON file argv[1]. Callbacks write under argv[2]/rank<r>/ so
the test sees who wrote; BackupAndRestore uses argv[2]/backup."""
import json
import os
import sys

import numpy as np

import tenfold as tf
from tenfold import keras

out_path, write_dir = sys.argv[1], sys.argv[2]
# small gradient buckets, so each step has several and they start during the backward pass
os.environ["TENFOLD_ALLREDUCE_BUCKET_BYTES"] = "64"
strategy = tf.distribute.MultiWorkerMirroredStrategy()
rank, n = strategy.cluster_resolver.task_id, strategy.num_replicas_in_sync
B = 6                     # per-worker batch
G = B * n                 # global batch
rng = np.random.RandomState(0)
x = rng.randn(10 * G, 5).astype("float32")  # whole global batches: see test_split.py
y = (x @ rng.randn(5, 1) + 0.1 * rng.randn(len(x), 1)).astype("float32")
res = {"rank": rank, "replicas": n}


def make_model():
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                          keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return m


def weights(m):
    return [w.tolist() for w in m.get_weights()]


def fit_eval_predict(model, callbacks=()):
    h = model.fit(x, y, batch_size=G, epochs=3, shuffle=True, verbose=0,
                  callbacks=list(callbacks), validation_data=(x[:20], y[:20]))
    return {"weights": weights(model), "history": h.history,
            "eval": model.evaluate(x, y, batch_size=G, verbose=0, return_dict=True),
            "pred": model.predict(x, batch_size=G, verbose=0).tolist()}


# ---- 1. Keras fit / evaluate / predict (and only worker 0 writes)
with strategy.scope():
    model = make_model()
d = os.path.join(write_dir, f"rank{rank}")
os.makedirs(d, exist_ok=True)
writers = [keras.callbacks.ModelCheckpoint(os.path.join(d, "ckpt.keras")),
           keras.callbacks.CSVLogger(os.path.join(d, "log.csv")),
           keras.callbacks.TensorBoard(os.path.join(d, "tb"))]
init = weights(model)
res["keras"] = fit_eval_predict(model, writers)
res["keras"]["init"] = init
res["keras_ref"] = fit_eval_predict(make_model())
res["keras_all_ranks"] = strategy._comm.allgather_object(res["keras"]["weights"])

# ---- 2. a custom loop: strategy.run on a distributed dataset, strategy.reduce
loss_obj = keras.losses.MeanSquaredError(reduction="none")


def custom_loop(strat):
    with strat.scope():
        keras.utils.set_random_seed(2)
        m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1)])
        opt = keras.optimizers.SGD(0.05, momentum=0.9)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(G)
    dist = strat.experimental_distribute_dataset(ds)

    def step(inputs):
        xb, yb = inputs
        with tf.GradientTape() as tape:
            per_example = loss_obj(yb, m(xb, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=G)
        grads = tape.gradient(loss, m.trainable_variables)
        opt.apply_gradients(zip(grads, m.trainable_variables))
        return loss

    @tf.function
    def train_step(inputs):
        per_replica = strat.run(step, args=(inputs,))
        return strat.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    losses = []
    for _ in range(2):
        for batch in dist:
            losses.append(float(train_step(batch)))
    return {"weights": weights(m), "losses": losses}


res["loop"] = custom_loop(strategy)
res["loop_ref"] = custom_loop(tf.distribute.get_strategy())

# ---- 3. save / resume: preempted at epoch 2, resumed by BackupAndRestore
backup = os.path.join(write_dir, "backup")


class Preempt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("preempted")


with strategy.scope():
    m1 = make_model()
try:
    m1.fit(x, y, batch_size=G, epochs=4, shuffle=False, verbose=0,
           callbacks=[keras.callbacks.BackupAndRestore(backup), Preempt()])
except RuntimeError:
    pass
res["backup_written"] = os.path.isdir(backup)
with strategy.scope():
    m2 = make_model()
h = m2.fit(x, y, batch_size=G, epochs=4, shuffle=False, verbose=0,
           callbacks=[keras.callbacks.BackupAndRestore(backup)])
res["resume"] = {"weights": weights(m2), "epochs_run": len(h.history["loss"])}
res["resume_all_ranks"] = strategy._comm.allgather_object(res["resume"]["weights"])
ref = make_model()
ref.fit(x, y, batch_size=G, epochs=4, shuffle=False, verbose=0)
res["resume_ref"] = {"weights": weights(ref)}

# ---- 4. Keras 3's keras.distribution.DataParallel over the workers' devices
devices = keras.distribution.list_devices()
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
dp = make_model()
dp.fit(x, y, batch_size=G, epochs=1, shuffle=False, verbose=0)
keras.distribution.set_distribution(None)
ref = make_model()
ref.fit(x, y, batch_size=G, epochs=1, shuffle=False, verbose=0)
res["data_parallel"] = {"devices": devices, "weights": weights(dp), "ref": weights(ref)}

# ---- 5. fit on distribute_datasets_from_function: each worker reads its own shard
def dataset_fn(ctx):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
    return ds.batch(ctx.get_per_replica_batch_size(G))


with strategy.scope():
    sharded = make_model()
sharded.fit(strategy.distribute_datasets_from_function(dataset_fn), epochs=1, verbose=0)
ref = make_model()
ref.fit(x, y, batch_size=G, epochs=1, shuffle=False, verbose=0)
res["from_function"] = {"weights": weights(sharded), "ref": weights(ref),
                        "tiny_predict": sharded.predict(x[:3], batch_size=3, verbose=0).tolist(),
                        "tiny_ref": ref.predict(x[:3], batch_size=3, verbose=0).tolist()}

# ---- 6. train_on_batch / test_on_batch: the batch passed is global
with strategy.scope():
    tob = make_model()
ref = make_model()
logs, ref_logs = [], []
for i in range(3):
    rows = slice(i * G, (i + 1) * G)
    logs.append(tob.train_on_batch(x[rows], y[rows], return_dict=True))
    ref_logs.append(ref.train_on_batch(x[rows], y[rows], return_dict=True))
logs.append(tob.test_on_batch(x[:G], y[:G], return_dict=True))
ref_logs.append(ref.test_on_batch(x[:G], y[:G], return_dict=True))
res["on_batch"] = {"weights": weights(tob), "ref": weights(ref), "logs": logs,
                   "ref_logs": ref_logs}

# ---- 7. ReplicaContext.all_reduce, strategy.gather, reduce along an axis (uneven rows)
def replica_fn():
    ctx = tf.distribute.get_replica_context()
    v = tf.constant([rank + 1.0, 10.0 * (rank + 1)])
    return (ctx.all_reduce(tf.distribute.ReduceOp.SUM, v),
            ctx.all_reduce("MEAN", {"a": v}),
            tf.fill([rank + 1, 2], float(rank)))


summed, mean, rows = strategy.run(replica_fn)
res["collectives"] = {
    "sum": summed.numpy().tolist(), "mean": mean["a"].numpy().tolist(),
    "gather": strategy.gather(rows, axis=0).numpy().tolist(),
    "reduce_axis_mean": strategy.reduce("MEAN", rows, axis=0).numpy().tolist(),
    "reduce_axis_sum": strategy.reduce("SUM", rows, axis=0).numpy().tolist(),
    "replica_ids": strategy._comm.allgather_object(int(strategy.run(
        lambda: tf.distribute.get_replica_context().replica_id_in_sync_group)))}

res["stats"] = strategy.stats

if rank == 0:
    with open(out_path, "w") as f:
        json.dump(res, f)
