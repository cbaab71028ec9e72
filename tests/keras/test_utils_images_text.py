"""keras.utils image helpers against Keras 3's own (the oracle), text_dataset_from_directory,
tf.io image codecs, and plot_history."""
import io
import os

import numpy as np
import pytest
from PIL import Image

import tenfold as tf
from tenfold import keras
from tenfold.framework.errors import InvalidArgumentError


@pytest.fixture
def kutils():
    from keras.src.utils import image_utils
    return image_utils


def _rgb(h=6, w=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [True, False])
def test_array_to_img_and_back_match_keras(kutils, channels, scale):
    x = np.random.default_rng(channels).random((5, 7, channels)).astype("float32") * 200 + 3
    mine, theirs = keras.utils.array_to_img(x, scale=scale), kutils.array_to_img(x, scale=scale)
    assert mine.mode == theirs.mode and mine.size == theirs.size
    np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    back = keras.utils.img_to_array(mine)
    np.testing.assert_array_equal(back, kutils.img_to_array(theirs))
    assert back.dtype == np.float32 and back.shape == (5, 7, channels)


def test_img_to_array_channels_first_and_dtype(kutils):
    img = Image.fromarray(_rgb())
    for kw in ({"data_format": "channels_first"}, {"dtype": "uint8"}):
        np.testing.assert_array_equal(keras.utils.img_to_array(img, **kw),
                                      kutils.img_to_array(img, **kw))
    gray = Image.fromarray(_rgb()[..., 0])
    assert keras.utils.img_to_array(gray).shape == (6, 9, 1)


@pytest.mark.parametrize("kwargs", [
    {}, {"color_mode": "grayscale"}, {"color_mode": "rgba"},
    {"target_size": (4, 5)}, {"target_size": (12, 3), "interpolation": "bilinear"},
    {"target_size": (4, 4), "keep_aspect_ratio": True, "interpolation": "bicubic"},
])
def test_load_img_matches_keras(kutils, tmp_path, kwargs):
    path = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(path)
    mine, theirs = keras.utils.load_img(str(path), **kwargs), kutils.load_img(str(path), **kwargs)
    assert mine.mode == theirs.mode and mine.size == theirs.size
    np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    buf = io.BytesIO(path.read_bytes())
    np.testing.assert_array_equal(np.asarray(keras.utils.load_img(buf, **kwargs)),
                                  np.asarray(theirs))


def test_save_img_round_trip_and_jpeg_rgba(tmp_path):
    x = _rgb().astype("float32")
    keras.utils.save_img(tmp_path / "x.png", x, scale=False)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "x.png")), x.astype(np.uint8))
    rgba = np.concatenate([x, np.full((6, 9, 1), 255.0, "float32")], -1)
    with pytest.warns(UserWarning, match="RGBA"):
        keras.utils.save_img(str(tmp_path / "x.jpg"), rgba)
    assert Image.open(tmp_path / "x.jpg").mode == "RGB"


def test_image_util_errors():
    with pytest.raises(ValueError, match="rank 3.*x\\[0\\]"):
        keras.utils.array_to_img(np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        keras.utils.array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="color_mode"):
        keras.utils.load_img(io.BytesIO(b""), color_mode="cmyk")
    with pytest.raises(FileNotFoundError, match="nope.png"):
        keras.utils.load_img("nope.png")


# --- tf.io / tf.image codecs -------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 7, 1), (5, 7, 3), (5, 7, 4), (3, 4, 2)])
def test_png_round_trip_exact(shape):
    a = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    png = tf.io.encode_png(a)
    assert png.dtype == tf.string and png.numpy()[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), a)
    np.testing.assert_array_equal(tf.image.decode_png(png, channels=shape[-1]).numpy(), a)
    # Pillow reads what we wrote, pixel for pixel
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png.numpy()))).reshape(shape),
                                  a)


def test_png_channel_conversion_and_16_bit():
    rgb = _rgb()
    png = tf.io.encode_png(rgb)
    gray = tf.io.decode_png(png, channels=1).numpy()
    want = np.asarray(Image.fromarray(rgb).convert("L"))[..., None]
    np.testing.assert_array_equal(gray, want)
    rgba = tf.io.decode_png(png, channels=4).numpy()
    assert rgba.shape == (6, 9, 4) and (rgba[..., 3] == 255).all()
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4, 1) * 5000)
    png16 = tf.io.encode_png(deep)
    np.testing.assert_array_equal(tf.io.decode_png(png16, dtype=tf.uint16).numpy(), deep)
    np.testing.assert_array_equal(tf.io.decode_png(png16).numpy(), (deep >> 8).astype(np.uint8))


