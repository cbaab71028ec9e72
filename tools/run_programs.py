"""Run public Keras / TensorFlow programs unchanged on tenfold, one subprocess each, and tabulate.

    TENFOLD_DATASETS=/work/shared/datasets \\
    python3 tools/run_programs.py /work/keras-io-cache --timeout 600 --out /tmp/programs.md
    python3 tools/run_programs.py prog.py --framework tf --tf-python /work/tfenv/bin/python
    python3 tools/run_programs.py DIR --max-epochs 1          # capped runs, flagged as such

Each program file runs as written. Only its imports are redirected, by an import hook installed
before the file runs: `tensorflow` -> `tenfold`, `keras` / `tensorflow.keras` / `tf_keras` ->
`tenfold.keras` (submodules follow: `from tensorflow.keras.layers import Dense` imports
`tenfold.keras.layers`). With --framework keras-jax / keras-numpy the same file runs under the real
`keras` package with that backend (`tensorflow.keras` -> `keras`), and with --framework tf under
real TensorFlow (no hook), to compare the numbers the programs print.

--max-epochs N caps the `epochs` argument of `Model.fit` (and nothing else). A program whose fit
asked for more is reported as "ran, epochs capped", never as "ran".

Each program runs in its own empty working folder (programs write model files), with
MPLBACKEND=Agg so plots go nowhere. Its full output is kept in --logs. The table has one row per
program: outcome (ran / ran, epochs capped / error: first line of the error / timeout), wall time,
and the last loss/accuracy figures it printed.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Import names redirected per framework: alias prefix -> real module name.
ALIASES = {
    "tenfold": {"tensorflow": "tenfold", "keras": "tenfold.keras", "tf_keras": "tenfold.keras"},
    "keras-jax": {"tensorflow.keras": "keras", "tf_keras": "keras"},
    "keras-numpy": {"tensorflow.keras": "keras", "tf_keras": "keras"},
    "tf": {},
}

_METRIC = re.compile(r"\b([A-Za-z_]*(?:loss|acc|accuracy)[A-Za-z_0-9]*)\s*[:=]\s*"
                     r"(-?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf))", re.IGNORECASE)


# ---------------------------------------------------------------- child side (inside the program's process)
def _install_aliases(aliases):
    """A meta-path finder: importing an alias name gives the real module object it stands for."""
    import importlib
    import importlib.abc
    import importlib.util

    def real_name(name):
        for alias in sorted(aliases, key=len, reverse=True):
            if name == alias or name.startswith(alias + "."):
                return aliases[alias] + name[len(alias):]
        return None

    class _Loader(importlib.abc.Loader):
        def __init__(self, target):
            self.target = target

        def create_module(self, spec):
            return self.target

        def exec_module(self, module):
            pass

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            real = real_name(name)
            if real is None or real == name:
                return None
            try:
                module = importlib.import_module(real)
            except ModuleNotFoundError as e:
                # `tensorflow.keras.layers.experimental` may be an attribute, not a module.
                parent, _, leaf = real.rpartition(".")
                try:
                    module = getattr(importlib.import_module(parent), leaf)
                except (ImportError, AttributeError):
                    raise ModuleNotFoundError(
                        f"No module named {name!r} (run_programs maps it to {real!r}: {e})",
                        name=name) from None
            return importlib.util.spec_from_loader(name, _Loader(module))

    sys.meta_path.insert(0, _Finder())


def _cap_epochs(framework, cap, marker):
    """Wrap Model.fit so `epochs` is at most `cap`; note in `marker` when it lowered one."""
    if framework == "tenfold":
        from tenfold.keras import Model
    elif framework == "tf":
        from tensorflow.keras import Model
    else:
        from keras import Model
    fit = Model.fit

    def capped_fit(self, *args, **kwargs):
        args = list(args)
        if len(args) >= 4:                         # fit(x, y, batch_size, epochs, ...)
            asked = args[3]
            args[3] = min(asked, cap)
        else:
            asked = kwargs.get("epochs", 1)
            kwargs["epochs"] = min(asked, cap)
        if asked > cap:
            with open(marker, "w") as f:
                f.write(str(asked))
        return fit(self, *args, **kwargs)

    Model.fit = capped_fit


def _accept_offline_datasets():
    """Keras checks a cached dataset's file hash; the offline copies hold the same arrays but
    were packed again, so accept the files that _offline_keras_home linked in."""
    from keras.src.utils import file_utils
    validate = file_utils.validate_file

    def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
        if os.path.islink(fpath) or "fashion-mnist" in fpath:
            return True
        return validate(fpath, file_hash, algorithm, chunk_size)

    file_utils.validate_file = validate_file


def child_main(framework, path):
    import runpy
    if framework in ("keras-jax", "keras-numpy"):
        os.environ["KERAS_BACKEND"] = framework.split("-", 1)[1]
    if framework != "tenfold" and os.environ.get("KERAS_HOME"):
        _accept_offline_datasets()
    _install_aliases(ALIASES[framework])
    cap = os.environ.get("RUN_PROGRAMS_MAX_EPOCHS")
    if cap:
        _cap_epochs(framework, int(cap), os.environ["RUN_PROGRAMS_CAP_MARKER"])
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(path))
    runpy.run_path(path, run_name="__main__")


# ---------------------------------------------------------------- parent side
def find_programs(paths):
    found = []
    for p in paths:
        if os.path.isdir(p):
            for d, _, files in sorted(os.walk(p)):
                found += [os.path.join(d, f) for f in sorted(files) if f.endswith(".py")]
        else:
            found.append(p)
    return found


def first_error_line(log):
    """The exception line of the last traceback in `log` (type and message)."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Traceback (most recent call last)"):
            tail = [ln for ln in lines[i + 1:] if not ln.startswith((" ", "\t"))]
            if tail:
                return tail[0][:200]
    return (lines[-1] if lines else "no output")[:200]


