"""The preprocessing layers' TF-made goldens (tests/fixtures/preprocessing/make_goldens.py)
and the two helpers every test of them needs, shared by test_text_preprocessing.py (eager)
and test_text_preprocessing_graph.py (in graphs)."""
import json
import os

import numpy as np

from tenfold.keras import layers as L

HERE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "preprocessing")
with open(os.path.join(HERE, "goldens.json")) as _f:
    GOLDENS = json.load(_f)


def as_numpy(y):
    """A tensor's value, with byte strings decoded to str (as the goldens hold them)."""
    arr = np.asarray(y.numpy())
    if arr.dtype == object:
        arr = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(arr)
    return arr


def build(case):
    """The golden case's layer, adapted when the case says so."""
    layer = getattr(L, case["class"])(**case["kwargs"])
    if case["adapt"] is not None:
        layer.adapt(case["adapt"])
    return layer
