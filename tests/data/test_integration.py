"""End to end: the generated digits are learnable through a tf.data pipeline; the seed's
TensorFlow-style MNIST snippet runs unchanged."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tenfold as tf
from tenfold.keras.datasets import synthetic_digits

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_synthetic_digits_are_learnable_with_a_small_model():
    (x, y), (xt, yt) = synthetic_digits.load_data(num_train=8000, num_test=1000, seed=0)
    x = x.reshape(-1, 784).astype("float32") / 255.0
    xt = xt.reshape(-1, 784).astype("float32") / 255.0
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype("int64"))).shuffle(1000, seed=0) \
        .batch(64).prefetch(2)
    rng = np.random.default_rng(0)
    w1 = tf.Variable(rng.normal(0, np.sqrt(2 / 784), (784, 128)).astype("float32"))
    b1 = tf.Variable(np.zeros(128, "float32"))
    w2 = tf.Variable(rng.normal(0, np.sqrt(1 / 128), (128, 10)).astype("float32"))
    b2 = tf.Variable(np.zeros(10, "float32"))
    params = [w1, b1, w2, b2]

    def logits(inp):
        return tf.matmul(tf.nn.relu(tf.matmul(inp, w1) + b1), w2) + b2
    for epoch in range(3):
        for xb, yb in ds:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=yb, logits=logits(xb)))
            for p, g in zip(params, tape.gradient(loss, params)):
                p.assign_sub(0.2 * g)
    pred = np.argmax(logits(tf.constant(xt)).numpy(), axis=1)
    acc = float((pred == yt).mean())
    assert acc >= 0.90, acc


def test_mnist_pipeline_fast_path_gives_the_right_rows(shared_dir, monkeypatch):
    monkeypatch.setenv("TENFOLD_DATASETS", str(shared_dir / "datasets"))
    (x, y), _ = tf.keras.datasets.mnist.load_data()
    xs = tf.reshape(x, (-1, 28 * 28)) / 255.
    ys = tf.one_hot(y, depth=10)
    ds = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(1000).batch(128)
    assert ds.element_spec == (tf.TensorSpec([None, 784], tf.float32),
                               tf.TensorSpec([None, 10], tf.float32))
    assert len(ds) == 469
    flat = x.reshape(-1, 784).astype(np.float32) / np.float32(255)
    tagged = tf.data.Dataset.from_tensor_slices((xs, ys, np.arange(60000))).shuffle(1000) \
        .batch(128)
    order = []
    for xb, yb, ib in tagged:
        assert isinstance(xb, tf.Tensor) and xb.shape[1:] == (784,)
        i = ib.numpy()
        np.testing.assert_array_equal(xb.numpy(), flat[i])
        np.testing.assert_array_equal(np.argmax(yb.numpy(), 1), y[i])
        order.extend(i.tolist())
    assert sorted(order) == list(range(60000)) and order != list(range(60000))
    assert all(v < k + 1000 for k, v in enumerate(order))


@pytest.mark.skipif(not (pathlib.Path(__file__).resolve().parents[3] / "shared" /
                         "seed-snippets" / "08_mnist_tensorflow.py").exists(),
                    reason="the seed snippets are not beside the checkout")
def test_seed_snippet_08_runs_unchanged(shared_dir):
    snippet = shared_dir / "seed-snippets" / "08_mnist_tensorflow.py"
    env = dict(os.environ, TENFOLD_DATASETS=str(shared_dir / "datasets"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(snippet)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "test accuracy" in proc.stdout
