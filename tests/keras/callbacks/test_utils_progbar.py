"""keras.utils: to_categorical, normalize, set_random_seed, Progbar, plot_model."""
import io
import random
import sys

import numpy as np
import pytest

from tenfold import keras


def test_to_categorical():
    y = keras.utils.to_categorical([0, 2, 1, 2])
    np.testing.assert_array_equal(y, np.eye(3, dtype="float32")[[0, 2, 1, 2]])
    assert y.dtype == np.float32
    y = keras.utils.to_categorical(np.array([[1], [0]]), num_classes=4)
    assert y.shape == (2, 4)
    with pytest.raises(ValueError, match="num_classes"):
        keras.utils.to_categorical([5], num_classes=3)


def test_normalize():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x, order=1), [[3 / 7, 4 / 7], [0, 0]])


def test_set_random_seed_repeats_everything():
    from tenfold.ops import random_ops

    def draw():
        return (random.random(), np.random.rand(), float(random_ops.uniform(()).numpy()))
    keras.utils.set_random_seed(123)
    a = draw()
    keras.utils.set_random_seed(123)
    assert draw() == a
    with pytest.raises(ValueError):
        keras.utils.set_random_seed(1.5)


def _capture(fn, monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    fn()
    return buf.getvalue()


def test_progbar_not_a_terminal_prints_one_line(monkeypatch):
    def run():
        bar = keras.utils.Progbar(10)
        for i in range(1, 11):
            bar.update(i, [("loss", 0.5)])
    out = _capture(run, monkeypatch)
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("10/10 ") and "loss: 0.5000" in lines[0]
    assert "\x1b[" not in out and "step" in out


def test_progbar_terminal_redraws_with_eta(monkeypatch):
    buf = io.StringIO()
    buf.isatty = lambda: True
    monkeypatch.setattr(sys, "stdout", buf)
    bar = keras.utils.Progbar(4, interval=0.0)
    bar.update(1, [("acc", 0.25)])
    bar.update(4, [("acc", 1.0)])
    out = buf.getvalue()
    assert "\r" in out and "━" in out and out.endswith("\n")
    assert "1/4" in out and "4/4" in out


def test_progbar_verbose2_and_unknown_target(monkeypatch):
    def run():
        bar = keras.utils.Progbar(3, verbose=2)
        for i in range(1, 4):
            bar.update(i, [("loss", 1.0)])
        bar = keras.utils.Progbar(None)
        bar.update(5, [("loss", 1.0)], finalize=True)
    out = _capture(run, monkeypatch)
    assert "3/3 - " in out and "5/Unknown" in out


def test_plot_model_writes_dot(tmp_path):
    m = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, name="d")])
    path = tmp_path / "m.dot"
    keras.utils.plot_model(m, to_file=str(path), show_shapes=True)
    text = path.read_text()
    assert text.startswith("digraph") and "d (Dense)" in text and "(None, 2)" in text
    import shutil
    if shutil.which("dot") is None:
        with pytest.raises(ImportError, match="graphviz"):
            keras.utils.plot_model(m, to_file=str(tmp_path / "m.png"))
        assert (tmp_path / "m.dot").exists()
