"""Hostile and damaged model files (issue 14, "Files"): each class of attack is refused at the
layer that can see it, before anything large is allocated, with an error naming the file."""
import io
import json
import os
import struct
import zipfile

import h5py
import numpy as np
import pytest

from tenfold import keras
from tenfold.keras.saving import limits

from tests.saving._helpers import real_keras


def small():
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    m.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    return m


def weights_of(model):
    return [v.numpy().copy() for v in model.weights]


@pytest.fixture
def saved(tmp_path):
    m = small()
    path = str(tmp_path / "m.keras")
    m.save(path)
    return m, path


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


# ------------------------------------------------------------------------------ zip bombs
def _patch_central_size(data, name, file_size):
    """Rewrites the uncompressed size a member's central-directory entry declares."""
    key = name.encode()
    i = data.rfind(b"PK\x01\x02", 0, data.rfind(key))
    out = bytearray(data)
    struct.pack_into("<L", out, i + 24, file_size)
    return bytes(out)


@pytest.mark.parametrize("member", ["config.json", "metadata.json", "model.weights.h5"])
@pytest.mark.parametrize("declared", [(2 << 20) * 300, 1 << 31, (1 << 32) - 1])
def test_declared_size_bomb_refused_before_reading(saved, tmp_path, member, declared):
    _, path = saved
    data = open(path, "rb").read()
    bad = tmp_path / "bomb.keras"
    bad.write_bytes(_patch_central_size(data, member, declared))
    with pytest.raises(ValueError, match="bomb.keras") as e:
        keras.models.load_model(str(bad))
    assert member in str(e.value) or "corrupted" in str(e.value)


