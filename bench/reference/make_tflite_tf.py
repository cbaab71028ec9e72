"""Reference figures from TensorFlow's own TFLiteConverter, for bench/bench_tflite.py.

    /work/tfenv/bin/python bench/reference/make_tflite_tf.py [--models-dir bench/results]

Loads the .keras files that bench_tflite.py trained and saved with tenfold
(MODELS_DIR/mlp.keras, MODELS_DIR/convnet.keras; Keras reads tenfold's .keras files), so both
converters start from the same weights; converts each with TensorFlow's TFLiteConverter to
float32, float16, dynamic-range and full-integer int8 (calibrated on the same 500 training
images), and records size, MNIST test accuracy and latency at batch 1 (TensorFlow's
tf.lite.Interpreter, 1 thread, median of 200) into bench/reference/tflite_tf.json.
Run it in a TensorFlow environment only; tests never import TensorFlow.
"""
import argparse
import json
import os
import pathlib
import platform
import time

import numpy as np
import tensorflow as tf

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FORMS = ["float32", "float16", "dynamic", "int8"]


def data(kind, datasets):
    with np.load(os.path.join(datasets, "mnist.npz")) as f:
        xtr, ytr, xte, yte = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    shape = (-1, 784) if kind == "mlp" else (-1, 28, 28, 1)
    return (xtr.reshape(shape).astype("float32") / 255, ytr), \
        (xte.reshape(shape).astype("float32") / 255, yte)


def convert(model, form, calib):
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if form != "float32":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if form == "float16":
        c.target_spec.supported_types = [tf.float16]
    if form == "int8":
        c.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return c.convert()


def interpreter(buf):
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter(model_content=buf, num_threads=1), "LiteRT"
    except ImportError:
        return tf.lite.Interpreter(model_content=buf, num_threads=1), "tf.lite.Interpreter"


def accuracy(buf, x, y, batch=1000):
    it, _ = interpreter(buf)
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(d["index"], (batch,) + x.shape[1:])
    it.allocate_tensors()
    hits = 0
    for i in range(0, len(x), batch):
        it.set_tensor(d["index"], x[i:i + batch])
        it.invoke()
        hits += int(np.sum(np.argmax(it.get_tensor(o["index"]), 1) == y[i:i + batch]))
    return hits / len(x)


def latency_ms(buf, x, runs=200):
    it, _ = interpreter(buf)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models-dir", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--datasets", default=os.environ.get(
        "TENFOLD_DATASETS", str(ROOT.parent / "shared" / "datasets")))
    ap.add_argument("--out", default=str(HERE / "tflite_tf.json"))
    a = ap.parse_args()
    out = {"tensorflow": tf.__version__, "runtime": None,
           "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                      f"load {os.getloadavg()[0]:.1f}",
           "source": "tenfold-trained .keras files loaded in tf.keras", "models": {}}
    for kind in ("mlp", "convnet"):
        path = os.path.join(a.models_dir, f"{kind}.keras")
        if not os.path.exists(path):
            print(f"skipping {kind}: {path} not found (run bench/bench_tflite.py first)")
            continue
        model = tf.keras.models.load_model(path)
        (xtr, _), (xte, yte) = data(kind, a.datasets)
        calib = xtr[:500]
        row = {"keras_accuracy": float(np.mean(np.argmax(model.predict(xte, verbose=0), 1)
                                               == yte))}
        for form in FORMS:
            buf = convert(model, form, calib)
            row[form] = {"bytes": len(buf), "accuracy": accuracy(buf, xte, yte),
                         "latency_ms_batch1": latency_ms(buf, xte)}
            print(kind, form, row[form], flush=True)
        row["int8_minus_float_points"] = 100 * (row["int8"]["accuracy"] -
                                                row["float32"]["accuracy"])
        out["models"][kind] = row
    try:
        import ai_edge_litert  # noqa: F401
        out["runtime"] = "LiteRT (ai_edge_litert)"
    except ImportError:
        out["runtime"] = "tf.lite.Interpreter"
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
