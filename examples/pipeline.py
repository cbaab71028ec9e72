"""The seed's road to production in one offline script:

    train -> save .keras -> evaluate -> quantize to int8 .tflite -> serve the float model
    -> query it over REST -> accuracy of each form side by side

    python examples/pipeline.py                       # the seed's MLP, 5 epochs, all of MNIST
    python examples/pipeline.py --model convnet
    python examples/pipeline.py --epochs 1 --limit 2000   # a quick run

Everything stays on this machine: MNIST from TENFOLD_DATASETS (or tenfold's generated
digits), the server on 127.0.0.1 only. The int8 model runs in LiteRT (`pip install
ai-edge-litert`) when it is installed, else in tenfold's own tf.lite.Interpreter.
"""
import argparse
import json
import os
import pathlib
import tempfile
import time
import urllib.request

import numpy as np

# Next to a checkout with ../shared/datasets (as in this project's workspace), use it.
_shared = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets"
if "TENFOLD_DATASETS" not in os.environ and _shared.is_dir():
    os.environ["TENFOLD_DATASETS"] = str(_shared)

import tenfold as tf  # noqa: E402
from tenfold import keras  # noqa: E402
from tenfold.keras.datasets import mnist  # noqa: E402


def build(kind):
    L = keras.layers
    if kind == "mlp":  # the seed's network
        return keras.Sequential([keras.Input((28 * 28,)), L.Dense(512, activation="relu"),
                                 L.Dense(10, activation="softmax")])
    return keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5),
        L.Dense(10, activation="softmax")])


def tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter(model_path=path), "LiteRT"
    except ImportError:
        return tf.lite.Interpreter(model_path=path), "tenfold tf.lite.Interpreter"


def tflite_predict(it, x):
    """Class scores of the int8 model (int8 input and output) for the float images x."""
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    s_in, z_in = inp["quantization"]
    q = np.clip(np.rint(x / s_in) + z_in, -128, 127).astype(np.int8)
    it.resize_tensor_input(inp["index"], q.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], q)
    it.invoke()
    return it.get_tensor(out["index"])  # int8 scores: argmax needs no dequantizing


def rest_predict(url, x, batch=500):
    preds = []
    for i in range(0, len(x), batch):
        body = json.dumps({"instances": x[i:i + batch].tolist()}).encode()
        req = urllib.request.Request(url + ":predict", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            preds.append(np.asarray(json.load(r)["predictions"], np.float32))
    return np.concatenate(preds)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "convnet"], default="mlp")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--limit", type=int, default=None,
                   help="use the first N training and test images (quick runs)")
    p.add_argument("--calibration-samples", type=int, default=500)
    p.add_argument("--workdir", default=None, help="where to write the files (default: a "
                   "temporary folder)")
    args = p.parse_args(argv)

    (xtr, ytr), (xte, yte) = mnist.load_data_or_synthetic()[0]
    if args.limit:
        xtr, ytr, xte, yte = xtr[:args.limit], ytr[:args.limit], xte[:args.limit], \
            yte[:args.limit]
    shape = (-1, 784) if args.model == "mlp" else (-1, 28, 28, 1)
    xtr = xtr.reshape(shape).astype("float32") / 255
    xte = xte.reshape(shape).astype("float32") / 255
    onehot = keras.utils.to_categorical

    workdir = args.workdir or tempfile.mkdtemp(prefix="tenfold_pipeline_")
    os.makedirs(workdir, exist_ok=True)
    keras_path = os.path.join(workdir, f"{args.model}.keras")
    tflite_path = os.path.join(workdir, f"{args.model}_int8.tflite")

    # 1. train and save
    model = build(args.model)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    print(f"[1/5] training the {args.model} on {len(xtr)} images, {args.epochs} epoch(s)")
    model.fit(xtr, onehot(ytr, 10), epochs=args.epochs, batch_size=128, verbose=2)
    model.save(keras_path)

    # 2. evaluate the saved model
    print(f"[2/5] evaluating {keras_path}")
    loaded = keras.models.load_model(keras_path)
    _, keras_acc = loaded.evaluate(xte, onehot(yte, 10), verbose=0)

    # 3. quantize to int8, calibrated on training images
    n = min(args.calibration_samples, len(xtr))
    print(f"[3/5] converting to int8 TFLite (calibrating on {n} training images)")
    conv = tf.lite.TFLiteConverter.from_keras_model(loaded)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([xtr[i:i + 1]] for i in range(n))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with open(tflite_path, "wb") as f:
        f.write(conv.convert())
    it, runtime = tflite_interpreter(tflite_path)
    tflite_acc = float(np.mean(np.argmax(tflite_predict(it, xte), axis=1) == yte))

    # 4. serve the float model on loopback and query it
    print("[4/5] serving the float model on 127.0.0.1")
    from tenfold import serving
    server = serving.serve(keras_path, model_name="digits", host="127.0.0.1", port=0,
                           block=False, stop_after=600)
    try:
        url = f"{server.url}/v1/models/digits"
        t0 = time.perf_counter()
        rest = rest_predict(url, xte)
        rest_s = time.perf_counter() - t0
    finally:
        server.stop()
    rest_acc = float(np.mean(np.argmax(rest, axis=1) == yte))

    # 5. side by side
    print(f"[5/5] accuracy on {len(xte)} test images")
    rows = [("Keras (.keras, float32)", keras_path, keras_acc, "tenfold"),
            ("TFLite int8", tflite_path, tflite_acc, runtime),
            ("REST server (float32)", keras_path, rest_acc,
             f"tenfold.serving, {rest_s:.1f} s for all requests")]
    print(f"  {'form':<26}{'file size':>12}{'accuracy':>10}  run by")
    for name, path, acc, by in rows:
        print(f"  {name:<26}{os.path.getsize(path) / 1024:>9.0f} KiB{acc:>10.4f}  {by}")
    print(f"  int8 - float: {100 * (tflite_acc - keras_acc):+.2f} points; files in {workdir}")
    return {"keras": keras_acc, "tflite_int8": tflite_acc, "rest": rest_acc,
            "workdir": workdir}


if __name__ == "__main__":
    main()