def last_metrics(log):
    """The loss/accuracy figures of the last line of output that printed any."""
    for line in reversed(log.replace("\r", "\n").replace("\b", "").splitlines()):
        found = _METRIC.findall(line)
        if found:
            return ", ".join(f"{k}={float(v):.4g}" for k, v in found[:4])
    return ""


def _offline_keras_home(work, env):
    """Point Keras's dataset cache at the offline files of TENFOLD_DATASETS (no downloads)."""
    source = env.get("TENFOLD_DATASETS")
    if not source:
        return
    datasets = os.path.join(work, ".keras_home", "datasets")
    os.makedirs(datasets)
    for name in os.listdir(source):
        os.symlink(os.path.join(os.path.abspath(source), name), os.path.join(datasets, name))
    fashion = os.path.join(source, "fashion_mnist.npz")
    if os.path.exists(fashion):                # Keras reads Fashion-MNIST as the four idx files
        _write_fashion_idx(fashion, os.path.join(datasets, "fashion-mnist"))
    env["KERAS_HOME"] = os.path.dirname(datasets)


def _write_fashion_idx(npz_path, folder):
    import gzip
    import struct
    import numpy as np
    os.makedirs(folder)
    with np.load(npz_path) as data:
        for split, prefix in (("train", "train"), ("test", "t10k")):
            x, y = data[f"x_{split}"], data[f"y_{split}"]
            with gzip.open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), "wb", 1) as f:
                f.write(struct.pack(">II", 2049, len(y)) + y.astype(np.uint8).tobytes())
            with gzip.open(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), "wb", 1) as f:
                f.write(struct.pack(">IIII", 2051, len(x), 28, 28) + x.astype(np.uint8).tobytes())


