"""Gaps that public Keras programs (keras.io guides and examples, run through
tools/run_programs.py) exposed, each checked against Keras 3 / TensorFlow 2.21 behaviour."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

TEXTS = np.array([["This is the 1st sample."], ["And here's the 2nd sample."]])


@pytest.mark.parametrize("old, new", [("binary", "multi_hot")])
def test_text_vectorization_accepts_keras2_mode_names(old, new):
    # Keras 3 still accepts "binary" and stores it as "multi_hot".
    legacy = keras.layers.TextVectorization(output_mode=old, ngrams=2)
    legacy.adapt(TEXTS)
    current = keras.layers.TextVectorization(output_mode=new, ngrams=2)
    current.adapt(TEXTS)
    assert legacy.output_mode == new
    assert legacy.get_config()["output_mode"] == new
    np.testing.assert_array_equal(legacy(TEXTS).numpy(), current(TEXTS).numpy())
    # Each sample's unigrams and bigrams are marked once; the OOV slot stays 0.
    out = legacy(TEXTS).numpy()
    assert out.shape == (2, len(legacy.get_vocabulary()))
    assert set(np.unique(out)) <= {0, 1} and out[:, 0].sum() == 0


def test_lookup_accepts_tf_idf_with_a_dash():
    layer = keras.layers.StringLookup(output_mode="tf-idf", vocabulary=["a", "b"],
                                      idf_weights=[1.0, 2.0])
    assert layer.output_mode == "tf_idf"
    np.testing.assert_allclose(layer(["b", "b", "a"]).numpy(),
                               keras.layers.StringLookup(output_mode="tf_idf",
                                                         vocabulary=["a", "b"],
                                                         idf_weights=[1.0, 2.0])(
                                   ["b", "b", "a"]).numpy())


def test_unknown_mode_still_names_the_layer():
    with pytest.raises(ValueError, match="unknown output_mode 'bits'"):
        keras.layers.StringLookup(output_mode="bits")
