"""Dependencies point down (backend -> framework -> ops -> autodiff -> graph -> data -> keras ->
export / serving / tools), stated as import-linter contracts in pyproject.toml and checked
here, so a violation (a lazy import inside a function included) fails CI."""
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _lint_imports():
    exe = shutil.which("lint-imports")
    if exe is None:  # installed by the `test` extra; same tool through its module
        return [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                "lint_imports_command()"]
    return [exe]


def test_import_contracts_hold():
    # import-linter is in the `test` extra
    proc = subprocess.run(_lint_imports() + ["--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_contracts_name_every_core_layer():
    text = (ROOT / "pyproject.toml").read_text()
    assert "[tool.importlinter]" in text
    for layer in ("backend", "framework", "ops", "autodiff", "graph", "data", "keras",
                  "export"):
        assert f'"{layer}' in text or f"| {layer}" in text or f"{layer} |" in text, layer
