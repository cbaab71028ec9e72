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
import sys

import numpy as np
import tensorflow as tf

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
from bench.tflite_common import FORMS, accuracy, convert, interpreter, latency_ms, mnist  # noqa: E402,E501


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
        (xtr, _), (xte, yte) = mnist(kind, a.datasets)
        calib = xtr[:500]
        row = {"keras_accuracy": float(np.mean(np.argmax(model.predict(xte, verbose=0), 1)
                                               == yte))}
        for form in FORMS:
            buf = convert(tf, model, form, calib)
            lite = tf.lite.Interpreter
            row[form] = {"bytes": len(buf), "accuracy": accuracy(interpreter(buf, lite), xte, yte),
                         "latency_ms_batch1": latency_ms(interpreter(buf, lite), xte)}
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
