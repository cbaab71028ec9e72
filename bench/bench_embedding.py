"""Step time of training a 20,000 x 128 Embedding: sparse gradients (tf.IndexedSlices, the
default) against the same gradients made dense before the optimizer sees them.

    python bench/bench_embedding.py [--steps N] [--batch B] [--length L]

Each step: a batch of B sequences of L ids -> Embedding(20000, 128) -> mean over the sequence
-> Dense(1), mse loss, `tape.gradient`, `optimizer.apply_gradients`. The "dense" column
converts the embedding's gradient with `tf.convert_to_tensor` first (what a framework without
sparse gradients does). SGD and Adagrad touch only the looked-up rows in TensorFlow's
arithmetic; RMSprop updates its moving average densely but steps only the rows; Adam and SGD
with momentum move every row (TensorFlow too), so both columns do a dense pass there.
Prints milliseconds per step (median of the timed steps, after warm-up steps).
"""
import argparse
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VOCAB, DIM = 20_000, 128


def run(make_opt, dense, steps, batch, length, seed=0):
    import numpy as np
    import tenfold as tf
    from tenfold import keras
    rng = np.random.default_rng(seed)
    emb = keras.layers.Embedding(VOCAB, DIM)
    head = keras.layers.Dense(1)
    x = rng.integers(0, VOCAB, size=(steps + 5, batch, length)).astype("int32")
    y = rng.standard_normal((steps + 5, batch, 1)).astype("float32")
    opt = make_opt()
    times = []
    for k in range(steps + 5):
        t0 = time.perf_counter()
        with tf.GradientTape() as tape:
            h = tf.reduce_mean(emb(x[k]), axis=1)
            loss = tf.reduce_mean(tf.square(head(h) - y[k]))
        weights = emb.trainable_weights + head.trainable_weights
        grads = tape.gradient(loss, weights)
        if dense:
            grads = [tf.convert_to_tensor(g) for g in grads]
        opt.apply_gradients(zip(grads, weights))
        if k >= 5:
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=10)
    args = parser.parse_args()
    from tenfold import keras
    optimizers = {
        "SGD": lambda: keras.optimizers.SGD(0.1),
        "Adagrad": lambda: keras.optimizers.Adagrad(0.1),
        "RMSprop": lambda: keras.optimizers.RMSprop(0.01),
        "SGD(momentum=0.9)": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
        "Adam": lambda: keras.optimizers.Adam(0.01),
    }
    print(f"Embedding({VOCAB}, {DIM}), batch {args.batch} x {args.length} ids, "
          f"{args.steps} timed steps (median ms/step)")
    print(f"{'optimizer':20s} {'sparse':>9s} {'dense':>9s} {'speed-up':>9s}")
    for name, make in optimizers.items():
        sparse_ms = run(make, False, args.steps, args.batch, args.length)
        dense_ms = run(make, True, args.steps, args.batch, args.length)
        print(f"{name:20s} {sparse_ms:9.2f} {dense_ms:9.2f} {dense_ms / sparse_ms:8.1f}x")


if __name__ == "__main__":
    main()
