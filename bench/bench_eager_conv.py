"""An eager GradientTape step of keras.io's MNIST convnet (bench_conv.py's model, conv + bias
+ ReLU fused), alone in its process: 3 warm-up steps, then the median of 20.

    python bench/bench_eager_conv.py            # with tenfold's malloc settings
    TENFOLD_MALLOC=default python bench/bench_eager_conv.py   # glibc's defaults

Measures what tenfold/backend/memory.py is for: without it, glibc hands the step's freed
multi-megabyte buffers back to the kernel and every step faults them in again.
"""
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import bench_conv as B  # noqa: E402
import tenfold as tf  # noqa: E402
from tenfold.backend import memory  # noqa: E402


def main():
    rng = np.random.default_rng(0)
    params = B.make_params(rng)
    x = tf.constant(rng.random((128, 28, 28, 1), np.float32))
    y = tf.constant(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)])
    mask = tf.constant((rng.random((128, 1600)) < 0.5).astype(np.float32) * 2)

    def step():
        with tf.GradientTape() as tape:
            loss = B.model_loss(x, y, params, mask, True)
        tape.gradient(loss, params)

    for _ in range(3):
        step()
    times = []
    for _ in range(20):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    print(f"eager convnet step, batch 128, malloc settings "
          f"{'tenfold' if memory.tuned() else 'default'}: median {np.median(times):.1f} ms, "
          f"best {min(times):.1f} ms")


if __name__ == "__main__":
    main()
