"""The `tenfold` commands. Each takes the parsed arguments and returns an exit status;
user errors raise `CommandError` (printed as one line by `main`)."""
import importlib
import os
import platform
import sys
import tempfile
import time


class CommandError(Exception):
    pass


def _say(*parts):
    print(*parts, flush=True)


# ---------------------------------------------------------------------------- info
EXTRAS = [  # (extra, module, what it gives)
    ("saving", "h5py", "legacy .h5 model files"),
    ("tensorboard", "tensorboard", "TensorBoard event files"),
    ("tensorboard", "google.protobuf", "protobuf messages"),
    ("images", "PIL", "image loading"),
    ("jit", "numba", "compiled kernels (jit_compile)"),
    ("gpu", "cupy", "NVIDIA GPUs"),
    ("onnx", "onnx", "ONNX export"),
    ("-", "onnxruntime", "running exported ONNX models"),
    ("lite", "flatbuffers", "tf.lite flatbuffers"),
    ("lite", "tflite", "tf.lite schema classes"),
    ("-", "ai_edge_litert", "LiteRT, running .tflite models"),
]


def _blas():
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older NumPy: no dict form of the build config
        return "unknown"


def info(args):
    import numpy as np
    import tenfold as tf
    from tenfold.graph.threads import blas_threads
    _say(f"tenfold {tf.__version__}")
    _say(f"python {platform.python_version()} ({sys.executable}), numpy {np.__version__}, "
         f"{platform.system()} {platform.machine()}")
    devices = [d.name for d in tf.config.list_physical_devices()]
    _say(f"devices: {', '.join(devices) or 'none'}")
    bt = blas_threads()
    _say(f"BLAS: {_blas()}; threads: {bt if bt is not None else 'unknown'}; "
         f"CPU cores: {os.cpu_count()}")
    _say("optional extras (pip install \"tenfold[EXTRA]\"):")
    for extra, mod, what in EXTRAS:
        try:
            m = importlib.import_module(mod)
            state = f"yes {getattr(m, '__version__', '')}".strip()
        except Exception as e:  # noqa: BLE001 - report any import failure, not only absence
            state = "no" if isinstance(e, ImportError) else \
                f"fails to import ({type(e).__name__}: {e})"
        _say(f"  {extra:<12} {mod:<16} {state:<24} {what}")
    return 0


# ---------------------------------------------------------------------------- models
def load_model(path):
    """The model in a .keras file, or a CommandError naming the file."""
    from tenfold import keras
    if not os.path.exists(path):
        raise CommandError(f"model file '{path}' does not exist.")
    try:
        return keras.models.load_model(path)
    except Exception as e:  # noqa: BLE001 - any loading failure is reported with the file
        raise CommandError(f"could not load the model in '{path}': {type(e).__name__}: {e}") \
            from e


def summary(args):
    load_model(args.model).summary()
    return 0


def _mnist_model(kind):
    from tenfold import keras
    L = keras.layers
    if kind == "mlp":
        return keras.Sequential([keras.Input((28 * 28,)), L.Dense(512, activation="relu"),
                                 L.Dense(10, activation="softmax")])
    return keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5),
        L.Dense(10, activation="softmax")])


def mnist_arrays(kind, limit=None, name="mnist"):
    """((x_train, y_train), (x_test, y_test)): images scaled to [0, 1] and shaped for the
    model kind, labels one-hot."""
    from tenfold.keras.datasets import fashion_mnist, mnist
    from tenfold.keras.utils import to_categorical
    if name == "mnist":
        (xtr, ytr), (xte, yte) = mnist.load_data_or_synthetic(verbose=True)[0]
    else:
        (xtr, ytr), (xte, yte) = fashion_mnist.load_data()
    shape = (-1, 28 * 28) if kind == "mlp" else (-1, 28, 28, 1)
    if limit:
        xtr, ytr, xte, yte = xtr[:limit], ytr[:limit], xte[:limit], yte[:limit]
    xtr = xtr.reshape(shape).astype("float32") / 255
    xte = xte.reshape(shape).astype("float32") / 255
    return (xtr, to_categorical(ytr, 10)), (xte, to_categorical(yte, 10))


def train(args):
    if args.epochs < 1 or args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise CommandError("--epochs, --batch-size and --limit must be positive.")
    (xtr, ytr), (xte, yte) = mnist_arrays(args.model, args.limit)
    model = _mnist_model(args.model)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    _say(f"training the {args.model} on {len(xtr)} images, {args.epochs} epoch(s)")
    start = time.perf_counter()
    model.fit(xtr, ytr, epochs=args.epochs, batch_size=args.batch_size,
              verbose=0 if args.quiet else 1)
    took = time.perf_counter() - start
    loss, acc = model.evaluate(xte, yte, verbose=0)
    _say(f"trained in {took:.1f} s; test accuracy {acc:.4f} (loss {loss:.4f}) on "
         f"{len(xte)} images")
    out = _atomic_path(args.output)
    with out as tmp:
        model.save(tmp)
    _say(f"saved {args.output} ({os.path.getsize(args.output) / 1024:.0f} KiB)")
    return 0


