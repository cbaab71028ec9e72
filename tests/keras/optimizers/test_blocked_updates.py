"""The dense SGD / RMSprop / Adam updates run block by block (kernels.blockwise, blocks shared
out to the kernel threads) on big variables: the numbers must be those of the whole-array
ufunc sequence, bit for bit, in float32 and float64."""
import numpy as np
import pytest

from tenfold import keras
from tenfold.backend import kernels

CONFIGS = [
    ("sgd", lambda: keras.optimizers.SGD(0.1)),
    ("sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
    ("sgd_nesterov", lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", lambda: keras.optimizers.RMSprop(0.01)),
    ("rmsprop_centered_momentum",
     lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True)),
    ("adam", lambda: keras.optimizers.Adam(0.01)),
    ("adam_amsgrad", lambda: keras.optimizers.Adam(0.01, amsgrad=True)),
    ("adamw", lambda: keras.optimizers.AdamW(0.01)),
]
# a big variable with a last partial block, a small one (whole-array path), an odd 3-D one
SHAPES = [(300, 517), (7, 5), (3, 100, 180)]


def _run(make, dtype, steps=3):
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    opt = make()
    for k in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) * (k + 1) for s in SHAPES]
        opt.apply_gradients(zip(grads, variables))
    return [np.asarray(v.numpy()) for v in variables] + \
        [np.asarray(v.numpy()) for v in opt.variables]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,make", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("threads", [1, 2])
def test_blocked_update_matches_whole_arrays(monkeypatch, name, make, dtype, threads):
    with monkeypatch.context() as m:
        m.setattr(kernels, "_BLOCK_BYTES", 1 << 40)   # never blocked: the reference
        want = _run(make, dtype)
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 1 << 14)   # many blocks, a partial last one
    monkeypatch.setattr(kernels, "_threads", threads)
    monkeypatch.setattr(kernels, "_busy", lambda: False)
    monkeypatch.setattr(kernels, "_MIN_PARALLEL_BYTES", 0)
    got = _run(make, dtype)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_blockwise_declines_small_and_strided():
    a = np.zeros(10, np.float32)
    assert kernels.blockwise(lambda *x: None, [a, a]) is False
    big = np.zeros((4, 1 << 16), np.float32)
    assert kernels.blockwise(lambda *x: None, [big[:, ::2], big[:, 1::2]]) is False
