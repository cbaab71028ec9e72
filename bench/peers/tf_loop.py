"""The seed's TensorFlow-style program (08_mnist_tensorflow.py): a tf.data pipeline and an
eager GradientTape loop per batch, timed per epoch. Only the import differs.

    python bench/peers/tf_loop.py {tenfold,tf} [--epochs N]

Prints one JSON line: the median epoch time (the first epoch not counted) and samples/s.
"""
import json
import os
import sys
import time

FW = sys.argv[1] if len(sys.argv) > 1 else "tenfold"
EPOCHS = int(sys.argv[sys.argv.index("--epochs") + 1]) if "--epochs" in sys.argv else 3
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

if FW == "tenfold":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    import tenfold as tf  # noqa: E402
else:
    import tensorflow as tf  # noqa: E402

MNIST = os.environ.get("BENCH_MNIST") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "datasets",
    "mnist.npz")

with np.load(MNIST) as d:
    train_images, train_labels = d["x_train"], d["y_train"]
if FW == "tf":  # TensorFlow refuses uint8 / float (tenfold's one friendlier rule): cast first
    train_images = train_images.astype("float32")

train_dataset = tf.data.Dataset.from_tensor_slices(
    (tf.reshape(train_images, (-1, 28 * 28)) / 255., tf.one_hot(train_labels, depth=10))
).shuffle(1000).batch(128)

tf.keras.utils.set_random_seed(0)
model = tf.keras.Sequential([
    tf.keras.layers.Dense(512, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax'),
])
model.compile(optimizer=tf.keras.optimizers.RMSprop(),
              loss=tf.keras.losses.CategoricalCrossentropy(),
              metrics=['accuracy'])

times = []
for epoch in range(EPOCHS):
    t = time.perf_counter()
    for x_batch, y_batch in train_dataset:
        with tf.GradientTape() as tape:
            preds = model(x_batch)
            loss = model.loss(y_batch, preds)
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    times.append(time.perf_counter() - t)

t = float(np.median(times[1:])) if len(times) > 1 else times[0]
print(json.dumps({"framework": FW, "epoch_s": t, "samples_per_s": 60000 / t,
                  "epoch_times": times, "last_loss": float(loss)}))