def test_jpeg_decode_matches_pillow_and_is_close_to_source():
    src = np.kron(_rgb(4, 4), np.ones((8, 8, 1), np.uint8))  # flat 8x8 blocks: JPEG-friendly
    jpg = tf.io.encode_jpeg(src, quality=95)
    dec = tf.io.decode_jpeg(jpg).numpy()
    np.testing.assert_array_equal(dec, np.asarray(Image.open(io.BytesIO(jpg.numpy()))))
    assert np.abs(dec.astype(int) - src).mean() < 8
    assert tf.io.decode_jpeg(jpg, channels=1).shape == [32, 32, 1]
    assert tf.io.decode_jpeg(jpg, ratio=2).shape == [16, 16, 3]
    assert bool(tf.io.is_jpeg(jpg)) and not bool(tf.io.is_jpeg(tf.io.encode_png(src)))


def test_decode_image_detects_formats(tmp_path):
    a = _rgb()
    for fmt in ("PNG", "BMP", "JPEG"):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format=fmt)
        path = tmp_path / f"x.{fmt.lower()}"
        path.write_bytes(buf.getvalue())
        out = tf.image.decode_image(tf.io.read_file(str(path)))
        assert out.shape == [6, 9, 3] and out.dtype == tf.uint8
        if fmt != "JPEG":
            np.testing.assert_array_equal(out.numpy(), a)
    f = tf.io.decode_image(tf.io.read_file(str(tmp_path / "x.png")), dtype=tf.float32)
    np.testing.assert_allclose(f.numpy(), a / 255.0, atol=1e-6)


def test_decode_gif_frames():
    frames = [Image.fromarray(_rgb(seed=s)).convert("P") for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    data = buf.getvalue()
    assert tf.io.decode_gif(data).shape == [3, 6, 9, 3]
    assert tf.io.decode_image(data).shape == [3, 6, 9, 3]
    assert tf.io.decode_image(data, expand_animations=False).shape == [6, 9, 3]


def test_codec_errors():
    with pytest.raises(InvalidArgumentError, match="Unknown image file format"):
        tf.io.decode_image(b"hello")
    with pytest.raises(InvalidArgumentError, match="expected PNG data, got JPEG"):
        tf.io.decode_png(tf.io.encode_jpeg(_rgb()))
    with pytest.raises(InvalidArgumentError, match="convert_image_dtype"):
        tf.io.encode_png(np.zeros((2, 2, 3), "float32"))
    with pytest.raises(InvalidArgumentError, match="3-D"):
        tf.io.encode_png(np.zeros((2, 2), "uint8"))
    with pytest.raises(InvalidArgumentError, match="channels"):
        tf.io.decode_jpeg(tf.io.encode_jpeg(_rgb()), channels=4)


# --- text_dataset_from_directory ------------------------------------------------------------

def _texts(root):
    data = {"neg": ["bad film", "awful", "dull plot"], "pos": ["great", "loved it"]}
    for cls, texts in data.items():
        (root / cls).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / cls / f"{i}.txt").write_text(t)
    (root / "pos" / "ignored.md").write_text("not a .txt file")
    return data


def test_text_dataset_contents_and_labels(tmp_path):
    data = _texts(tmp_path)
    ds = keras.utils.text_dataset_from_directory(tmp_path, batch_size=None, shuffle=False,
                                                 verbose=False)
    assert ds.class_names == ["neg", "pos"]
    got = [(t.numpy(), int(y)) for t, y in ds]
    want = [(t.encode(), k) for k, cls in enumerate(sorted(data)) for t in
            [data[cls][i] for i in range(len(data[cls]))]]
    assert sorted(got) == sorted(want)
    assert ds.element_spec[0].dtype == tf.string and ds.element_spec[1].dtype == tf.int32


def test_text_dataset_modes_batching_and_split(tmp_path):
    _texts(tmp_path)
    ds = keras.utils.text_dataset_from_directory(tmp_path, label_mode="categorical",
                                                 batch_size=2, max_length=4, seed=1,
                                                 verbose=False)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    assert all(len(t) <= 4 for b in batches for t in b[0].numpy())
    assert batches[0][1].shape == [2, 2] and batches[0][1].dtype == tf.float32
    train, val = keras.utils.text_dataset_from_directory(
        tmp_path, validation_split=0.4, subset="both", seed=3, label_mode="binary",
        verbose=False)
    n_train = sum(int(b[0].shape[0]) for b in train)
    n_val = sum(int(b[0].shape[0]) for b in val)
    assert (n_train, n_val) == (3, 2)
    assert next(iter(val))[1].shape[1:] == [1]


