"""The `tenfold` command line: `tenfold info | train | convert | serve | summary`.

    tenfold info                                   # version, devices, BLAS, optional extras
    tenfold train --epochs 5 --output mnist.keras  # the seed's MNIST program
    tenfold summary mnist.keras                    # layers, parameters, FLOPs, memory
    tenfold convert mnist.keras --to tflite --quantize int8 --calibration mnist
    tenfold serve mnist.keras --port 8501          # TensorFlow Serving's REST API

Also `python -m tenfold ...`. Each command has `--help`.
"""
from tenfold.cli.main import main

__all__ = ["main"]
