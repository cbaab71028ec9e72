"""`tf.signal` (minimal): FFTs, window functions and framing."""
import numpy as _np

from tenfold.framework import dtypes as _dtypes
from tenfold.framework.tensor import Tensor as _Tensor
from tenfold.ops._convert import tensor as _tensor
from tenfold.ops import array_ops as _a
from tenfold.ops import _checks
from tenfold.util.tensor_meta import npd as _npd
from tenfold.framework.errors import InvalidArgumentError as _IAE

from tenfold.ops.signal_ops import _fft, _ifft, _fft2d, _ifft2d, _rfft, _irfft  # noqa: E402

def fft(input, name=None):
    return _fft(_tensor(input))


def ifft(input, name=None):
    return _ifft(_tensor(input))


def fft2d(input, name=None):
    return _fft2d(_tensor(input))


def ifft2d(input, name=None):
    return _ifft2d(_tensor(input))


def _fft_length(fft_length, x, op):
    v = _checks.int_list(fft_length, op, "fft_length")
    if len(v) != 1 or v[0] < 1:
        raise _IAE(f"{op}: fft_length must be one positive integer, got {list(v)}")
    if x.ndim == 0:
        raise _IAE(f"{op}: input must have rank >= 1, got a scalar")
    _checks.check_alloc(op, tuple(x.shape[:-1]) + (v[0],), _np.complex128)
    return v[0]


def rfft(input_tensor, fft_length=None, name=None):
    x = _tensor(input_tensor)
    n = None if fft_length is None else _fft_length(fft_length, x, "signal.rfft")
    return _rfft(x, n=n)


def irfft(input_tensor, fft_length=None, name=None):
    x = _tensor(input_tensor)
    n = None if fft_length is None else _fft_length(fft_length, x, "signal.irfft")
    return _irfft(x, n=n)


def _window(values):
    def make(window_length, periodic=True, dtype=_dtypes.float32, name=None):
        n = _checks.non_negative_int(window_length, "signal window", "window_length")
        _checks.check_alloc("signal window", (n,), _np.float64)
        if n == 1:
            return _Tensor._wrap(_np.ones(1, _dtypes.as_dtype(dtype)._np))
        denom = n if periodic else n - 1
        k = _np.arange(n)
        return _Tensor._wrap(values(k, denom).astype(_dtypes.as_dtype(dtype)._np))
    return make


hann_window = _window(lambda k, d: 0.5 - 0.5 * _np.cos(2 * _np.pi * k / d))
hamming_window = _window(lambda k, d: 0.54 - 0.46 * _np.cos(2 * _np.pi * k / d))


def frame(signal, frame_length, frame_step, pad_end=False, pad_value=0, axis=-1, name=None):
    """Overlapping frames of length frame_length every frame_step samples along axis."""
    x = _tensor(signal)
    if x.ndim == 0:
        raise _IAE("signal.frame: signal must have rank >= 1, got a scalar")
    ax = _checks.axis(axis, x.ndim, "signal.frame")
    n = x.shape[ax]
    fl = _checks.positive_int(frame_length, "signal.frame", "frame_length")
    fs = _checks.positive_int(frame_step, "signal.frame", "frame_step")
    _checks.check_alloc("signal.frame", tuple(x.shape[:ax]) + (-(-n // fs) + 1, fl) +
                        tuple(x.shape[ax + 1:]), _npd(x))
    if pad_end:
        num = -(-n // fs) if n else 0
        need = max((num - 1) * fs + fl - n, 0)
        pads = [[0, 0]] * x.ndim
        pads[ax] = [0, need]
        x = _a.pad(x, pads, constant_values=pad_value)
    else:
        num = max((n - fl) // fs + 1, 0)
    _checks.check_alloc("signal.frame", (max(num, 1), fl), _np.int64, "the frame index table")
    idx = (_np.arange(num)[:, None] * fs + _np.arange(fl)[None, :]).astype(_np.int64) \
        if num else _np.zeros((0, fl), _np.int64)
    return _a.gather(x, _Tensor._wrap(idx), axis=ax)
