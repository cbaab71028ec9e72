"""The seed's first network: a 784-512-10 MLP on MNIST, trained with tenfold.keras.

Only Keras's public API (change the import to `from tensorflow import keras` and it runs on
TensorFlow). `keras.datasets.mnist.load_data()` finds MNIST in the folder named by
TENFOLD_DATASETS, in Keras's cache (~/.keras/datasets/mnist.npz), in tenfold's cache, or
downloads it; offline it falls back to tenfold's generated digits and says so.
"""
import time

from tenfold import keras
from tenfold.keras import layers

(train_images, train_labels), (test_images, test_labels) = keras.datasets.mnist.load_data()
train_images = train_images.reshape((-1, 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((-1, 28 * 28)).astype("float32") / 255
train_labels = keras.utils.to_categorical(train_labels)
test_labels = keras.utils.to_categorical(test_labels)

model = keras.Sequential([
    keras.Input(shape=(28 * 28,)),
    layers.Dense(512, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
model.summary()
start = time.perf_counter()
model.fit(train_images, train_labels, epochs=5, batch_size=128)
elapsed = time.perf_counter() - start
loss, acc = model.evaluate(test_images, test_labels, verbose=0)
print(f"test accuracy: {acc:.4f}  (training took {elapsed:.1f} s, "
      f"{5 * len(train_images) / elapsed:,.0f} samples/s)")
