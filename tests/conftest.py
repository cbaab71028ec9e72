"""Test setup: point the datasets at ../shared/datasets (CI sets no variables) and keep every
test independent of global state (seeds, policies, layer-name counters)."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

if "TENFOLD_DATASETS" not in os.environ and (SHARED / "datasets").is_dir():
    os.environ["TENFOLD_DATASETS"] = str(SHARED / "datasets")
os.environ.setdefault("KERAS_BACKEND", "numpy")  # the keras oracle runs on NumPy
# pytest -n 2 already uses both cores; BLAS threads on top of that oversubscribe them and
# make small matmuls spin (tens of ms instead of µs).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _reset_global_state():
    yield
    import tenfold
    from tenfold.ops import random_ops
    random_ops.set_seed(None)
    import sys
    if "tenfold.keras.mixed_precision.policy" in sys.modules:
        sys.modules["tenfold.keras.mixed_precision.policy"].set_global_policy(None)
    if "tenfold.keras.layers.layer" in sys.modules:
        sys.modules["tenfold.keras.layers.layer"].reset_name_counters()
    tenfold.config.run_functions_eagerly(False)


@pytest.fixture
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the checkout")
    return SHARED