# ---------------------------------------------------------------------------- convert
class _atomic_path:
    """A temporary path beside `path`, moved onto it only when the block succeeds (so a
    failed write never leaves a partial file)."""

    def __init__(self, path, directory=False):
        self.path = os.path.abspath(path)
        self.directory = directory

    def __enter__(self):
        parent = os.path.dirname(self.path)
        if not os.path.isdir(parent):
            raise CommandError(f"cannot write '{self.path}': the folder '{parent}' does not "
                               "exist.")
        base = os.path.basename(self.path)
        if self.directory:
            self.tmp = tempfile.mkdtemp(prefix=f".{base}.", dir=parent)
        else:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{base}.", dir=parent,
                                            suffix=os.path.splitext(base)[1])
            os.close(fd)
        return self.tmp

    def __exit__(self, kind, exc, tb):
        if kind is None:
            umask = os.umask(0)
            os.umask(umask)  # mkstemp/mkdtemp create private paths: give the usual mode
            os.chmod(self.tmp, (0o777 if self.directory else 0o666) & ~umask)
            os.replace(self.tmp, self.path)
            return False
        if os.path.isdir(self.tmp):
            import shutil
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif os.path.exists(self.tmp):
            os.remove(self.tmp)
        return False


def calibration_data(spec, model, samples):
    """float32 calibration inputs shaped as the model's (single) input."""
    import numpy as np
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if shape is None or any(d is None for d in shape):
        raise CommandError("int8 calibration needs a model with one input of fixed size.")
    if spec in ("mnist", "fashion_mnist"):
        from tenfold.keras.datasets import fashion_mnist, mnist
        if spec == "mnist":
            x = mnist.load_data_or_synthetic(verbose=True)[0][0][0]
        else:
            x = fashion_mnist.load_data()[0][0]
        x = x[:samples].astype(np.float32) / 255
    else:
        if not os.path.exists(spec):
            raise CommandError(f"calibration file '{spec}' does not exist.")
        try:
            data = np.load(spec, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            raise CommandError(f"could not read calibration file '{spec}' ({e}); give a .npy "
                               "or .npz file of input arrays.") from e
        if hasattr(data, "files"):
            key = "x" if "x" in data.files else data.files[0]
            x = data[key]
        else:
            x = data
        x = np.asarray(x)[:samples]
        if x.dtype.kind not in "fiu":
            raise CommandError(f"calibration data in '{spec}' has dtype {x.dtype}; expected "
                               "numbers.")
        x = x.astype(np.float32)
    per = int(np.prod(shape))
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != per:
        raise CommandError(f"calibration data of shape {x.shape} does not fit the model's "
                           f"input of shape (None, {', '.join(map(str, shape))}): each "
                           f"sample must have {per} values.")
    return x.reshape((-1,) + shape)


def _tflite_bytes(model, args):
    import tenfold as tf
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    q = args.quantize
    if q is not None:
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if q == "float16":
        c.target_spec.supported_types = [tf.float16]
    if q == "int8":
        if args.calibration is None:
            raise CommandError("--quantize int8 needs --calibration DATA (a .npy/.npz file "
                               "of model inputs, or 'mnist').")
        x = calibration_data(args.calibration, model, args.samples)
        _say(f"calibrating on {len(x)} samples")
        c.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[args.io_type]
        c.inference_input_type = c.inference_output_type = io
    elif args.io_type != "float32":
        raise CommandError("--io-type int8/uint8 needs --quantize int8.")
    return c.convert()


def convert(args):
    if args.to != "tflite" and (args.quantize or args.calibration):
        raise CommandError(f"--quantize and --calibration apply to --to tflite, not "
                           f"--to {args.to}.")
    model = load_model(args.model)
    stem = os.path.splitext(args.model)[0]
    out = args.output or stem + {"onnx": ".onnx", "tflite": ".tflite",
                                 "saved_model": "_saved_model"}[args.to]
    _say(f"converting {args.model} to {args.to}" +
         (f" ({args.quantize})" if args.quantize else ""))
    try:
        if args.to == "tflite":
            with _atomic_path(out) as tmp:
                data = _tflite_bytes(model, args)
                with open(tmp, "wb") as f:
                    f.write(data)
        elif args.to == "onnx":
            from tenfold.export import onnx as onnx_export
            with _atomic_path(out) as tmp:
                if args.opset is not None:
                    onnx_export.export(model, tmp, opset=args.opset)
                else:
                    onnx_export.export(model, tmp)
        else:
            if os.path.exists(out):
                raise CommandError(f"'{out}' exists; SavedModel output needs a new folder.")
            from tenfold.export import saved_model
            with _atomic_path(out, directory=True) as tmp:
                saved_model.export_keras(model, tmp, verbose=False)
    except (ValueError, TypeError, ImportError) as e:
        raise CommandError(f"{type(e).__name__}: {e}") from e
    size = os.path.getsize(out) if os.path.isfile(out) else sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    _say(f"wrote {out} ({size / 1024:.1f} KiB)")
    return 0


# ---------------------------------------------------------------------------- serve
def serve(args):
    from tenfold import serving
    if not os.path.exists(args.model):
        raise CommandError(f"model '{args.model}' does not exist.")
    try:
        serving.serve(args.model, model_name=args.model_name, host=args.host, port=args.port,
                      stop_after=args.stop_after, log_requests=args.log_requests)
    except (OSError, ValueError, TypeError) as e:
        raise CommandError(str(e)) from e
    return 0
