"""FFT primitives (`tf.signal`'s public functions are in tenfold/api/signal.py)."""
import numpy as _np

from tenfold.ops.registry import primitive as _primitive

_NO_GRAD = "gradient not implemented yet (TensorFlow has one)"
_c64 = _np.dtype(_np.complex64)
_f32 = _np.dtype(_np.float32)


def _cplx(x):
    return x.astype(_np.complex128 if x.dtype in (_np.float64, _np.complex128) else _c64)


def _real_of(x):
    return _np.float64 if x.dtype in (_np.float64, _np.complex128) else _f32


_fft = _primitive("fft", lambda x: _np.fft.fft(x).astype(_cplx(x).dtype),
                    no_grad=_NO_GRAD)
_ifft = _primitive("ifft", lambda x: _np.fft.ifft(x).astype(_cplx(x).dtype),
                    no_grad=_NO_GRAD)
_fft2d = _primitive("fft2d", lambda x: _np.fft.fft2(x).astype(_cplx(x).dtype),
                    no_grad=_NO_GRAD)
_ifft2d = _primitive("ifft2d", lambda x: _np.fft.ifft2(x).astype(_cplx(x).dtype),
                    no_grad=_NO_GRAD)
_rfft = _primitive("rfft", lambda x, n: _np.fft.rfft(x, n).astype(
    _np.complex128 if x.dtype == _np.float64 else _c64), no_grad=_NO_GRAD)
_irfft = _primitive("irfft", lambda x, n: _np.fft.irfft(x, n).astype(_real_of(x)),
                    no_grad=_NO_GRAD)
