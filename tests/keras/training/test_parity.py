"""Training parity with real Keras 3: same model, initial weights and data, shuffle=False ->
the same weights, History, evaluate and predict results (goldens made by
tests/fixtures/make_training_goldens.py with Keras 3 on TensorFlow)."""
import pathlib
import sys

import numpy as np
import pytest

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
sys.path.insert(0, str(FIXTURES))

from training_cases import CASES, build_case  # noqa: E402

GOLDENS = np.load(FIXTURES / "training_goldens.npz")


def _golden(name, part):
    prefix = f"{name}/{part}/"
    return {k[len(prefix):]: GOLDENS[k] for k in GOLDENS.files if k.startswith(prefix)}


@pytest.mark.parametrize("name", CASES)
def test_fit_matches_keras(name):
    from tenfold import keras
    model, data, fit_kwargs, eval_data = build_case(keras, name)
    init = _golden(name, "init")
    # The case seeds its own initial weights: they must be the very same arrays.
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, init[str(i)])
    hist = model.fit(**data, **fit_kwargs, verbose=0)
    want_hist = _golden(name, "history")
    assert sorted(hist.history) == sorted(want_hist)
    for k, v in want_hist.items():
        np.testing.assert_allclose(hist.history[k], v, rtol=2e-4, atol=2e-5, err_msg=k)
    final = _golden(name, "final")
    got = model.get_weights()
    assert len(got) == len(final)
    for i, w in enumerate(got):
        np.testing.assert_allclose(w, final[str(i)], rtol=2e-4, atol=2e-5,
                                   err_msg=f"weight {i}")
    ev = model.evaluate(*eval_data, verbose=0, return_dict=True)
    want_ev = _golden(name, "evaluate")
    assert sorted(ev) == sorted(want_ev)
    for k, v in want_ev.items():
        np.testing.assert_allclose(ev[k], v, rtol=2e-4, atol=2e-5, err_msg=k)
    pred = model.predict(eval_data[0], verbose=0)
    pred = pred if isinstance(pred, list) else [pred]
    want_pred = _golden(name, "predict")
    for i, p in enumerate(pred):
        np.testing.assert_allclose(p, want_pred[str(i)], rtol=2e-4, atol=2e-5)
