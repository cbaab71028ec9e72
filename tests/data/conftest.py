"""Data tests never touch the network: downloads are off and the cache is a temp folder,
unless a test serves files itself on 127.0.0.1."""
import pytest


@pytest.fixture(autouse=True)
def _offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TENFOLD_OFFLINE", "1")
    monkeypatch.setenv("TENFOLD_HOME", str(tmp_path / "tenfold_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # not the user's ~/.keras
    monkeypatch.delenv("TENFOLD_CACHE_DIR", raising=False)
    yield


@pytest.fixture
def both_paths(monkeypatch):
    """Runs a test body once on the index fast path and once element by element."""
    from tenfold.data import _transforms

    def run(fn):
        out = []
        for fast in (True, False):
            monkeypatch.setattr(_transforms, "use_index_plans", fast)
            out.append(fn())
        monkeypatch.setattr(_transforms, "use_index_plans", True)
        return out
    return run
