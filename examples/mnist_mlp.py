"""The seed's first network: a 784-512-10 MLP on MNIST, trained with tenfold.keras.

Uses the real MNIST when it can get it (the folder in TENFOLD_DATASETS, the cache, or a
download), else tenfold's generated handwritten-style digits, and says which.
"""
import os
import pathlib
import time

# Next to a checkout with ../shared/datasets (as in this project's workspace), use it.
_shared = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets"
if "TENFOLD_DATASETS" not in os.environ and _shared.is_dir():
    os.environ["TENFOLD_DATASETS"] = str(_shared)

from tenfold.keras.datasets import mnist  # noqa: E402
from tenfold.keras.utils import to_categorical  # noqa: E402
from tenfold.keras.models import Sequential  # noqa: E402
from tenfold.keras.layers import Dense  # noqa: E402

(train_images, train_labels), (test_images, test_labels) = mnist.load_data_or_synthetic()[0]
train_images = train_images.reshape((-1, 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((-1, 28 * 28)).astype("float32") / 255

model = Sequential([
    Dense(512, activation="relu", input_shape=(28 * 28,)),
    Dense(10, activation="softmax"),
])
model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
model.summary()
start = time.perf_counter()
model.fit(train_images, to_categorical(train_labels), epochs=5, batch_size=128)
elapsed = time.perf_counter() - start
loss, acc = model.evaluate(test_images, to_categorical(test_labels), verbose=0)
print(f"test accuracy: {acc:.4f}  (training took {elapsed:.1f} s, "
      f"{5 * len(train_images) / elapsed:,.0f} samples/s)")
