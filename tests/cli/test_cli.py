"""The `tenfold` command line, in-process (tenfold.cli.main) and as `python -m tenfold`."""
import json
import os
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.cli import main

from ai_edge_litert.interpreter import Interpreter as LiteRT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tenfold", *args], capture_output=True,
                          text=True, env=_env(), timeout=timeout, cwd=ROOT)


@pytest.fixture
def mlp_file(tmp_path):
    model = keras.Sequential([keras.Input((28 * 28,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    path = str(tmp_path / "mlp.keras")
    model.save(path)
    return model, path


def test_info_in_process(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"tenfold {tf.__version__}" in out
    assert "devices:" in out and "BLAS:" in out and "threads:" in out
    assert "onnx" in out and "tflite" in out and "yes" in out


def test_help_for_each_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    top = capsys.readouterr().out
    for cmd in ("info", "train", "convert", "serve", "summary"):
        assert cmd in top
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0 and f"usage: tenfold {cmd}" in capsys.readouterr().out
    assert main([]) == 2  # no command: the help, and a failure status


def test_subprocess_info():
    r = _run("info")
    assert r.returncode == 0 and f"tenfold {tf.__version__}" in r.stdout, r.stderr


def test_summary_shows_flops(mlp_file, capsys):
    _, path = mlp_file
    assert main(["summary", path]) == 0
    out = capsys.readouterr().out
    assert "FLOPs" in out and "12,730" in out  # 784*16 + 16 + 16*10 + 10 parameters


def test_train_small(tmp_path, capsys):
    out = str(tmp_path / "m.keras")
    assert main(["train", "--epochs", "1", "--limit", "256", "--output", out, "-q"]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and os.path.isfile(out)
    model = keras.models.load_model(out)
    assert model.count_params() == 784 * 512 + 512 + 512 * 10 + 10
    conv = str(tmp_path / "c.keras")
    assert main(["train", "--model", "convnet", "--epochs", "1", "--limit", "128", "-o", conv,
                 "-q"]) == 0
    assert [type(l).__name__ for l in keras.models.load_model(conv).layers][:2] == \
        ["Conv2D", "MaxPooling2D"]
    assert main(["convert", conv, "--to", "tflite", "--quantize", "dynamic"]) == 0
    assert os.path.isfile(conv[:-len(".keras")] + ".tflite")
    assert main(["train", "--epochs", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_convert_tflite_int8_and_onnx(mlp_file, tmp_path, capsys):
    model, path = mlp_file
    x = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    np.save(tmp_path / "calib.npy", x)
    out = str(tmp_path / "q.tflite")
    assert main(["convert", path, "--to", "tflite", "--quantize", "int8", "--calibration",
                 str(tmp_path / "calib.npy"), "--output", out]) == 0
    assert "calibrating on 40 samples" in capsys.readouterr().out
    it = LiteRT(model_path=out)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    y = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_allclose(y, model.predict(x, verbose=0), atol=0.03)
    assert main(["convert", path, "--to", "onnx"]) == 0
    assert os.path.isfile(path[:-len(".keras")] + ".onnx")


def test_convert_subprocess_float16(mlp_file, tmp_path):
    _, path = mlp_file
    r = _run("convert", path, "--to", "tflite", "--quantize", "float16")
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(path[:-len(".keras")] + ".tflite")


def test_convert_errors_leave_no_file(mlp_file, tmp_path, capsys):
    _, path = mlp_file
    out = tmp_path / "bad.tflite"
    np.save(tmp_path / "wrong.npy", np.zeros((4, 100), np.float32))
    assert main(["convert", path, "--to", "tflite", "--quantize", "int8", "--calibration",
                 str(tmp_path / "wrong.npy"), "--output", str(out)]) == 2
    assert "shape (4, 100)" in capsys.readouterr().err
    # an unsupported layer
    lstm = keras.Sequential([keras.Input((3, 4)), keras.layers.LSTM(2, name="rnn")])
    lpath = str(tmp_path / "lstm.keras")
    lstm.save(lpath)
    assert main(["convert", lpath, "--to", "tflite", "--output", str(out)]) == 2
    assert 'LSTM layer "rnn"' in capsys.readouterr().err
    assert main(["convert", path, "--to", "tflite", "--quantize", "int8",
                 "--output", str(out)]) == 2
    assert "--calibration" in capsys.readouterr().err
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".bad")]  # no temp left
    # a file that is not a model
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    assert main(["convert", str(junk), "--to", "tflite"]) == 2
    assert "junk.keras" in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras" in capsys.readouterr().err


def test_convert_saved_model_is_clear(mlp_file, tmp_path, capsys):
    _, path = mlp_file
    out = tmp_path / "sm"
    code = main(["convert", path, "--to", "saved_model", "--output", str(out)])
    if code == 0:  # SavedModel export implemented: a directory with saved_model.pb
        assert (out / "saved_model.pb").is_file()
    else:
        assert code == 2 and "SavedModel" in capsys.readouterr().err
        assert not out.exists()


def test_serve_subprocess(mlp_file):
    model, path = mlp_file
    p = subprocess.Popen([sys.executable, "-m", "tenfold", "serve", path, "--port", "0",
                          "--model-name", "digits", "--stop-after", "120"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                         cwd=ROOT)
    try:
        line = p.stdout.readline()
        assert "127.0.0.1" in line, line + p.stderr.read()
        url = line.split(" at ")[1].split()[0]
        x = np.random.default_rng(0).random((2, 784)).astype(np.float32)
        req = urllib.request.Request(url + ":predict", data=json.dumps(
            {"instances": x.tolist()}).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            preds = np.asarray(json.load(r)["predictions"])
        np.testing.assert_allclose(preds, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    finally:
        p.terminate()
        p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()
