"""keras.utils.image_dataset_from_directory on small folders of PNG / JPEG files."""
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from tenfold.keras.utils.image_dataset import image_dataset_from_directory, resize  # noqa: E402

CLASSES = {"cat": 3, "dog": 4, "emu": 2}


@pytest.fixture
def image_dir(tmp_path):
    """Class folders of flat-coloured images; the red channel says class and index."""
    for k, (name, count) in enumerate(sorted(CLASSES.items())):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(count):
            colour = (40 * k + 10 * i + 5, 100, 200)
            size = (10 + i, 8 + 2 * k)  # various sizes: everything is resized
            Image.new("RGB", size, colour).save(folder / f"img{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    Image.new("RGB", (5, 5), (0, 0, 0)).save(tmp_path / "dog" / "extra.jpg", quality=100)
    return tmp_path


def _all(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def test_inferred_int_labels(image_dir, capsys):
    ds = image_dataset_from_directory(image_dir, image_size=(6, 7), batch_size=4, seed=1)
    assert "Found 10 files belonging to 3 classes." in capsys.readouterr().out
    assert ds.class_names == ["cat", "dog", "emu"] and len(ds.file_paths) == 10
    x, y = _all(ds)
    assert x.shape == (10, 6, 7, 3) and x.dtype == np.float32 and y.dtype == np.int32
    for img, label in zip(x, y):
        red = img[0, 0, 0]
        if red == 0:  # the black jpeg in dog/
            assert label == 1
        else:
            assert np.allclose(img[..., 1], 100) and np.allclose(img[..., 2], 200)
            assert int(red) // 40 == label
    first = [b[1].numpy().tolist() for b in ds]
    assert sorted(sum(first, [])) == sorted(y.tolist())
    assert len(ds) == 3


def test_label_modes_color_modes_and_unbatched(image_dir):
    cat = image_dataset_from_directory(image_dir, label_mode="categorical", image_size=(4, 4),
                                       batch_size=3, shuffle=False)
    x, y = _all(cat)
    assert y.shape == (10, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y.argmax(1), [0, 0, 0, 1, 1, 1, 1, 1, 2, 2])
    gray = image_dataset_from_directory(image_dir, color_mode="grayscale", image_size=(4, 4),
                                        batch_size=None, shuffle=False)
    img, label = next(iter(gray))
    assert img.shape == (4, 4, 1) and int(label) == 0
    two = image_dir / "two"
    (two / "a").mkdir(parents=True)
    (two / "b").mkdir()
    for i in range(3):
        Image.new("RGB", (3, 3), (i, i, i)).save(two / "a" / f"{i}.png")
        Image.new("RGB", (3, 3), (9, 9, 9)).save(two / "b" / f"{i}.png")
    binary = image_dataset_from_directory(two, label_mode="binary", image_size=(3, 3),
                                          shuffle=False)
    _, yb = _all(binary)
    assert yb.shape == (6, 1) and yb.dtype == np.float32 and yb.ravel().tolist() == [0] * 3 + [1] * 3
    only = image_dataset_from_directory(two, labels=None, image_size=(3, 3), shuffle=False)
    assert next(iter(only)).shape == (6, 3, 3, 3)
    with pytest.raises(ValueError, match="exactly 2"):
        image_dataset_from_directory(image_dir, label_mode="binary")


def test_validation_split(image_dir):
    kw = dict(image_size=(4, 4), batch_size=2, validation_split=0.3, seed=7)
    train = image_dataset_from_directory(image_dir, subset="training", **kw)
    val = image_dataset_from_directory(image_dir, subset="validation", **kw)
    assert len(train.file_paths) == 7 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    both = image_dataset_from_directory(image_dir, subset="both", **kw)
    assert both[0].file_paths == train.file_paths and both[1].file_paths == val.file_paths
    with pytest.raises(ValueError, match="seed"):
        image_dataset_from_directory(image_dir, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="validation_split"):
        image_dataset_from_directory(image_dir, subset="training", seed=1)


def test_resize_matches_tensorflow_semantics():
    row = np.array([[[0.0], [255.0]]], dtype=np.float32)          # 1 x 2 image
    up = resize(row, (1, 4))[0, :, 0]
    np.testing.assert_allclose(up, [0.0, 63.75, 191.25, 255.0])  # half-pixel bilinear
    np.testing.assert_allclose(resize(row, (1, 4), "nearest")[0, :, 0], [0, 0, 255, 255])
    img = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(resize(img, (5, 7)), img)           # same size: identity
    down = resize(np.arange(16, dtype=np.float32).reshape(4, 4, 1), (2, 2))[..., 0]
    np.testing.assert_allclose(down, [[2.5, 4.5], [10.5, 12.5]])  # 2x2 block means


def test_pillow_missing_message(image_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install tenfold\[images\]"):
        image_dataset_from_directory(image_dir)


def test_bad_image_file_is_named(image_dir):
    (image_dir / "emu" / "broken.png").write_bytes(b"\x89PNG not really")
    ds = image_dataset_from_directory(image_dir, image_size=(4, 4), shuffle=False)
    with pytest.raises(ValueError, match="broken.png"):
        _all(ds)
