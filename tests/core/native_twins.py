"""The NumPy twin of a native kernel, for the native-kernel tests to compare against."""


def numpy_twin(monkeypatch, fn, *args, **kw):
    """fn(*args, **kw) with the native kernels off (TENFOLD_NATIVE=0) for the call only."""
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        return fn(*args, **kw)
