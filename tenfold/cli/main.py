"""Argument parsing and dispatch for the `tenfold` command line."""
import argparse
import sys

from tenfold.cli import commands


def _parser():
    p = argparse.ArgumentParser(
        prog="tenfold", description="tenfold: train, inspect, convert and serve Keras models.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("info", help="version, devices, BLAS/threads and optional extras",
                       description="Print tenfold's version, devices, BLAS library and "
                       "threads, and which optional extras are installed and import.")
    s.set_defaults(fn=commands.info)

    s = sub.add_parser("train", help="train the seed's MNIST model and save it",
                       description="Train the seed's MNIST model (the 784-512-10 MLP, or the "
                       "small convnet), evaluate it on the test set and save a .keras file.")
    s.add_argument("--model", choices=["mlp", "convnet"], default="mlp",
                   help="mlp: Dense(512, relu) + Dense(10, softmax), as the seed (default); "
                   "convnet: Conv2D/MaxPooling2D layers")
    s.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    s.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    s.add_argument("--limit", type=int, default=None,
                   help="train/evaluate on the first N images only (quick runs)")
    s.add_argument("--output", "-o", default="mnist.keras",
                   help="where to save the model (default mnist.keras)")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    s.set_defaults(fn=commands.train)

    s = sub.add_parser("convert", help="convert a .keras model to ONNX or TFLite",
                       description="Convert a .keras model to ONNX or TensorFlow Lite. The "
                       "output is written only when the conversion succeeds.")
    s.add_argument("model", help="the .keras file")
    s.add_argument("--to", required=True, choices=["onnx", "tflite", "saved_model"],
                   help="the target format")
    s.add_argument("--output", "-o", default=None,
                   help="output path (default: the model's name with .onnx / .tflite)")
    s.add_argument("--quantize", choices=["int8", "float16", "dynamic"], default=None,
                   help="TFLite quantization: int8 (full integer, needs --calibration), "
                   "float16 weights, or dynamic (int8 weights)")
    s.add_argument("--calibration", default=None,
                   help="calibration inputs for int8: a .npy file, a .npz file (its first "
                   "array, or 'x'), or 'mnist' / 'fashion_mnist' (training images scaled to "
                   "[0, 1] and shaped as the model's input)")
    s.add_argument("--samples", type=int, default=200,
                   help="calibration samples to use (default 200)")
    s.add_argument("--io-type", choices=["float32", "int8", "uint8"], default="float32",
                   help="int8 models: the type of the model's inputs and outputs "
                   "(default float32: quantize/dequantize inside the model)")
    s.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    s.set_defaults(fn=commands.convert)

    s = sub.add_parser("serve", help="serve a model over TensorFlow Serving's REST API",
                       description="Serve a .keras model (or a directory "
                       "<base>/<version>/model.keras) over TensorFlow Serving's REST API.")
    s.add_argument("model", help="a .keras file or a TF Serving style model directory")
    s.add_argument("--port", type=int, default=8501, help="port (default 8501; 0: any free)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the server)")
    s.add_argument("--model-name", default="model", help="the name in /v1/models/{name}")
    s.add_argument("--stop-after", type=float, default=None,
                   help="stop by itself after this many seconds")
    s.add_argument("--log-requests", action="store_true", help="log each request")
    s.set_defaults(fn=commands.serve)

    s = sub.add_parser("summary", help="the model's layers, parameters, FLOPs and memory",
                       description="Print the summary table of a .keras model, with FLOPs "
                       "per sample and parameter/activation memory.")
    s.add_argument("model", help="the .keras file")
    s.set_defaults(fn=commands.summary)
    return p


def main(argv=None):
    """Runs the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "fn", None) is None:
        parser.print_help()
        return 2
    try:
        return args.fn(args) or 0
    except commands.CommandError as e:
        print(f"tenfold {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tenfold {args.command}: interrupted", file=sys.stderr)
        return 130
