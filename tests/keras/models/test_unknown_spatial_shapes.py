"""Symbolic shapes with unknown image sizes: a feature extractor on (None, None, 3) inputs
(what `keras.applications` builds with include_top=False) keeps H and W unknown through strided
pooling and big 'valid' kernels, as Keras does, and then runs on any size."""
import numpy as np
import pytest

import tenfold.keras as tk

keras = pytest.importorskip("keras")


def _build(lib):
    inp = lib.Input((None, None, 3))
    x = lib.layers.Conv2D(4, 7, strides=2)(inp)        # 'valid' 7x7: too big for a 2x2 probe
    x = lib.layers.MaxPooling2D(2)(x)                   # 2 and 3 both pool to 1
    x = lib.layers.MaxPooling2D(3, strides=2)(x)
    x = lib.layers.AveragePooling2D(2)(x)
    return lib.Model(inp, x)


def test_unknown_spatial_dims_stay_unknown_like_keras():
    got, want = _build(tk), _build(keras)
    assert got.output.shape == tuple(want.output.shape) == (None, None, None, 4)
    for size in (40, 63):
        out = got(np.zeros((1, size, size, 3), "float32"))
        assert out.shape == tuple(want.compute_output_shape((1, size, size, 3)))


def test_too_small_known_input_still_reports_the_layer():
    inp = tk.Input((4, 4, 3))
    with pytest.raises(ValueError, match="pool"):
        tk.layers.MaxPooling2D(8)(inp)
