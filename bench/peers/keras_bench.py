"""One Keras program, three frameworks: only the import changes.

    python bench/peers/keras_bench.py FRAMEWORK TASK [--epochs N] [--samples N]

FRAMEWORK: tenfold (`import tenfold as tf; keras = tf.keras`), tf (tf.keras on TensorFlow),
jax (Keras 3 with KERAS_BACKEND=jax). TASK:
  mlp        fit of the seed's MNIST MLP (784-512-10 relu/softmax, RMSprop, batch 128);
  convnet    fit of keras.io's simple MNIST convnet (Adam, batch 128);
  inference  predict() on one sample, model(x) on one sample, predict() on 1000 samples;
  seed       the seed's Keras program (07_mnist_keras.py) with 1 epoch, for peak memory.
Prints one JSON line. Epoch times come from a callback (the first epoch, which compiles, is
not counted); samples/s = samples / median epoch time.
"""
import argparse
import json
import os
import sys
import time

FW = sys.argv[1] if len(sys.argv) > 1 else "tenfold"
if FW == "jax":
    os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

if FW == "tenfold":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    import tenfold as tf  # noqa: E402
    keras = tf.keras
elif FW == "tf":
    import tensorflow as tf  # noqa: E402
    keras = tf.keras
elif FW == "jax":
    import keras  # noqa: E402
else:
    raise SystemExit(f"unknown framework {FW!r}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_models  # noqa: E402  (the model definitions, shared with bench_models.py)

MNIST = os.environ.get("BENCH_MNIST") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "datasets",
    "mnist.npz")


def load_mnist():
    with np.load(MNIST) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def version():
    if FW == "tenfold":
        return tf.__version__
    if FW == "tf":
        return tf.__version__
    import jax
    return f"keras {keras.__version__}, jax {jax.__version__}"


def mlp(epochs, samples):
    (x, y), _ = load_mnist()
    x = x.reshape((60000, 28 * 28)).astype("float32") / 255
    y = keras.utils.to_categorical(y)
    x, y = x[:samples], y[:samples]
    keras.utils.set_random_seed(0)
    model = keras_models.mlp(keras)
    timer = EpochTimer()
    hist = model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=[timer])
    t = float(np.median(timer.times[1:]))
    return {"samples_per_s": len(x) / t, "epoch_s": t, "epoch_times": timer.times,
            "final_loss": float(hist.history["loss"][-1]),
            "final_accuracy": float(hist.history["accuracy"][-1])}


def convnet(epochs, samples):
    (x, y), _ = load_mnist()
    x = np.expand_dims(x.astype("float32") / 255, -1)[:samples]
    y = keras.utils.to_categorical(y, 10)[:samples]
    keras.utils.set_random_seed(0)
    model = keras_models.convnet(keras)
    timer = EpochTimer()
    hist = model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=[timer])
    t = float(np.median(timer.times[1:]))
    return {"samples_per_s": len(x) / t, "epoch_s": t, "epoch_times": timer.times,
            "final_loss": float(hist.history["loss"][-1])}


def _median_ms(fn, repeats):
    fn()
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def inference(repeats):
    (x, _), _ = load_mnist()
    x = x.reshape((60000, 784)).astype("float32") / 255
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    one = x[:1]
    batch = x[:1000]
    one_t = keras.ops.convert_to_tensor(one) if hasattr(keras, "ops") else one
    return {
        "predict_one_ms": _median_ms(lambda: model.predict(one, verbose=0), repeats),
        "call_one_ms": _median_ms(lambda: model(one_t), repeats * 5),
        "predict_1000_ms": _median_ms(lambda: model.predict(batch, batch_size=1000, verbose=0),
                                      repeats),
    }


def seed_program():
    """07_mnist_keras.py, 1 epoch (peak memory is what is measured)."""
    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    train_images = train_images.reshape((60000, 28 * 28)).astype("float32") / 255
    train_labels = keras.utils.to_categorical(train_labels)
    model = keras.Sequential([
        keras.layers.Dense(512, activation="relu", input_shape=(28 * 28,)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_images, train_labels, epochs=1, batch_size=128, verbose=0)
    test_images = test_images.reshape((10000, 28 * 28)).astype("float32") / 255
    loss, acc = model.evaluate(test_images, keras.utils.to_categorical(test_labels), verbose=0)
    return {"test_accuracy": float(acc)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("framework")
    ap.add_argument("task", choices=["mlp", "convnet", "inference", "seed"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--repeats", type=int, default=50)
    a = ap.parse_args()
    if a.task == "mlp":
        out = mlp(a.epochs, a.samples)
    elif a.task == "convnet":
        out = convnet(a.epochs, a.samples)
    elif a.task == "inference":
        out = inference(a.repeats)
    else:
        out = seed_program()
    out["framework"] = FW
    out["version"] = version()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
