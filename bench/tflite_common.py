"""What bench/bench_tflite.py (tenfold) and bench/reference/make_tflite_tf.py (TensorFlow)
both do: the MNIST data, one converter call per form, and the interpreter-side accuracy and
latency. Neither framework is imported here: the converter's module is passed in."""
import os
import time

import numpy as np

FORMS = ["float32", "float16", "dynamic", "int8"]


def mnist(kind, datasets):
    """((x_train, y_train), (x_test, y_test)) scaled to [0, 1], flat for the MLP."""
    with np.load(os.path.join(datasets, "mnist.npz")) as f:
        xtr, ytr, xte, yte = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    shape = (-1, 784) if kind == "mlp" else (-1, 28, 28, 1)
    return (xtr.reshape(shape).astype("float32") / 255, ytr), \
        (xte.reshape(shape).astype("float32") / 255, yte)


def convert(tf, model, form, calib):
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if form != "float32":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if form == "float16":
        c.target_spec.supported_types = [tf.float16]
    if form == "int8":
        c.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return c.convert()


def interpreter(buf, fallback=None):
    """LiteRT's interpreter (1 thread), else `fallback(model_content=..., num_threads=1)`."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        if fallback is None:
            raise
        Interpreter = fallback
    return Interpreter(model_content=buf, num_threads=1)


def accuracy(it, x, y, batch=1000):
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(d["index"], (batch,) + x.shape[1:])
    it.allocate_tensors()
    hits = 0
    for i in range(0, len(x), batch):
        it.set_tensor(d["index"], x[i:i + batch])
        it.invoke()
        hits += int(np.sum(np.argmax(it.get_tensor(o["index"]), 1) == y[i:i + batch]))
    return hits / len(x)


def latency_ms(it, x, runs=200):
    """Median latency of one image (the file's own batch-1 shape), after 20 warm-up runs."""
    d = it.get_input_details()[0]
    it.allocate_tensors()
    for _ in range(20):
        it.set_tensor(d["index"], x[:1])
        it.invoke()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        it.set_tensor(d["index"], x[:1])
        it.invoke()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))