def run_one(path, framework, timeout, max_epochs, python, logs_dir):
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    work = tempfile.mkdtemp(prefix="program_")
    if framework != "tenfold":
        _offline_keras_home(work, env)
    marker = os.path.join(work, ".epochs_capped")
    if max_epochs:
        env["RUN_PROGRAMS_MAX_EPOCHS"] = str(max_epochs)
        env["RUN_PROGRAMS_CAP_MARKER"] = marker
    cmd = [python, os.path.abspath(__file__), "--child", framework, os.path.abspath(path)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    seconds = time.monotonic() - start
    log = out.decode("utf-8", "replace")
    name = os.path.basename(os.path.dirname(path)) + "__" + os.path.basename(path)
    with open(os.path.join(logs_dir, f"{framework}__{name}.log"), "w") as f:
        f.write(log)
    if timed_out:
        outcome = f"timeout ({timeout} s)"
    elif proc.returncode != 0:
        outcome = "error: " + first_error_line(log)
    elif os.path.exists(marker):
        outcome = "ran, epochs capped"
    else:
        outcome = "ran"
    return {"program": path, "framework": framework, "outcome": outcome,
            "seconds": round(seconds, 1), "metrics": last_metrics(log)}


def markdown(rows, base):
    out = ["| program | framework | outcome | time (s) | last printed figures |",
           "|---|---|---|---|---|"]
    for r in rows:
        prog = os.path.relpath(r["program"], base) if base else r["program"]
        outcome = r["outcome"].replace("|", "\\|")
        out.append(f"| {prog} | {r['framework']} | {outcome} | {r['seconds']} | {r['metrics']} |")
    return "\n".join(out) + "\n"


def compare_table(ours_path, ref_path, base):
    """One row per program: tenfold's outcome and figures beside the reference run's."""
    with open(ours_path) as f:
        ours = json.load(f)
    with open(ref_path) as f:
        ref = {r["program"]: r for r in json.load(f)}
    name = ours[0]["framework"] if ours else "tenfold"
    ref_name = next(iter(ref.values()))["framework"] if ref else "reference"
    out = [f"| program | {name} | time (s) | last figures | {ref_name} | time (s) | last figures |",
           "|---|---|---|---|---|---|---|"]
    for r in ours:
        other = ref.get(r["program"], {"outcome": "not run", "seconds": "", "metrics": ""})
        prog = os.path.relpath(r["program"], base) if base else r["program"]
        cells = [prog, r["outcome"], r["seconds"], r["metrics"], other["outcome"],
                 other["seconds"], other["metrics"]]
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="program files or folders of them")
    ap.add_argument("--framework", default="tenfold", choices=sorted(ALIASES))
    ap.add_argument("--tf-python", default="/work/tfenv/bin/python",
                    help="the python with TensorFlow, for --framework tf")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per program")
    ap.add_argument("--max-epochs", type=int, default=0, help="cap Model.fit's epochs (0: no cap)")
    ap.add_argument("--only", default="", help="comma-separated substrings of paths to keep")
    ap.add_argument("--out", default="", help="write the markdown table here")
    ap.add_argument("--json", default="", help="write the rows as JSON here")
    ap.add_argument("--logs", default=os.path.join(tempfile.gettempdir(), "run_programs_logs"))
    ap.add_argument("--compare", nargs=2, metavar=("OURS_JSON", "REF_JSON"),
                    help="print the table of two earlier --json runs side by side and exit")
    ap.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "PROGRAM"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(*args.child)
        return 0
    if args.compare:
        base = os.path.commonpath([os.path.abspath(p) for p in args.paths]) if args.paths else ""
        print(compare_table(*args.compare, base), end="")
        return 0
    programs = find_programs(args.paths)
    if args.only:
        keep = args.only.split(",")
        programs = [p for p in programs if any(k in p for k in keep)]
    os.makedirs(args.logs, exist_ok=True)
    python = args.tf_python if args.framework == "tf" else sys.executable
    base = os.path.commonpath([os.path.abspath(p) for p in args.paths]) if args.paths else ""
    if base and os.path.isfile(base):
        base = os.path.dirname(base)
    rows = []
    for path in programs:                      # one at a time: the machine is shared
        row = run_one(path, args.framework, args.timeout, args.max_epochs, python, args.logs)
        rows.append(row)
        print(f"{row['outcome'][:100]:<100} {row['seconds']:>7} s  {os.path.relpath(path, base)}",
              flush=True)
    table = markdown(rows, base)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
