"""Writes references/<program>.npz by running each program on real TensorFlow.

Run with a Python that has TensorFlow (not tenfold):
    .venvs/tf/bin/python tests/conformance_tf/make_references.py [program ...]
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tfconf_harness as h  # noqa: E402


def main(names):
    h.REFERENCES.mkdir(exist_ok=True)
    for name in names or h.program_names():
        flat, _ = h.run(name, "tensorflow")
        h.save(name, flat)
        odd = [k for k, v in flat.items() if v.dtype.kind in "US" and
               str(v).startswith(h.EXCEPTION)]
        print(f"{name}: {len(flat)} values" + (f"; TensorFlow raised in {odd}" if odd else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
