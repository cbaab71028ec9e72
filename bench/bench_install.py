"""What a new user pays to install and import tenfold: a fresh venv's size and import times.

    python bench/bench_install.py [--runs 15] [--with h5py] [--keep DIR]

1. Makes a fresh venv (no system site-packages) and runs `pip install <this checkout>` in it
   (plus the `--with` packages, e.g. h5py while it is not yet a required dependency), without
   pip's cache so that the download is not skipped.
2. Reports the size of the venv's site-packages, per top-level package (largest first), and
   the venv's total.
3. Times, in fresh interpreter processes of that venv, `import numpy`, `import tenfold`,
   `import tenfold.keras` (what the Quick start imports) and `import h5py`: the median and
   the spread of `--runs` runs each (wall time from before the import to after it, measured
   inside the process, so interpreter start-up is not counted).

Needs network access to PyPI. Timings depend on the machine's load: run it on a quiet
machine and read `uptime` first.
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMPORTS = ["numpy", "tenfold", "tenfold.keras", "h5py"]


def _size(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def make_venv(where, extra):
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    py = where / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-cache-dir", "--upgrade", "pip"],
                   check=True)
    # a copy of the checkout: pip builds in it (no build/ or egg-info left in the worktree)
    src = where.parent / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venvs", "__pycache__", "*.egg-info", "build", "tests", "bench"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-cache-dir", str(src), *extra],
                   check=True)
    return py


def site_packages(py):
    out = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], capture_output=True, text=True, check=True)
    return pathlib.Path(out.stdout.strip())


def import_time(py, module):
    code = ("import time; t = time.perf_counter(); import " + module +
            "; print(time.perf_counter() - t)")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=env,
                         cwd="/")
    if out.returncode != 0:
        return None
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--with", dest="extra", action="append", default=[],
                    help="another package to install with tenfold (repeatable)")
    ap.add_argument("--keep", help="make the venv in this folder and keep it")
    a = ap.parse_args()
    tmp = pathlib.Path(a.keep or tempfile.mkdtemp(prefix="tenfold-install-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        py = make_venv(tmp / "venv", a.extra)
        sp = site_packages(py)
        sizes = sorted(((_size(p), p.name) for p in sp.iterdir()
                        if p.is_dir() and not p.name.endswith((".dist-info", "__pycache__"))),
                       reverse=True)
        print(f"fresh venv: pip install . {' '.join(a.extra)}".rstrip())
        print(f"  venv total            {_size(tmp / 'venv') / 2**20:8.1f} MiB")
        print(f"  site-packages         {_size(sp) / 2**20:8.1f} MiB")
        for size, name in sizes[:8]:
            print(f"    {name:<20}{size / 2**20:8.1f} MiB")
        print(f"import times (median of {a.runs} fresh processes; min..max):")
        for module in IMPORTS:
            runs = [import_time(py, module) for _ in range(a.runs)]
            if None in runs:
                print(f"  import {module:<16} not installed")
                continue
            ms = [r * 1000 for r in runs]
            print(f"  import {module:<16}{statistics.median(ms):8.1f} ms  "
                  f"({min(ms):.1f}..{max(ms):.1f})")
        print("load average:", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
