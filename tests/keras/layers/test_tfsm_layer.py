"""keras.layers.TFSMLayer exists and says clearly that SavedModels need TensorFlow, and what
to do instead."""
import pytest

from tenfold import keras


def test_tfsm_layer_explains_what_is_unsupported(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(NotImplementedError,
                       match=r"TFSMLayer\('.*'.*call_endpoint='serve'\) is not supported.*"
                             r"SavedModel.*model\.save\('model\.keras'\)"):
        keras.layers.TFSMLayer(str(tmp_path))
    with pytest.raises(NotImplementedError, match="no saved_model.pb there"):
        keras.layers.TFSMLayer(str(tmp_path / "missing"), call_endpoint="serving_default")
