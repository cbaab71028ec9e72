"""examples/pipeline.py end to end, cut down (1 epoch, a few hundred images)."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():
    spec = importlib.util.spec_from_file_location(
        "pipeline_example", os.path.join(ROOT, "examples", "pipeline.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pipeline_quick(tmp_path, capsys):
    res = _load().main(["--epochs", "1", "--limit", "2000", "--calibration-samples", "100",
                        "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "TFLite int8" in out and "REST server" in out
    assert (tmp_path / "mlp.keras").is_file() and (tmp_path / "mlp_int8.tflite").is_file()
    assert abs(res["rest"] - res["keras"]) < 1e-6  # the server runs the same float model
    assert res["keras"] > 0.5  # one short epoch still learns
    assert abs(res["tflite_int8"] - res["keras"]) < 0.05
