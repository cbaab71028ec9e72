"""TFLite conversion of the seed's models: file size, MNIST accuracy and LiteRT latency.

    python bench/bench_tflite.py [--epochs 5] [--models mlp,convnet] [--out bench/results]

For the seed MLP (784-512-10) and the MNIST convnet (Conv32-Pool-Conv64-Pool-Dropout-Dense):
trains each with tenfold (or reuses OUT/<model>.keras with --reuse), converts it with
tenfold's tf.lite.TFLiteConverter to float32, float16, dynamic-range int8 and full-integer
int8 (calibrated on 500 training images), and reports for each file its size, its accuracy on
the 10,000 MNIST test images (run in LiteRT, ai-edge-litert) and LiteRT's latency for one
image (median of 200 invokes, 1 thread). Results go to OUT/tflite_tenfold.json; the figures of
TensorFlow's own converter on the same .keras files (bench/reference/make_tflite_tf.py, run
in a TensorFlow environment) are printed beside them when bench/reference/tflite_tf.json
exists. Latencies are only comparable within one run on an idle machine.
"""
import argparse
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_shared = ROOT.parent / "shared" / "datasets"
if "TENFOLD_DATASETS" not in os.environ and _shared.is_dir():
    os.environ["TENFOLD_DATASETS"] = str(_shared)

import tenfold as tf  # noqa: E402
from tenfold import keras  # noqa: E402

from bench.tflite_common import FORMS, accuracy, convert, interpreter, latency_ms, mnist  # noqa: E402,E501


def build(kind):
    L = keras.layers
    if kind == "mlp":
        return keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"),
                                 L.Dense(10, activation="softmax")])
    return keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5),
        L.Dense(10, activation="softmax")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--models", default="mlp,convnet")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--reuse", action="store_true", help="load OUT/<model>.keras if present")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results = {"machine": f"{platform.machine()} {os.cpu_count()} cores, "
                          f"load {os.getloadavg()[0]:.1f}",
               "tenfold": tf.__version__, "epochs": a.epochs, "models": {}}
    for kind in a.models.split(","):
        (xtr, ytr), (xte, yte) = mnist(kind, os.environ["TENFOLD_DATASETS"])
        path = os.path.join(a.out, f"{kind}.keras")
        if a.reuse and os.path.exists(path):
            model = keras.models.load_model(path)
        else:
            model = build(kind)
            model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            t0 = time.perf_counter()
            model.fit(xtr, ytr, epochs=a.epochs, batch_size=128, verbose=2)
            print(f"{kind}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
            model.save(path)
        keras_acc = float(np.mean(np.argmax(model.predict(xte, verbose=0), 1) == yte))
        calib = xtr[:500]
        row = {"keras_accuracy": keras_acc}
        for form in FORMS:
            t0 = time.perf_counter()
            buf = convert(tf, model, form, calib)
            conv_s = time.perf_counter() - t0
            with open(os.path.join(a.out, f"{kind}_{form}.tflite"), "wb") as f:
                f.write(buf)
            row[form] = {"bytes": len(buf), "accuracy": accuracy(interpreter(buf), xte, yte),
                         "latency_ms_batch1": latency_ms(interpreter(buf), xte),
                         "convert_s": conv_s}
            print(f"{kind:8s} {form:8s} {len(buf) / 1024:9.1f} KiB  acc "
                  f"{row[form]['accuracy']:.4f}  {row[form]['latency_ms_batch1']:.3f} ms",
                  flush=True)
        row["int8_minus_float_points"] = 100 * (row["int8"]["accuracy"] -
                                                row["float32"]["accuracy"])
        results["models"][kind] = row
    with open(os.path.join(a.out, "tflite_tenfold.json"), "w") as f:
        json.dump(results, f, indent=1)
    ref_path = ROOT / "bench" / "reference" / "tflite_tf.json"
    ref = json.loads(ref_path.read_text()) if ref_path.exists() else None
    print(f"\n{'model':8s} {'form':8s} {'tenfold KiB':>12s} {'TF KiB':>8s} "
          f"{'tenfold acc':>12s} {'TF acc':>8s} {'tenfold ms':>11s} {'TF ms':>8s}")
    for kind, row in results["models"].items():
        for form in FORMS:
            r = row[form]
            t = (ref or {}).get("models", {}).get(kind, {}).get(form)
            tf_kib = f"{t['bytes'] / 1024:8.1f}" if t else f"{'-':>8s}"
            tf_acc = f"{t['accuracy']:8.4f}" if t else f"{'-':>8s}"
            tf_ms = f"{t['latency_ms_batch1']:8.3f}" if t else f"{'-':>8s}"
            print(f"{kind:8s} {form:8s} {r['bytes'] / 1024:12.1f} {tf_kib} "
                  f"{r['accuracy']:12.4f} {tf_acc} {r['latency_ms_batch1']:11.3f} {tf_ms}")
    print(f"\nmachine: {results['machine']} (timings need an idle machine)")


if __name__ == "__main__":
    main()
