"""README's Quick start: exactly two commands, the first running examples/mnist_mlp.py; the
example runs (cut down: 2,000 training images, one epoch) with only public Keras API and no
path into this workspace."""
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mnist_mlp.py"
CUT_DOWN = [
    ("keras.datasets.mnist.load_data()",
     "[(a[:2000], b[:2000]) for a, b in keras.datasets.mnist.load_data()]"),
    ("epochs=5", "epochs=1"),
]


def _quick_start_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_two_commands():
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert "examples/mnist_mlp.py" in commands[0]
    assert "pytest" in commands[1]


def test_example_uses_public_keras_only():
    src = EXAMPLE.read_text(encoding="utf-8")
    assert "shared" not in src and "TENFOLD_DATASETS\"]" not in src
    assert "load_data_or_synthetic" not in src and "synthetic_digits" not in src
    imports = re.findall(r"^(?:from|import) .*$", src, re.M)
    for line in imports:
        assert line in ("import time", "from tenfold import keras",
                        "from tenfold.keras import layers"), line


def test_example_runs_cut_down(tmp_path):
    src = EXAMPLE.read_text(encoding="utf-8")
    for old, new in CUT_DOWN:
        assert old in src, f"the example no longer contains {old!r}: update CUT_DOWN"
        src = src.replace(old, new)
    env = dict(os.environ, TENFOLD_OFFLINE="1", PYTHONPATH=str(ROOT),
               TENFOLD_HOME=str(tmp_path / "home"), KERAS_HOME=str(tmp_path / "keras"))
    out = subprocess.run([sys.executable, "-c", src], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    acc = float(re.search(r"test accuracy: ([0-9.]+)", out.stdout).group(1))
    assert acc > 0.5  # 2,000 images, one epoch: well above chance (0.1) on MNIST or digits
