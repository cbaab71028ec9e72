"""The native kernel loader (tenfold/backend/native): builds a C file on first use, caches it
privately, reuses the cache, rebuilds a damaged one, refuses folders others can write, and
falls back (None, with the reason in info()) without a compiler or with TENFOLD_NATIVE=0."""
import ctypes
import os
import stat

import numpy as np
import pytest

from tenfold.backend import native

SRC = r"""
#include "tf_native.h"
TF_EXPORT void scale_f32(float *x, int64_t n, double s) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(x[i] * s);
}
"""

needs_cc = pytest.mark.skipif(native._compiler() is None, reason="no C compiler here")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(tmp_path / "cache"))
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = src_dir / "probe.c"
    src.write_text(SRC)
    header = os.path.join(native._HERE, "tf_native.h")
    (src_dir / "tf_native.h").write_text(open(header).read())
    return tmp_path / "cache" / "native", str(src), [str(src), str(src_dir / "tf_native.h")]


def _built(folder):
    return sorted(p for p in os.listdir(folder) if p.startswith("probe-"))


@needs_cc
def test_builds_caches_and_runs(cache):
    folder, src, deps = cache
    lib = native._build_and_load(src, deps)
    fn = lib.scale_f32
    fn.argtypes = [ctypes.c_void_p, native.i64, native.f64]
    x = np.arange(5, dtype=np.float32)
    fn(native.ptr(x), x.size, 2.0)
    np.testing.assert_array_equal(x, np.arange(5, dtype=np.float32) * 2)
    files = _built(folder)
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    mtime = os.stat(folder / files[0]).st_mtime_ns
    native._build_and_load(src, deps)  # the cached build is reused, not rebuilt
    assert os.stat(folder / files[0]).st_mtime_ns == mtime
    assert not [p for p in os.listdir(folder) if p.startswith(".build-")]


@needs_cc
def test_changed_source_builds_anew(cache):
    folder, src, deps = cache
    native._build_and_load(src, deps)
    with open(src, "a") as f:
        f.write("\nTF_EXPORT int answer(void) { return 42; }\n")
    lib = native._build_and_load(src, deps)
    assert lib.answer() == 42
    assert len(_built(folder)) == 2


@needs_cc
def test_damaged_cache_file_is_rebuilt(cache, tmp_path, monkeypatch):
    folder, src, deps = cache
    native._build_and_load(src, deps)
    name = _built(folder)[0]
    # a second cache holding a damaged file of that name (never the loaded file itself:
    # overwriting a mapped library would crash this process)
    other = tmp_path / "other"
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(other))
    (other / "native").mkdir(parents=True, mode=0o700)
    (other / "native" / name).write_bytes(b"\x7fELF truncated")
    os.chmod(other / "native" / name, 0o700)
    lib = native._build_and_load(src, deps)
    assert hasattr(lib, "scale_f32")
    assert (other / "native" / name).stat().st_size > 100


@needs_cc
def test_refuses_a_cache_folder_others_can_write(cache):
    folder, src, deps = cache
    native._build_and_load(src, deps)
    os.chmod(folder, 0o777)
    try:
        with pytest.raises(native._NativeUnavailable, match="can be written by other users"):
            native._build_and_load(src, deps)
    finally:
        os.chmod(folder, 0o700)


@needs_cc
def test_a_compile_error_is_reported_with_the_compiler_message(cache):
    folder, src, deps = cache
    with open(src, "w") as f:
        f.write("this is not C;\n")
    with pytest.raises(native._NativeUnavailable, match="probe.c") as e:
        native._build_and_load(src, deps)
    assert "error" in str(e.value)
    assert not [p for p in os.listdir(folder) if p.startswith(".build-")]


def test_no_compiler_means_none_and_a_reason(monkeypatch, tmp_path):
    monkeypatch.delenv("TENFOLD_NATIVE", raising=False)
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_compiler", lambda: None)
    monkeypatch.setattr(native, "_libs", {})
    monkeypatch.setattr(native, "_why", {})
    assert native.load("optimizers") is None
    assert "no C compiler" in native.info()["optimizers"]


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert not native.enabled()
    assert native.load("optimizers") is None


def test_unknown_family_is_none(monkeypatch, tmp_path):
    monkeypatch.delenv("TENFOLD_NATIVE", raising=False)
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_libs", {})
    monkeypatch.setattr(native, "_why", {})
    assert native.load("no_such_family") is None
    assert "no source" in native.info()["no_such_family"]


def test_usable_checks_layout_and_dtype():
    a = np.zeros((4, 4), np.float32)
    assert native.usable(a, a)
    assert not native.usable(a, a.astype(np.float64))
    assert not native.usable(a[:, ::2])
    assert not native.usable(a.astype(np.int32))
    assert native.suffix(np.float64) == "f64"


def _families():
    return sorted(f[:-2] for f in os.listdir(native._HERE) if f.endswith(".c"))


@needs_cc
@pytest.mark.parametrize("family", _families())
def test_every_family_builds_here(family):
    """Where a compiler exists every family must build: a failed build would otherwise only
    send the kernels to their NumPy twins and skip the native tests without a word."""
    if not native.enabled():
        pytest.skip("TENFOLD_NATIVE=0")
    assert native.load(family) is not None, native.info()[family]


def test_line_aligned_copies_only_what_is_not_on_a_cache_line():
    raw = np.arange(200, dtype=np.float32)
    for start in range(16):   # every 4-byte offset within a line, and a transposed view
        a = raw[start:start + 96].reshape(8, 12)
        for view in (a, a.T):
            got = native.line_aligned(view)
            assert native.addr(got) % native.CACHE_LINE == 0 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, view)
            if view.flags.c_contiguous and native.addr(view) % native.CACHE_LINE == 0:
                assert got is view
