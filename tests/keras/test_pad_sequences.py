"""keras.utils.pad_sequences against Keras 3's own (the oracle), over random inputs."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold import keras


@pytest.fixture(scope="module")
def oracle():
    from keras.src.utils.sequence_utils import pad_sequences
    return pad_sequences


seqs = st.lists(st.lists(st.integers(-5, 50), max_size=7), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(seqs=seqs, maxlen=st.one_of(st.none(), st.integers(1, 8)),
       padding=st.sampled_from(["pre", "post"]), truncating=st.sampled_from(["pre", "post"]),
       value=st.sampled_from([0, -1, 0.5]), dtype=st.sampled_from(["int32", "float32", "int64"]))
def test_matches_keras(oracle, seqs, maxlen, padding, truncating, value, dtype):
    kw = dict(maxlen=maxlen, padding=padding, truncating=truncating, value=value, dtype=dtype)
    mine = keras.utils.pad_sequences(seqs, **kw)
    theirs = oracle(seqs, **kw)
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
    np.testing.assert_array_equal(mine, theirs)


def test_strings_and_errors(oracle):
    texts = [["a", "b"], ["c"]]
    np.testing.assert_array_equal(
        keras.utils.pad_sequences(texts, dtype=object, value="<pad>"),
        oracle(texts, dtype=object, value="<pad>"))
    with pytest.raises(ValueError, match="(?i)padding"):
        keras.utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="(?i)truncating"):
        keras.utils.pad_sequences([[1, 2]], maxlen=1, truncating="middle")
