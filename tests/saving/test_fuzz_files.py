"""Damaged files, Hypothesis-driven (bounded): truncating or flipping bytes anywhere in a file
tenfold wrote gives either the saved values back (a byte no reader looks at) or a ValueError
naming the file; never a raw h5py/zipfile/zlib exception, never different weights."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenfold import keras

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))


def _model():
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    m.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    return m


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    m = _model()
    paths = {"keras": str(folder / "m.keras"), "weights": str(folder / "m.weights.h5"),
             "h5": str(folder / "m.h5")}
    m.save(paths["keras"])
    m.save_weights(paths["weights"])
    m.save(paths["h5"])
    want = [v.numpy().copy() for v in m.weights]
    return folder, paths, want


def _load(kind, path):
    if kind == "weights":
        m = _model()
        m.load_weights(path)
        return m
    return keras.models.load_model(path)


def _check(kind, path, want):
    try:
        m = _load(kind, path)
    except ValueError as e:
        assert os.path.basename(path) in str(e), str(e)
        return "refused"
    got = [v.numpy() for v in m.weights]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    return "loaded"


def _damaged(folder, path, data):
    out = os.path.join(folder, "bad_" + os.path.basename(path))
    with open(out, "wb") as f:
        f.write(data)
    return out


@pytest.mark.parametrize("kind", ["keras", "weights", "h5"])
@_SETTINGS
@given(cut=st.floats(0.0, 0.999))
def test_truncated_files(files, kind, cut):
    folder, paths, want = files
    data = open(paths[kind], "rb").read()
    bad = _damaged(str(folder), paths[kind], data[:int(len(data) * cut)])
    assert _check(kind, bad, want) == "refused"


@pytest.mark.parametrize("kind", ["keras", "weights", "h5"])
@_SETTINGS
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.9999), st.integers(1, 255)), min_size=1,
                      max_size=4))
def test_flipped_bytes(files, kind, flips):
    folder, paths, want = files
    data = bytearray(open(paths[kind], "rb").read())
    for where, mask in flips:
        data[int(len(data) * where)] ^= mask
    bad = _damaged(str(folder), paths[kind], bytes(data))
    _check(kind, bad, want)


_CD_FIELDS = [("compress_type", 10, "<H"), ("crc", 16, "<L"), ("compress_size", 20, "<L"),
              ("file_size", 24, "<L"), ("header_offset", 42, "<L")]


@_SETTINGS
@given(member=st.integers(0, 2), field=st.integers(0, len(_CD_FIELDS) - 1),
       value=st.one_of(st.integers(0, 2 ** 32 - 1), st.sampled_from([0, 1, 2 ** 31, 2 ** 32 - 1])))
def test_central_directory_fields_fuzzed(files, member, field, value):
    """Any one field of any member's central-directory entry set to any value: refused by
    name or loaded intact, and the loader never holds much more than the file's size."""
    import struct
    import tracemalloc
    folder, paths, want = files
    data = bytearray(open(paths["keras"], "rb").read())
    entries = []
    i = data.find(b"PK\x01\x02")
    while i >= 0:
        entries.append(i)
        i = data.find(b"PK\x01\x02", i + 4)
    name, offset, fmt = _CD_FIELDS[field]
    if fmt == "<H":
        value &= 0xFFFF
    struct.pack_into(fmt, data, entries[member] + offset, value)
    bad = _damaged(str(folder), paths["keras"], bytes(data))
    tracemalloc.start()
    try:
        _check("keras", bad, want)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, (name, value, peak)
