"""Writes tests/conformance/references/<program>.npz by running each program on TensorFlow.

Run with the TensorFlow interpreter from the repository root:
    .venvs/tf/bin/python tests/conformance/make_references.py [program ...]
"""
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import harness  # noqa: E402


def main(names):
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    failed = []
    for name in names or harness.program_names():
        try:
            out = harness.run(name, "tensorflow")
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            failed.append(name)
            continue
        out["__meta__/tensorflow"] = np.array(tf.__version__)
        out["__meta__/keras"] = np.array(tf.keras.__version__ if hasattr(tf.keras, "__version__")
                                         else "")
        path = harness.REFERENCES / f"{name}.npz"
        np.savez_compressed(path, **out)
        print(f"{name}: {len(out) - 2} values -> {path.name} ({path.stat().st_size} bytes)")
    if failed:
        print("FAILED on TensorFlow:", failed)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
