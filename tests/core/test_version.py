"""tf.__version__ is the TensorFlow API version tenfold mirrors; tenfold's own release is
tenfold.__tenfold_version__ (the version in pyproject.toml)."""
import pathlib
import re

import tenfold as tf
import tenfold.keras as keras

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _release():
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def test_tf_version_is_the_mirrored_tensorflow():
    assert tf.__version__ == "2.21.0"
    assert tf.version.VERSION == tf.__version__
    # the usual checks in public code take TensorFlow 2's branch
    assert tf.__version__ >= "2."
    assert tuple(int(p) for p in tf.__version__.split(".")[:2]) >= (2, 4)
    assert tf.__version__.startswith("2.")


def test_tenfold_version_is_the_release():
    assert tf.__tenfold_version__ == _release()
    assert tf.__tenfold_version__ in tf.version.GIT_VERSION


def test_keras_version_is_the_mirrored_keras3():
    assert keras.__version__ == "3.15.1"
    assert keras.version() == keras.__version__
    assert int(keras.__version__.split(".")[0]) == 3


def test_saved_files_record_tenfold_release(tmp_path):
    import json
    import zipfile
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        meta = json.loads(z.read("metadata.json"))
    assert meta["keras_version"] == "3.15.1"
    assert meta["tenfold_version"] == tf.__tenfold_version__