def test_text_dataset_matches_keras_file_order(tmp_path):
    from keras.src.utils import dataset_utils
    _texts(tmp_path)
    paths, labels, names = dataset_utils.index_directory(
        str(tmp_path), "inferred", formats=(".txt",), shuffle=True, seed=7, verbose=False)
    ds = keras.utils.text_dataset_from_directory(tmp_path, batch_size=None, shuffle=True,
                                                 seed=7, verbose=False)
    # the files are picked and labelled as Keras does (the buffer shuffle order is RNG-specific)
    want = sorted((open(p, "rb").read(), int(y)) for p, y in zip(paths, labels))
    assert sorted((t.numpy(), int(y)) for t, y in ds) == want
    assert names == ds.class_names


def test_text_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="No text files found"):
        (tmp_path / "empty" / "a").mkdir(parents=True)
        keras.utils.text_dataset_from_directory(tmp_path / "empty", verbose=False)
    with pytest.raises(ValueError, match="label_mode"):
        keras.utils.text_dataset_from_directory(tmp_path, label_mode="sparse")
    with pytest.raises(ValueError, match="seed"):
        keras.utils.text_dataset_from_directory(tmp_path, validation_split=0.2,
                                                subset="training")


# --- plot_history -----------------------------------------------------------------------

def test_plot_history_draws_each_metric(tmp_path):
    pytest.importorskip("matplotlib")  # the `plots` extra (also in `test`)
    import matplotlib
    matplotlib.use("Agg")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.random.default_rng(0).random((32, 3)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=3, validation_split=0.25, verbose=0)
    fig = keras.utils.plot_history(history, to_file=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "mae"]
    loss_ax = fig.axes[0]
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert labels == ["training", "validation"]
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), history.history["loss"])
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="no \\['acc'\\]"):
        keras.utils.plot_history(history, metrics=["acc"], to_file=tmp_path / "x.png")
    with pytest.raises(ValueError, match="History"):
        keras.utils.plot_history({}, to_file=tmp_path / "x.png")


# --- plot_model to PNG through Graphviz's `dot` ----------------------------------------------

def _model():
    inp = keras.Input((4,), name="features")
    out = keras.layers.Dense(2, name="head")(keras.layers.Dense(3, name="hidden")(inp))
    return keras.Model(inp, out)


def test_plot_model_png_runs_dot(tmp_path, monkeypatch):
    # a stand-in `dot` on PATH records how it was called and writes a real PNG
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    fake.write_text(
        "#!" + os.sys.executable + "\n"
        "import sys\nfrom PIL import Image\n"
        "src = sys.stdin.read()\n"
        f"open({str(tmp_path / 'seen.dot')!r}, 'w').write(' '.join(sys.argv[1:]) + '\\n' + src)\n"
        "Image.new('RGB', (4, 4)).save(sys.argv[sys.argv.index('-o') + 1], format='PNG')\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    out = tmp_path / "model.png"
    keras.utils.plot_model(_model(), to_file=str(out), show_shapes=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args, dot = (tmp_path / "seen.dot").read_text().split("\n", 1)
    assert args.startswith("-Tpng -o") and dot.startswith("digraph")
    assert "hidden (Dense)" in dot and "head (Dense)" in dot and "->" in dot


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="Graphviz not installed")
def test_plot_model_png_with_graphviz(tmp_path):
    out = tmp_path / "model.png"
    keras.utils.plot_model(_model(), to_file=str(out))
    assert Image.open(out).size[0] > 10


# --- keras.preprocessing ---------------------------------------------------------------------

def test_preprocessing_namespace_is_keras_utils():
    from tenfold.keras.preprocessing.image import load_img, img_to_array
    from tenfold.keras.preprocessing.sequence import pad_sequences
    assert load_img is keras.utils.load_img and img_to_array is keras.utils.img_to_array
    assert pad_sequences is keras.utils.pad_sequences
    assert tf.keras.preprocessing.text_dataset_from_directory is \
        keras.utils.text_dataset_from_directory
    assert tf.keras.preprocessing.image_dataset_from_directory is \
        keras.utils.image_dataset_from_directory


@pytest.mark.parametrize("shape,size", [((10, 20, 3), (8, 8)), ((2, 30, 12, 1), (10, 5)),
                                        ((9, 9, 3), (4, 12))])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_smart_resize_matches_keras(shape, size, interpolation):
    from keras.src.utils.image_utils import smart_resize as oracle
    from tenfold.keras.preprocessing.image import smart_resize
    x = np.random.default_rng(0).random(shape).astype("float32")
    got = smart_resize(x, size, interpolation=interpolation)
    want = np.asarray(oracle(x, size, interpolation=interpolation))
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
