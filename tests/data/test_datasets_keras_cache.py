"""keras.datasets reading the files Keras already downloaded (its cache layout under
KERAS_HOME / ~/.keras), and the cifar100 / reuters / boston_housing / california_housing
loaders compared with Keras's own load_data run on the same small fabricated files (Keras's
get_file is pointed at them: nothing is downloaded)."""
import gzip
import pickle

import numpy as np
import pytest

from tenfold.keras import datasets
from tenfold.keras.datasets import (
    mnist, fashion_mnist, cifar100, reuters, boston_housing, california_housing)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("TENFOLD_DATASETS", raising=False)
    return home / "datasets"


def _keras_load(module_name, path, monkeypatch, **kwargs):
    """Keras's own load_data with its get_file returning `path`."""
    import importlib
    mod = importlib.import_module(f"keras.src.datasets.{module_name}")
    monkeypatch.setattr(mod, "get_file", lambda *a, **k: str(path))
    return mod.load_data(**kwargs)


def _same(a, b):
    (x, y), (xt, yt) = a
    (kx, ky), (kxt, kyt) = b
    for mine, theirs in ((x, kx), (y, ky), (xt, kxt), (yt, kyt)):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        if mine.dtype == object:
            assert [list(r) for r in mine] == [list(r) for r in theirs]
        else:
            np.testing.assert_array_equal(mine, theirs)


def test_mnist_from_keras_cache(keras_home):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 255, (7, 28, 28), dtype=np.uint8),
                  y_train=rng.integers(0, 10, 7, dtype=np.uint8),
                  x_test=rng.integers(0, 255, (3, 28, 28), dtype=np.uint8),
                  y_test=rng.integers(0, 10, 3, dtype=np.uint8))
    np.savez(keras_home / "mnist.npz", **arrays)
    (x, y), (xt, yt) = mnist.load_data()
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, arrays["y_test"])


def test_fashion_mnist_from_keras_cache(keras_home):
    folder = keras_home / "fashion-mnist"
    folder.mkdir()
    imgs = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 4], np.uint8)
    for prefix in ("train", "t10k"):
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write((2051).to_bytes(4, "big") + (2).to_bytes(4, "big") +
                    (28).to_bytes(4, "big") * 2 + imgs.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write((2049).to_bytes(4, "big") + (2).to_bytes(4, "big") + labels.tobytes())
    (x, y), (xt, yt) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x, imgs)
    np.testing.assert_array_equal(yt, labels)


def _cifar100_files(root):
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, n in (("train", 6), ("test", 4)):
        d = {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
             b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
             b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)]}
        (folder / name).write_bytes(pickle.dumps(d, protocol=3))
    return root


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(keras_home, monkeypatch, label_mode):
    target = _cifar100_files(keras_home / "cifar-100-python-target")
    mine = cifar100.load_data(label_mode=label_mode)
    _same(mine, _keras_load("cifar100", target, monkeypatch, label_mode=label_mode))
    assert mine[0][0].shape == (6, 32, 32, 3) and mine[0][1].shape == (6, 1)


def test_cifar100_rejects_bad_label_mode():
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium")


def _reuters_file(path):
    rng = np.random.default_rng(2)
    xs = np.empty(20, dtype=object)
    for i in range(20):
        xs[i] = [int(v) for v in rng.integers(1, 60, rng.integers(3, 15))]
    np.savez(path, x=xs, y=rng.integers(0, 46, 20).astype(np.int64))


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 30, "skip_top": 2}, {"maxlen": 10, "test_split": 0.3, "seed": 5},
    {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 40}])
def test_reuters_matches_keras(keras_home, monkeypatch, kwargs):
    _reuters_file(keras_home / "reuters.npz")
    _same(reuters.load_data(**kwargs),
          _keras_load("reuters", keras_home / "reuters.npz", monkeypatch, **kwargs))


def test_reuters_label_names_match_keras():
    from keras.src.datasets import reuters as kr
    assert reuters.get_label_names() == kr.get_label_names()


@pytest.mark.parametrize("module,name,features,kwargs", [
    (boston_housing, "boston_housing", 13, {}),
    (boston_housing, "boston_housing", 13, {"test_split": 0.5, "seed": 1}),
    (california_housing, "california_housing", 8, {}),
    (california_housing, "california_housing", 8, {"version": "small", "seed": 3}),
])
def test_housing_matches_keras(keras_home, monkeypatch, module, name, features, kwargs):
    rng = np.random.default_rng(3)
    n = 700 if name == "california_housing" else 50
    np.savez(keras_home / f"{name}.npz", x=rng.normal(size=(n, features)),
             y=rng.uniform(10, 50, n))
    mine = module.load_data(**kwargs)
    _same(mine, _keras_load(name, keras_home / f"{name}.npz", monkeypatch, **kwargs))


def test_housing_argument_errors():
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)
    with pytest.raises(ValueError, match="version"):
        california_housing.load_data(version="medium")


def test_tenfold_datasets_folder_comes_first(keras_home, tmp_path, monkeypatch):
    np.savez(keras_home / "boston_housing.npz", x=np.zeros((10, 13)), y=np.zeros(10))
    mine = tmp_path / "mine"
    mine.mkdir()
    np.savez(mine / "boston_housing.npz", x=np.ones((10, 13)), y=np.ones(10))
    monkeypatch.setenv("TENFOLD_DATASETS", str(mine))
    (x, _), _ = boston_housing.load_data()
    assert (x == 1).all()


def test_missing_everywhere_names_keras_cache(keras_home):
    from tenfold.keras.utils.file_utils import DownloadError
    with pytest.raises(DownloadError, match="Keras's cache"):
        reuters.load_data()


def test_namespace():
    for n in ("cifar100", "reuters", "boston_housing", "california_housing"):
        assert hasattr(getattr(datasets, n), "load_data")