@pytest.mark.parametrize("size_mb", [2, 16, 64])
def test_real_deflate_bomb_refused_without_inflating(saved, tmp_path, size_mb):
    """A member that really inflates to `size_mb` MB of zeros (ratio ~1000): refused from its
    header, so peak memory stays far below the inflated size."""
    import tracemalloc
    _, path = saved
    members = _members(path)
    bad = str(tmp_path / "zeros.keras")
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d if n != "config.json" else d + b" " * (size_mb << 20))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="decompression bomb"):
            keras.models.load_model(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < (1 << 20) + 4 * os.path.getsize(bad)


def _overlapping_zip(members):
    """A zip whose central directory points two names at the same local entry."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    data = bio.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
    out = bytearray(data)
    # point the last member's central entry at the first member's local header
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(infos[-1].filename.encode()))
    struct.pack_into("<L", out, cd + 42, infos[0].header_offset)
    return bytes(out)


def test_overlapping_members_refused(saved, tmp_path):
    _, path = saved
    m = _members(path)
    bad = tmp_path / "overlap.keras"
    bad.write_bytes(_overlapping_zip({"config.json": m["config.json"],
                                      "metadata.json": m["metadata.json"],
                                      "model.weights.h5": m["model.weights.h5"]}))
    with pytest.raises(ValueError, match="overlap"):
        keras.models.load_model(str(bad))


def test_duplicate_member_names_refused(saved, tmp_path):
    _, path = saved
    bad = str(tmp_path / "dup.keras")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # zipfile warns about the duplicate name
        with zipfile.ZipFile(bad, "w") as z:
            for n, d in _members(path).items():
                z.writestr(n, d)
            z.writestr("config.json", b"{}")
    with pytest.raises(ValueError, match="appears twice"):
        keras.models.load_model(bad)


def test_member_longer_than_declared_refused(saved, tmp_path):
    """Stored (uncompressed) member whose header understates its size."""
    _, path = saved
    data = open(path, "rb").read()
    bad = tmp_path / "liar.keras"
    with zipfile.ZipFile(path) as z:
        size = z.getinfo("config.json").file_size
    bad.write_bytes(_patch_central_size(data, "config.json", size - 10))
    with pytest.raises(ValueError, match="liar.keras"):
        keras.models.load_model(str(bad))


# ------------------------------------------------------------------------------ HDF5 links
def _keras_with_weights(path, members, weights):
    with zipfile.ZipFile(path, "w") as z:
        for n, d in members.items():
            if n == "metadata.json":
                meta = json.loads(d)
                meta.pop("tenfold_sha256", None)
                d = json.dumps(meta).encode()
            z.writestr(n, weights if n == "model.weights.h5" else d)


def _add_link(f, where, kind, target_file):
    """Replaces the object at `where` (group or dataset) by a soft or external link."""
    parent, _, name = where.rpartition("/")
    grp = f[parent] if parent else f
    if kind == "soft":
        f.copy(grp[name], f, name=f"stash_{abs(hash(where))}")
        del grp[name]
        grp[name] = h5py.SoftLink(f"/stash_{abs(hash(where))}")
    else:
        del grp[name]
        grp[name] = h5py.ExternalLink(target_file, "/" + where)


WEIGHT_SITES = ["layers", "layers/dense", "layers/dense/vars", "layers/dense/vars/0",
                "layers/dense_1/vars/1", "optimizer/vars/0"]


@pytest.mark.parametrize("kind", ["soft", "external"])
@pytest.mark.parametrize("where", WEIGHT_SITES)
@pytest.mark.parametrize("via", ["weights.h5", "keras"])
def test_links_refused_in_weights_files(tmp_path, kind, where, via):
    model = small()
    good = str(tmp_path / "good.weights.h5")
    model.save_weights(good)
    bad = str(tmp_path / "bad.weights.h5")
    with open(good, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read())
    with h5py.File(bad, "r+") as f:
        del f.attrs["tenfold_sha256"]
        _add_link(f, where, kind, good)
    before = weights_of(model)
    label = "SoftLink" if kind == "soft" else "ExternalLink"
    if via == "keras":
        kpath = str(tmp_path / "m.keras")
        model.save(kpath)
        members = _members(kpath)
        _keras_with_weights(kpath, members, open(bad, "rb").read())
        with pytest.raises(ValueError, match=label):
            keras.models.load_model(kpath)
        with pytest.raises(ValueError, match=label):
            model.load_weights(kpath)
    else:
        with pytest.raises(ValueError, match=label):
            model.load_weights(bad)
    for a, b in zip(weights_of(model), before):
        np.testing.assert_array_equal(a, b)


LEGACY_SITES = ["model_weights", "model_weights/dense", "optimizer_weights"]


@pytest.mark.parametrize("kind", ["soft", "external"])
@pytest.mark.parametrize("where", LEGACY_SITES)
def test_links_refused_in_legacy_h5(tmp_path, kind, where):
    model = small()
    good = str(tmp_path / "good.h5")
    with pytest.warns(UserWarning):
        model.save(good)
    bad = str(tmp_path / "bad.h5")
    with open(good, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read())
    with h5py.File(bad, "r+") as f:
        del f.attrs["tenfold_sha256"]
        if where not in f:
            f.create_group(where)
        _add_link(f, where, kind, good)
    label = "SoftLink" if kind == "soft" else "ExternalLink"
    with pytest.raises(ValueError, match=label):
        keras.models.load_model(bad)
    with pytest.raises(ValueError, match=label):
        model.load_weights(bad)


# ------------------------------------------------------------------------------ shape bombs
@pytest.mark.parametrize("layout", ["chunked-empty", "contiguous-empty", "chunked-gzip-empty"])
@pytest.mark.parametrize("shape", [(1 << 20, 64), (60000, 60000), (1 << 40,)])
def test_datasets_declaring_more_than_the_file_holds_are_refused(tmp_path, layout, shape):
    model = small()
    bad = str(tmp_path / "bomb.weights.h5")
    model.save_weights(bad)
    with h5py.File(bad, "r+") as f:
        del f.attrs["tenfold_sha256"]
        del f["layers/dense/vars/0"]
        kw = {"chunks": tuple(min(1024, d) for d in shape)} if layout.startswith("chunked") \
            else {}
        if layout == "chunked-gzip-empty":
            kw["compression"] = "gzip"
        if layout == "contiguous-empty" and np.prod(shape) * 4 > (1 << 40):
            pytest.skip("HDF5 cannot declare a contiguous dataset that large")
        f.create_dataset("layers/dense/vars/0", shape=shape, dtype="float32", **kw)
    with pytest.raises(ValueError, match="bomb.weights.h5.*(declares|stores no data)"):
        model.load_weights(bad)


def test_layout_checked_against_the_model_before_any_read(tmp_path, monkeypatch):
    from tenfold.keras.saving import h5_store
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), keras.layers.Dense(2)])
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    reads = []
    original = h5_store.H5Reader.read
    monkeypatch.setattr(h5_store.H5Reader, "read",
                        lambda self, p: reads.append(p) or original(self, p))
    model = small()
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 5\)|\(4, 5\).*\(4, 3\)"):
        model.load_weights(path)
    assert reads == []


# ------------------------------------------------------------------------------ checksums
def _flip_in_dataset(path, dataset):
    """Flips one bit inside `dataset`'s stored bytes (the file stays valid HDF5)."""
    with h5py.File(path, "r") as f:
        offset = f[dataset].id.get_offset()
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x10
    open(path, "wb").write(bytes(data))


def test_weights_file_flipped_bit_detected(tmp_path):
    model = small()
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    _flip_in_dataset(path, "layers/dense/vars/0")
    before = weights_of(model)
    with pytest.raises(ValueError, match="w.weights.h5.*checksum"):
        model.load_weights(path)
    for a, b in zip(weights_of(model), before):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_flipped_bit_detected(tmp_path):
    model = small()
    path = str(tmp_path / "m.h5")
    with pytest.warns(UserWarning):
        model.save(path)
    with h5py.File(path, "r") as f:
        name = [n for n in f["model_weights/dense"].attrs["weight_names"]][0]
        ds = f["model_weights/dense"][name.decode() if isinstance(name, bytes) else name].name
    _flip_in_dataset(path, ds)
    with pytest.raises(ValueError, match="m.h5.*checksum"):
        keras.models.load_model(path)


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_keras_member_checksums(saved, tmp_path, member):
    """A member replaced by other valid content (its zip CRC right) fails metadata's SHA-256."""
    _, path = saved
    members = _members(path)
    if member == "config.json":
        members[member] = members[member].replace(b'"units": 3', b'"units": 4')
    else:
        other = small()
        other.layers[0].kernel.assign(np.ones((4, 3), "float32"))
        w = str(tmp_path / "o.weights.h5")
        other.save_weights(w)
        members[member] = open(w, "rb").read()
    bad = str(tmp_path / "edited.keras")
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(ValueError, match=f"edited.keras.*{member}.*SHA-256"):
        keras.models.load_model(bad)


def test_files_written_by_keras_have_no_checksum_and_load(tmp_path):
    K = real_keras()
    km = K.Sequential([K.Input((4,)), K.layers.Dense(3), K.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    want = km.predict(x, verbose=0)
    kpath = str(tmp_path / "k.keras")
    wpath = str(tmp_path / "k.weights.h5")
    km.save(kpath)
    km.save_weights(wpath)
    with h5py.File(wpath, "r") as f:
        assert "tenfold_sha256" not in f.attrs
    ours = keras.models.load_model(kpath)
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    fresh = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    fresh.load_weights(wpath)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_keras_reads_tenfold_files_with_checksums(saved, tmp_path):
    K = real_keras()
    model, path = saved
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    theirs = K.saving.load_model(path)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ configs
def test_deeply_nested_config_refused(saved, tmp_path):
    _, path = saved
    members = _members(path)
    for depth in (200, 5000, 200_000):
        text = members["config.json"].decode()
        # a deep list in place of the model's name: valid JSON, hostile depth
        text = text.replace('"name": "sequential"', '"name": ' + "[" * depth + "]" * depth, 1)
        bad = str(tmp_path / f"deep{depth}.keras")
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("config.json", text)
            z.writestr("model.weights.h5", members["model.weights.h5"])
        with pytest.raises(ValueError, match=f"deep{depth}.keras.*nest"):
            keras.models.load_model(bad)


def test_huge_dense_from_a_tiny_file_refused_before_allocating(saved, tmp_path):
    _, path = saved
    members = _members(path)
    cfg = json.loads(members["config.json"])
    cfg["config"]["layers"][0]["config"]["batch_shape"] = [None, 60000]
    cfg["config"]["layers"][1]["config"]["units"] = 60000
    cfg.pop("build_config", None)
    for layer in cfg["config"]["layers"]:
        layer.pop("build_config", None)
    bad = str(tmp_path / "huge.keras")
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("config.json", json.dumps(cfg))
        z.writestr("model.weights.h5", members["model.weights.h5"])
    assert os.path.getsize(bad) < 64 << 10     # asks for 3.6e9 parameters (14 GB)
    with pytest.raises(limits.LoadLimitError, match="huge.keras.*dense.*60000, 60000.*"
                       "set_max_load_parameters"):
        keras.models.load_model(bad)


def test_parameter_limit_applies_to_json_configs_and_can_be_raised():
    model = keras.Sequential([keras.Input((300,)), keras.layers.Dense(300)])
    text = model.to_json()
    keras.saving.set_max_load_parameters(1000)
    try:
        with pytest.raises(limits.LoadLimitError, match="90000"):
            keras.models.model_from_json(text)
        keras.saving.set_max_load_parameters(10**6)
        assert keras.models.model_from_json(text).count_params() == 300 * 301
    finally:
        limits.set_max_load_parameters(None)


def test_parameter_limit_from_environment(monkeypatch):
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(30)])
    monkeypatch.setenv("TENFOLD_MAX_LOAD_PARAMETERS", "100")
    with pytest.raises(limits.LoadLimitError):
        keras.models.model_from_json(model.to_json())
    # building in code is never limited
    keras.Sequential([keras.Input((30,)), keras.layers.Dense(30)])
