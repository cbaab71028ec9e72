"""The TensorFlow-Serving-compatible REST server, driven by a real HTTP client on 127.0.0.1.

Every server listens on an ephemeral port, stops by itself after a minute at most
(`stop_after`), and is stopped at the end of its test."""
import concurrent.futures
import http.client
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

from tenfold import keras
from tenfold import serving

L = keras.layers
TIMEOUT = 20


def _request(url, body=None, method=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method or ("GET" if data is None
                                                                    else "POST"))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def start():
    servers = []

    def _start(model, name="model", version=1, **kw):
        srv = serving.serve(model, name, host="127.0.0.1", port=0, version=version,
                            block=False, stop_after=60, **kw)
        servers.append(srv)
        return srv
    yield _start
    for s in servers:
        s.stop()
    assert all(not s.running for s in servers)


@pytest.fixture
def mlp():
    inp = keras.Input((4,), name="x")
    out = L.Dense(3, activation="softmax", name="probs")(L.Dense(8, activation="relu")(inp))
    return keras.Model(inp, out)


@pytest.fixture
def two_by_two():
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    h = L.Concatenate()([L.Dense(4, activation="tanh")(a), b])
    return keras.Model([a, b], [L.Dense(2, name="y1")(h), L.Dense(1, name="y2")(h)])


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ---------------------------------------------------------------------------- status/metadata
def test_status_and_versions(start, mlp):
    srv = start(mlp, "clf", version=7)
    status, body = _request(f"{srv.url}/v1/models/clf")
    assert status == 200
    assert body == {"model_version_status": [{"version": "7", "state": "AVAILABLE", "status": {
        "error_code": "OK", "error_message": ""}}]}
    assert _request(f"{srv.url}/v1/models/clf/versions/7")[0] == 200
    status, body = _request(f"{srv.url}/v1/models/clf/versions/8")
    assert status == 404 and "clf" in body["error"] and "8" in body["error"]
    status, body = _request(f"{srv.url}/v1/models/other")
    assert status == 404 and "other" in body["error"]


