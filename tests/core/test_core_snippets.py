"""The seed snippets that exercise the core run unchanged (`python FILE`)."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SNIPPETS = ROOT.parent / "shared" / "seed-snippets"


@pytest.mark.parametrize("name", ["02_gpu_memory_growth.py", "06_gradient_tape.py"])
def test_snippet_runs(name):
    path = SNIPPETS / name
    if not path.exists():
        pytest.skip(f"{path} is not beside the checkout")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                       cwd=str(path.parent), timeout=120)
    assert r.returncode == 0, r.stderr
    if name.startswith("06"):
        assert "[2. 4. 6.]" in r.stdout
    else:
        assert "CPUs: [PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')]" in \
            r.stdout
