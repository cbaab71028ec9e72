"""Abusive REST requests (issue 14, "The REST server"): deep nesting, strings and null where
numbers belong, bodies too large for the memory budget. Each gets a 4xx/503 that says what and
where, never a 500; valid bodies give the model's predictions (fast numeric path and general
JSON path agree). Loopback only."""
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold import keras
from tenfold import serving
from tenfold.serving import _parse

L = keras.layers
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


def _post(url, raw):
    req = urllib.request.Request(url, data=raw, method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


@pytest.fixture(scope="module")
def server():
    keras.utils.set_random_seed(0)
    inp = keras.Input((3, 2), name="x")
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(inp)))
    srv = serving.serve(model, "m", port=0, block=False, stop_after=300,
                        max_body_bytes=8 << 20, memory_budget_bytes=64 << 20)
    yield srv, model
    srv.stop()


def url(srv):
    return f"{srv.url}/v1/models/m:predict"


# ------------------------------------------------------------------ nesting
@pytest.mark.parametrize("depth", [33, 100, 1000, 100_000])
@pytest.mark.parametrize("form", ["numeric", "object"])
def test_deep_nesting_is_400(server, depth, form):
    srv, _ = server
    if form == "numeric":
        raw = b'{"instances": ' + b"[" * depth + b"1" + b"]" * depth + b"}"
    else:
        raw = b'{"instances": [{"x": ' + b"[" * depth + b"1" + b"]" * depth + b"}]}"
    status, body, _ = _post(url(srv), raw)
    assert status == 400, body
    assert "nest" in body["error"] or "deep" in body["error"]


# ------------------------------------------------------------------ strings, null
@SETTINGS
@given(n=st.integers(1, 6), i=st.integers(0, 5), j=st.integers(0, 2), k=st.integers(0, 1),
       bad=st.sampled_from(['"1"', "null", '"abc"', '{"a": 1}', '"NaN"']),
       columnar=st.booleans())
def test_non_numbers_are_400_with_their_path(server, n, i, j, k, bad, columnar):
    srv, _ = server
    i = i % n
    x = np.arange(n * 6, dtype=float).reshape(n, 3, 2).tolist()
    marker = 123456.5
    x[i][j][k] = marker
    key = "inputs" if columnar else "instances"
    raw = json.dumps({key: x}).replace(str(marker), bad).encode()
    status, body, _ = _post(url(srv), raw)
    assert status == 400, body
    assert body["error"].startswith(f"{key}[{i}][{j}][{k}]: expected a number"), body


def test_named_instance_paths(server):
    srv, _ = server
    x = np.zeros((2, 3, 2)).tolist()
    x[1][2][0] = None
    raw = json.dumps({"instances": [{"x": x[0]}, {"x": x[1]}]}).encode()
    status, body, _ = _post(url(srv), raw)
    assert status == 400 and body["error"].startswith("instances[1].x[2][0]: expected a number")
    raw = json.dumps({"inputs": {"x": x}}).encode()
    status, body, _ = _post(url(srv), raw)
    assert status == 400 and body["error"].startswith("inputs.x[1][2][0]: expected a number")


@pytest.mark.parametrize("raw,where", [
    (b'{"instances": [[[1,2],[3,4],[5,6]], [[1,2],[3,4]]]}', "instances[1]"),
    (b'{"instances": [[[1,2],[3,4],[5,6]], [[1,2],[3,4],[5,6,7]]]}', "instances[1][2]"),
])
def test_ragged_lists_name_the_row(server, raw, where):
    srv, _ = server
    status, body, _ = _post(url(srv), raw)
    assert status == 400 and "rectangular" in body["error"] and where in body["error"]


@pytest.mark.parametrize("raw", [b'{"instances": [[[1,2],[3,4],[5,6]] , [1.2.3]]}',
                                 b'{"instances": [[[1,,2]]]}', b'{"instances": [[[--1]]]}',
                                 b'{"instances": [[[1,2],[3,4],[5,6]]]]}'])
def test_malformed_numbers_are_400(server, raw):
    srv, _ = server
    status, body, _ = _post(url(srv), raw)
    assert status == 400, body


# ------------------------------------------------------------------ same answers both ways
@SETTINGS
@given(n=st.integers(1, 5), seed=st.integers(0, 1000), spaces=st.booleans())
def test_fast_and_json_paths_agree_with_predict(server, n, seed, spaces):
    srv, model = server
    x = np.random.default_rng(seed).normal(size=(n, 3, 2)).astype("float32")
    fast = json.dumps({"instances": x.tolist()}, indent=1 if spaces else None).encode()
    assert _parse.fits_fast_path(fast)
    slow = json.dumps({"instances": x.tolist(), "signature_name": "serving_default"}).encode()
    assert not _parse.fits_fast_path(slow)
    want = model.predict(x, verbose=0)
    for raw in (fast, slow):
        status, body, _ = _post(url(srv), raw)
        assert status == 200, body
        np.testing.assert_allclose(np.array(body["predictions"]), want, rtol=1e-5, atol=1e-6)


def test_fast_parse_matches_json_loads_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5, 3)) * 10.0 ** rng.integers(-30, 30, size=(7, 5, 3))
    body = json.dumps({"inputs": x.tolist()}).encode()
    got = _parse.fast_parse(body)["inputs"]
    np.testing.assert_array_equal(got, np.array(json.loads(body)["inputs"]))


# ------------------------------------------------------------------ memory budget
def test_body_over_the_budget_is_413(server):
    _, model = server
    srv = serving.serve(model, "m", port=0, block=False, stop_after=60,
                        max_body_bytes=64 << 20, memory_budget_bytes=16 << 20)
    try:
        raw = json.dumps({"instances": np.zeros((200_000, 3, 2)).tolist()}).encode()
        assert 6 * len(raw) > 16 << 20
        status, body, _ = _post(url(srv), raw)
        assert status == 413 and "memory budget" in body["error"], body
    finally:
        srv.stop()


def test_budget_in_use_is_503_with_retry_after(server):
    srv, _ = server
    budget = srv._httpd.budget
    held = budget.total - (1 << 20)
    assert budget.try_acquire(held)
    try:
        raw = json.dumps({"instances": np.zeros((1000, 3, 2)).tolist()}).encode()
        status, body, headers = _post(url(srv), raw)
        assert status == 503 and "retry" in body["error"], body
        assert headers.get("Retry-After") == "1"
    finally:
        budget.release(held)
    status, body, _ = _post(url(srv), raw)
    assert status == 200


def test_memory_error_while_predicting_is_503(server, monkeypatch):
    srv, _ = server
    servable = srv.registry["m"][1]

    def boom(arrays):
        raise MemoryError()
    monkeypatch.setattr(servable, "predict", boom)
    status, body, _ = _post(url(srv), b'{"instances": [[[1,2],[3,4],[5,6]]]}')
    assert status == 503 and "memory" in body["error"]