def test_metadata_signature(start, two_by_two):
    srv = start(two_by_two, "m")
    status, body = _request(f"{srv.url}/v1/models/m/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "m", "signature_name": "", "version": "1"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert set(sig["inputs"]) == {"a", "b"} and set(sig["outputs"]) == {"y1", "y2"}
    a = sig["inputs"]["a"]
    assert a["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in a["tensor_shape"]["dim"]] == ["-1", "3"]
    assert [d["size"] for d in sig["outputs"]["y2"]["tensor_shape"]["dim"]] == ["-1", "1"]
    assert _request(f"{srv.url}/v1/models/m/versions/1/metadata")[0] == 200


# ---------------------------------------------------------------------------- predict
def test_predict_row_and_columnar(start, mlp):
    srv = start(mlp)
    x = _x((5, 4))
    ref = mlp.predict(x, verbose=0)
    status, body = _request(f"{srv.url}/v1/models/model:predict", {"instances": x.tolist()})
    assert status == 200 and set(body) == {"predictions"}
    np.testing.assert_allclose(np.array(body["predictions"]), ref, rtol=1e-6, atol=1e-7)
    status, body = _request(f"{srv.url}/v1/models/model/versions/1:predict",
                            {"signature_name": "serving_default", "inputs": x.tolist()})
    assert status == 200 and set(body) == {"outputs"}
    np.testing.assert_allclose(np.array(body["outputs"]), ref, rtol=1e-6, atol=1e-7)
    status, body = _request(f"{srv.url}/v1/models/model:predict", {"inputs": {"x": x.tolist()}})
    assert status == 200
    np.testing.assert_allclose(np.array(body["outputs"]), ref, rtol=1e-6, atol=1e-7)
    status, body = _request(f"{srv.url}/v1/models/model:predict",
                            {"instances": [{"x": row} for row in x.tolist()]})
    assert status == 200
    np.testing.assert_allclose(np.array(body["predictions"]), ref, rtol=1e-6, atol=1e-7)


def test_predict_named_multi_input_multi_output(start, two_by_two):
    srv = start(two_by_two, "m")
    a, b = _x((3, 3), 1), _x((3, 2), 2)
    y1, y2 = two_by_two.predict([a, b], verbose=0)
    instances = [{"a": ra, "b": rb} for ra, rb in zip(a.tolist(), b.tolist())]
    status, body = _request(f"{srv.url}/v1/models/m:predict", {"instances": instances})
    assert status == 200
    preds = body["predictions"]
    assert len(preds) == 3 and set(preds[0]) == {"y1", "y2"}
    np.testing.assert_allclose(np.array([p["y1"] for p in preds]), y1, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array([p["y2"] for p in preds]), y2, rtol=1e-6, atol=1e-7)
    status, body = _request(f"{srv.url}/v1/models/m:predict",
                            {"inputs": {"a": a.tolist(), "b": b.tolist()}})
    assert status == 200 and set(body["outputs"]) == {"y1", "y2"}
    np.testing.assert_allclose(np.array(body["outputs"]["y1"]), y1, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(body["outputs"]["y2"]), y2, rtol=1e-6, atol=1e-7)


def test_integer_inputs(start):
    ids = keras.Input((5,), dtype="int32", name="ids")
    model = keras.Model(ids, L.Dense(2)(L.GlobalAveragePooling1D()(L.Embedding(10, 4)(ids))))
    srv = start(model, "emb")
    _, meta = _request(f"{srv.url}/v1/models/emb/metadata")
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["ids"]["dtype"] == "DT_INT32"
    x = np.array([[1, 2, 3, 4, 5], [0, 0, 9, 9, 1]], dtype="int32")
    status, body = _request(f"{srv.url}/v1/models/emb:predict", {"instances": x.tolist()})
    assert status == 200
    np.testing.assert_allclose(np.array(body["predictions"]), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    status, body = _request(f"{srv.url}/v1/models/emb:predict", {"instances": [[1, 2, 3, 4, 99]]})
    assert status == 400 and "99" in body["error"]


def test_concurrent_requests(start, mlp):
    srv = start(mlp)
    xs = [_x((n, 4), n) for n in range(1, 9)]

    def call(x):
        return _request(f"{srv.url}/v1/models/model:predict", {"instances": x.tolist()})
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, xs))
    ref = mlp.predict(np.concatenate(xs), verbose=0)
    refs = np.split(ref, np.cumsum([len(x) for x in xs])[:-1])
    for r, (status, body) in zip(refs, results):
        assert status == 200
        np.testing.assert_allclose(np.array(body["predictions"]), r, rtol=1e-6, atol=1e-7)


def test_keep_alive_connection(start, mlp):
    srv = start(mlp)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        for _ in range(3):
            conn.request("POST", "/v1/models/model:predict",
                         body=json.dumps({"instances": [[0, 1, 2, 3]]}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200 and r.getheader("Content-Type") == "application/json"
            assert len(json.loads(r.read())["predictions"]) == 1
    finally:
        conn.close()


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("raw,fragment", [
    (b"{not json", "JSON Parse error"),
    (b"[1, 2]", "Is not object"),
    (b'{"instances": [[1, 2, 3]]}', "shape"),
    (b'{"instances": [[1, 2, 3, 4], [1, 2]]}', "rectangular"),
    (b'{"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}', "Not both"),
    (b'{"signature_name": "serving_default"}', "Missing 'inputs' or 'instances'"),
    (b'{"signature_name": "nope", "instances": [[1, 2, 3, 4]]}', '"nope" not found'),
    (b'{"inputs": {"y": [[1, 2, 3, 4]]}}', "unknown ['y']"),
    (b'{"instances": []}', "empty"),
    (b'{"instances": [["a", "b", "c", "d"]]}', "float32"),
    (b'{"instances": [{"b64": "aGk="}]}', "b64"),
])
def test_bad_requests_are_400(start, mlp, raw, fragment):
    srv = start(mlp)
    status, body = _request(f"{srv.url}/v1/models/model:predict", raw=raw)
    assert status == 400, body
    assert set(body) == {"error"} and fragment in body["error"], body


def test_unknown_routes_and_verbs(start, mlp):
    srv = start(mlp)
    status, body = _request(f"{srv.url}/v1/models/model:explain", {"instances": [[1] * 4]})
    assert status == 404 and "Malformed request" in body["error"]
    status, body = _request(f"{srv.url}/v2/whatever")
    assert status == 404 and "error" in body
    status, body = _request(f"{srv.url}/v1/models/model:classify", {"examples": []})
    assert status == 400 and "predict" in body["error"]
    status, body = _request(f"{srv.url}/v1/models/model:predict")  # GET on predict
    assert status == 404
    status, body = _request(f"{srv.url}/v1/models/missing:predict", {"instances": [[1] * 4]})
    assert status == 404 and body["error"] == "Servable not found for request: Latest(missing)"


def test_multi_input_needs_names(start, two_by_two):
    srv = start(two_by_two, "m")
    status, body = _request(f"{srv.url}/v1/models/m:predict", {"instances": [[1, 2, 3]]})
    assert status == 400 and "'a'" in body["error"] and "'b'" in body["error"]
    status, body = _request(f"{srv.url}/v1/models/m:predict",
                            {"instances": [{"a": [1, 2, 3]}]})
    assert status == 400 and "missing ['b']" in body["error"]


def test_body_size_limit(start, mlp):
    srv = start(mlp, max_body_bytes=100)
    status, body = _request(f"{srv.url}/v1/models/model:predict",
                            {"instances": [[1.0, 2.0, 3.0, 4.0]] * 20})
    assert status == 413 and "limit" in body["error"]


# ---------------------------------------------------------------------------- loading from files
def test_serve_keras_file_and_tf_serving_layout(start, mlp, tmp_path):
    path = tmp_path / "mlp.keras"
    mlp.save(path)
    x = _x((2, 4))
    ref = mlp.predict(x, verbose=0)
    srv = start(str(path), "fromfile")
    status, body = _request(f"{srv.url}/v1/models/fromfile:predict", {"instances": x.tolist()})
    assert status == 200
    np.testing.assert_allclose(np.array(body["predictions"]), ref, rtol=1e-6, atol=1e-7)

    base = tmp_path / "base"
    for v in (1, 3):
        (base / str(v)).mkdir(parents=True)
        mlp.save(base / str(v) / "model.keras")
    srv = start(base, "layout")
    _, body = _request(f"{srv.url}/v1/models/layout")
    assert body["model_version_status"][0]["version"] == "3"
    status, body = _request(f"{srv.url}/v1/models/layout/versions/3:predict",
                            {"inputs": x.tolist()})
    assert status == 200
    np.testing.assert_allclose(np.array(body["outputs"]), ref, rtol=1e-6, atol=1e-7)


def test_missing_model_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        serving.serve(tmp_path / "nope.keras", port=0, block=False)
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="SavedModel"):
        serving.serve(tmp_path / "sm", port=0, block=False)


def test_stop_after_stops_by_itself(mlp):
    srv = serving.serve(mlp, port=0, block=False, stop_after=0.3)
    assert srv.wait(timeout=10)
    assert not srv.running


def test_command_line(mlp, tmp_path):
    path = tmp_path / "cli.keras"
    mlp.save(path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenfold.serving", "--model", str(path), "--model_name", "cli",
         "--port", "0", "--stop_after", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/v1/models/cli", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = f"http://127.0.0.1:{m.group(1)}"
        status, body = _request(f"{url}/v1/models/cli")
        assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
        x = _x((2, 4))
        status, body = _request(f"{url}/v1/models/cli:predict", {"instances": x.tolist()})
        assert status == 200
        np.testing.assert_allclose(np.array(body["predictions"]), mlp.predict(x, verbose=0),
                                   rtol=1e-6, atol=1e-7)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
