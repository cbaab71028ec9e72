"""keras.datasets and keras.utils.get_file: the shared files, fake files in Keras's layouts,
and downloads from a local HTTP server (hash check, atomic cache writes, cut-off downloads)."""
import functools
import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest

from tenfold.keras.datasets import mnist, fashion_mnist, cifar10, imdb, synthetic_digits
from tenfold.keras.utils import file_utils
from tenfold.keras.utils.file_utils import get_file, DownloadError


# --- the files in ../shared/datasets -----------------------------------------------------

def test_mnist_from_shared(shared_dir, monkeypatch):
    monkeypatch.setenv("TENFOLD_DATASETS", str(shared_dir / "datasets"))
    (x, y), (xt, yt) = mnist.load_data()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert x.dtype == y.dtype == np.uint8
    with np.load(shared_dir / "datasets" / "mnist.npz") as f:
        np.testing.assert_array_equal(x, f["x_train"])
        np.testing.assert_array_equal(yt, f["y_test"])
    assert set(np.unique(y)) == set(range(10))
    data, source = mnist.load_data_or_synthetic()
    assert source == "mnist" and data[0][0].shape == (60000, 28, 28)


def test_fashion_mnist_from_shared(shared_dir, monkeypatch):
    monkeypatch.setenv("TENFOLD_DATASETS", str(shared_dir / "datasets"))
    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    assert set(np.unique(yt)) == set(range(10))


# --- missing / damaged files -----------------------------------------------------------

def test_missing_file_says_what_and_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TENFOLD_DATASETS", str(tmp_path / "empty"))
    small = functools.partial(synthetic_digits.load_data, num_train=600, num_test=100)
    monkeypatch.setattr(synthetic_digits, "load_data", small)
    # load_data() falls back to the generated digits, saying so and where mnist.npz goes
    with pytest.warns(UserWarning, match="MNIST is not available.*generated.*~/.keras/datasets"):
        (x, y), (xt, yt) = mnist.load_data()
    assert x.shape == (600, 28, 28) and x.dtype == np.uint8 and yt.shape == (100,)
    with pytest.raises(DownloadError) as info:
        mnist._locate()
    msg = str(info.value)
    assert "mnist.npz" in msg and "TENFOLD_DATASETS" in msg
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in msg
    assert os.path.join(str(tmp_path / "tenfold_home"), "datasets", "mnist.npz") in msg
    data, source = mnist.load_data_or_synthetic()
    assert source == "synthetic_digits"
    assert "generated digits" in capsys.readouterr().out
    (x, y), (xt, yt) = data
    assert x.shape == (600, 28, 28) and x.dtype == np.uint8 and yt.shape == (100,)


def test_corrupt_local_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    monkeypatch.setenv("TENFOLD_DATASETS", str(tmp_path))
    with pytest.raises(ValueError, match="mnist.npz.*corrupted or truncated"):
        mnist.load_data()
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros(3))
    with pytest.raises(ValueError, match="no y_train"):
        mnist.load_data()


# --- fake files in Keras's layouts ---------------------------------------------------------

def _idx(arr, magic):
    head = magic.to_bytes(4, "big") + len(arr).to_bytes(4, "big")
    if arr.ndim == 3:
        head += (28).to_bytes(4, "big") * 2
    return gzip.compress(head + arr.tobytes())


def test_fashion_mnist_idx_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    parts = {}
    for split, n in (("train", 7), ("t10k", 3)):
        parts[split] = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                        rng.integers(0, 10, n, dtype=np.uint8))
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(_idx(parts[split][0], 2051))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(_idx(parts[split][1], 2049))
    monkeypatch.setenv("TENFOLD_DATASETS", str(tmp_path))
    (x, y), (xt, yt) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x, parts["train"][0])
    np.testing.assert_array_equal(yt, parts["t10k"][1])
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(_idx(parts["t10k"][1], 1234))
    with pytest.raises(ValueError, match="t10k-labels.*magic number"):
        fashion_mnist.load_data()


def _cifar_batch(images, labels):
    return pickle.dumps({b"batch_label": b"x", b"labels": list(map(int, labels)),
                         b"data": images.reshape(len(images), -1)}, protocol=2)


def test_cifar10_archive_and_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    batches = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            imgs = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
            labs = rng.integers(0, 10, 4)
            batches[name] = (imgs, labs)
            data = _cifar_batch(imgs, labs)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(buf.getvalue())
    monkeypatch.setenv("TENFOLD_DATASETS", str(tmp_path))
    (x, y), (xt, yt) = cifar10.load_data()
    assert x.shape == (20, 32, 32, 3) and y.shape == (20, 1) and xt.shape == (4, 32, 32, 3)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    np.testing.assert_array_equal(x[4:8], batches["data_batch_2"][0].transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(yt[:, 0], batches["test_batch"][1])
    # an extracted folder works the same
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz") as tar:
        tar.extractall(tmp_path)
    (tmp_path / "cifar-10-python.tar.gz").unlink()
    (x2, _), _ = cifar10.load_data()
    np.testing.assert_array_equal(x2, x)
    # a pickle that tries to run code is refused
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(
        b"cos\nsystem\n(S'echo hacked'\ntR.")
    with pytest.raises(ValueError, match="test_batch.*refusing"):
        cifar10.load_data()


def _reference_imdb(xs_train, ys_train, xs_test, ys_test, num_words=None, skip_top=0,
                    maxlen=None, seed=113, start_char=1, oov_char=2, index_from=3):
    """Keras's documented procedure, written out independently."""
    def shuffled(xs, ys, rng):
        idx = np.arange(len(xs))
        rng.shuffle(idx)
        return [list(xs[i]) for i in idx], [ys[i] for i in idx]
    rng = np.random.RandomState(seed)
    a, la = shuffled(xs_train, ys_train, rng)
    b, lb = shuffled(xs_test, ys_test, rng)

    def prep(seqs, labs):
        seqs = [([start_char] if start_char is not None else []) + [w + index_from for w in s]
                for s in seqs]
        if maxlen:
            keep = [i for i, s in enumerate(seqs) if len(s) < maxlen]
            seqs, labs = [seqs[i] for i in keep], [labs[i] for i in keep]
        return seqs, labs
    a, la = prep(a, la)
    b, lb = prep(b, lb)
    top = num_words or max(max(s) for s in a + b)

    def cut(s):
        if oov_char is not None:
            return [w if skip_top <= w < top else oov_char for w in s]
        return [w for w in s if skip_top <= w < top]
    return [cut(s) for s in a], la, [cut(s) for s in b], lb


def test_imdb_npz_with_keras_options(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    xs = [list(rng.integers(1, 40, rng.integers(3, 12))) for _ in range(30)]
    obj = np.empty(30, dtype=object)
    obj[:] = xs
    ys = rng.integers(0, 2, 30).astype(np.int64)
    np.savez(tmp_path / "imdb.npz", x_train=obj[:20], y_train=ys[:20], x_test=obj[20:],
             y_test=ys[20:])
    (tmp_path / "imdb_word_index.json").write_text(json.dumps({"the": 1, "movie": 2}))
    monkeypatch.setenv("TENFOLD_DATASETS", str(tmp_path))
    for kwargs in ({}, {"num_words": 20, "skip_top": 5}, {"maxlen": 10, "oov_char": None},
                   {"start_char": None, "index_from": 0, "seed": 1}):
        (x, y), (xt, yt) = imdb.load_data(**kwargs)
        ra, la, rb, lb = _reference_imdb(obj[:20], ys[:20], obj[20:], ys[20:], **kwargs)
        assert x.dtype == object and y.dtype == np.int64
        assert [list(s) for s in x] == ra and y.tolist() == la
        assert [list(s) for s in xt] == rb and yt.tolist() == lb
    assert imdb.get_word_index() == {"the": 1, "movie": 2}
    with pytest.raises(TypeError, match="unrecognized"):
        imdb.load_data(bogus=1)


def test_synthetic_digits_interface_and_determinism():
    (x, y), (xt, yt) = synthetic_digits.load_data(num_train=2000, num_test=500, seed=3)
    assert x.shape == (2000, 28, 28) and xt.shape == (500, 28, 28)
    assert x.dtype == y.dtype == np.uint8 and y.max() <= 9
    assert set(np.unique(y)) == set(range(10))
    (x2, y2), (xt2, _) = synthetic_digits.load_data(num_train=1200, num_test=500, seed=3)
    np.testing.assert_array_equal(x2, x[:1200])   # a prefix of the larger set
    np.testing.assert_array_equal(xt2, xt)        # test split independent of num_train
    (x3, _), _ = synthetic_digits.load_data(num_train=100, num_test=10, seed=4)
    assert not np.array_equal(x3, x[:100])
    assert x.max() > 200 and (x == 0).mean() > 0.5  # ink on a black background, as MNIST


# --- get_file and downloads ----------------------------------------------------------------

class _Server:
    """A local HTTP server on 127.0.0.1 serving `files`; '/cut/...' paths announce the full
    length but send only half, then close (a download cut off midway)."""

    def __init__(self, files):
        self.files = files
        self.hits = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                cut = self.path.startswith("/cut/")
                name = self.path[5:] if cut else self.path[1:]
                if name not in server.files:
                    self.send_error(404, "Not Found")
                    return
                body = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if cut else body)
                if cut:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.delenv("TENFOLD_OFFLINE", raising=False)
    rng = np.random.default_rng(5)
    blob = rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:gz") as tar:
        for name, data in (("pkg/a.txt", b"alpha"), ("pkg/sub/b.txt", b"beta")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    s = _Server({"blob.bin": blob, "data.tar.gz": tar_buf.getvalue()})
    s.blob = blob
    yield s
    s.close()


def _leftovers(folder):
    return [p for p in os.listdir(folder) if p.endswith(".part") or p.startswith(".")]


def test_get_file_downloads_once_and_checks_sha256(server, tmp_path):
    sha = hashlib.sha256(server.blob).hexdigest()
    path = get_file("blob.bin", server.url + "blob.bin", file_hash=sha, cache_dir=tmp_path)
    assert path == os.path.join(str(tmp_path), "datasets", "blob.bin")
    assert open(path, "rb").read() == server.blob
    again = get_file("blob.bin", server.url + "blob.bin", file_hash=sha, cache_dir=tmp_path)
    assert again == path and server.hits == ["/blob.bin"]
    # no fname: taken from the URL; md5_hash (Keras's older argument) works too
    md5 = hashlib.md5(server.blob).hexdigest()
    p2 = get_file(origin=server.url + "blob.bin", md5_hash=md5, cache_subdir="other",
                  cache_dir=tmp_path)
    assert p2 == os.path.join(str(tmp_path), "other", "blob.bin")
    # a cached file whose hash no longer matches is fetched again
    with open(path, "wb") as f:
        f.write(b"stale")
    get_file("blob.bin", server.url + "blob.bin", file_hash=sha, cache_dir=tmp_path)
    assert open(path, "rb").read() == server.blob


def test_hash_mismatch_keeps_nothing(server, tmp_path):
    with pytest.raises(ValueError, match="hash.*expected 0{64}"):
        get_file("blob.bin", server.url + "blob.bin", file_hash="0" * 64, cache_dir=tmp_path)
    folder = tmp_path / "datasets"
    assert not (folder / "blob.bin").exists() and _leftovers(folder) == []


def test_cut_off_download_keeps_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="cut off"):
        get_file("blob.bin", server.url + "cut/blob.bin", cache_dir=tmp_path)
    folder = tmp_path / "datasets"
    assert os.listdir(folder) == []
    with pytest.raises(DownloadError, match="404"):
        get_file("nothing.bin", server.url + "nothing.bin", cache_dir=tmp_path)
    assert os.listdir(folder) == []


def test_environment_folders_and_offline(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(tmp_path / "root"))
    p = get_file("blob.bin", server.url + "blob.bin")
    assert p == os.path.join(str(tmp_path / "root"), "datasets", "blob.bin")
    monkeypatch.setenv("TENFOLD_OFFLINE", "1")
    hits = len(server.hits)
    with pytest.raises(DownloadError, match="TENFOLD_OFFLINE"):
        get_file("new.bin", server.url + "blob.bin")
    assert len(server.hits) == hits
    with pytest.raises(ValueError, match="not a path"):
        get_file("a/b.bin", server.url + "blob.bin")


def test_extract_archive(server, tmp_path):
    folder = get_file("data", server.url + "data.tar.gz", extract=True, cache_dir=tmp_path)
    assert folder == os.path.join(str(tmp_path), "datasets", "data")
    assert open(os.path.join(folder, "pkg", "sub", "b.txt"), "rb").read() == b"beta"
    named = get_file("data.tar.gz", server.url + "data.tar.gz", extract=True,
                     cache_dir=tmp_path)
    assert named.endswith("data_extracted")
    assert os.path.exists(os.path.join(named, "pkg", "a.txt"))
    assert file_utils.validate_file(os.path.join(named, "pkg", "a.txt"),
                                    hashlib.sha256(b"alpha").hexdigest())


def test_mnist_downloads_through_the_cache(server, tmp_path, monkeypatch):
    buf = io.BytesIO()
    arrays = {"x_train": np.ones((5, 28, 28), np.uint8), "y_train": np.arange(5, dtype=np.uint8),
              "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.arange(2, dtype=np.uint8)}
    np.savez(buf, **arrays)
    server.files["mnist.npz"] = buf.getvalue()
    monkeypatch.delenv("TENFOLD_DATASETS", raising=False)
    monkeypatch.setattr(mnist, "_ORIGIN", server.url + "mnist.npz")
    monkeypatch.setattr(mnist, "_SHA256", hashlib.sha256(buf.getvalue()).hexdigest())
    (x, y), (xt, yt) = mnist.load_data()
    np.testing.assert_array_equal(y, arrays["y_train"])
    mnist.load_data()
    assert server.hits.count("/mnist.npz") == 1
    cached = tmp_path / "tenfold_home" / "datasets" / "mnist.npz"
    assert cached.read_bytes() == buf.getvalue()
    # a wrong published hash: the download is refused and nothing is cached
    cached.unlink()
    monkeypatch.setattr(mnist, "_SHA256", "f" * 64)
    with pytest.raises(ValueError, match="hash"):
        mnist.load_data()
    assert not cached.exists()


def test_split_dataset():
    from tenfold.keras.utils.dataset_utils import split_dataset
    import tenfold as tf
    data = np.arange(40).reshape(20, 2)
    left, right = split_dataset(data, left_size=0.8)
    assert int(left.cardinality()) == 16 and int(right.cardinality()) == 4
    np.testing.assert_array_equal(np.stack(list(right.as_numpy_iterator())), data[16:])
    ds = tf.data.Dataset.from_tensor_slices((data, np.arange(20))).batch(3)
    a, b = split_dataset(ds, right_size=5, shuffle=True, seed=1)
    xa = np.concatenate([x for x, _ in a.as_numpy_iterator()])
    xb = np.concatenate([x for x, _ in b.as_numpy_iterator()])
    assert len(xa) == 15 and len(xb) == 5
    assert sorted(np.concatenate([xa, xb])[:, 0].tolist()) == list(range(0, 40, 2))
    with pytest.raises(ValueError, match="At least one"):
        split_dataset(data)


def test_public_names():
    import tenfold as tf
    from tenfold.keras.utils import image_dataset
    assert tf.keras.utils.get_file is get_file
    assert tf.keras.utils.image_dataset_from_directory is \
        image_dataset.image_dataset_from_directory
    assert tf.keras.datasets.mnist.load_data is mnist.load_data
    assert callable(tf.keras.datasets.mnist.load_data_or_synthetic)
    assert tf.data.Dataset is tf.data.DatasetV2
