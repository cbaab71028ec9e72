"""Op dispatch and import time: what one eager op costs above NumPy, and `import tenfold`.

    python bench/bench_ops.py [--quick] [--update-docs]

Measures, each as the best of many repeats (the machine is shared; the best is the least
disturbed):
  - eager `tf.add` of two 4-element float32 tensors, the `a + b` operator, `a * 2.0`;
  - the same add while a GradientTape records it (the tape is renewed every batch);
  - bare NumPy `np.add` on the same arrays;
  - TensorFlow and PyTorch doing the same, in their own interpreters (this one, or
    .venvs/tf and .venvs/torch), or "not installed";
  - `import tenfold` against `import numpy`: `python -X importtime`, median of several
    fresh interpreters.
`--update-docs` rewrites the "Op dispatch and import" section of docs/benchmarks.md.
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_OPS = 20_000


def best_us(fn, number, repeat):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def bench_tenfold(repeat):
    import numpy as np
    import tenfold as tf
    a = tf.constant([1.0, 2.0, 3.0, 4.0])
    b = tf.constant([4.0, 3.0, 2.0, 1.0])
    an, bn = a.numpy(), b.numpy()
    out = {
        "numpy np.add": best_us(lambda: np.add(an, bn), N_OPS, repeat),
        "tenfold tf.add": best_us(lambda: tf.add(a, b), N_OPS, repeat),
        "tenfold a + b": best_us(lambda: a + b, N_OPS, repeat),
        "tenfold a * 2.0": best_us(lambda: a * 2.0, N_OPS, repeat),
        "numpy an * 2.0": best_us(lambda: an * 2.0, N_OPS, repeat),
    }

    def taped():
        with tf.GradientTape() as tape:
            tape.watch(a)
            for _ in range(1000):
                tf.add(a, b)
    out["tenfold tf.add, tape recording"] = best_us(taped, N_OPS // 1000, repeat) / 1000
    return out


_PEER_CODE = {
    "tensorflow": """
import json, timeit, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
a = tf.constant([1.0, 2.0, 3.0, 4.0]); b = tf.constant([4.0, 3.0, 2.0, 1.0])
def best(f, n, r): return min(timeit.repeat(f, number=n, repeat=r)) / n * 1e6
def taped():
    with tf.GradientTape() as t:
        t.watch(a)
        for _ in range(1000): tf.add(a, b)
print(json.dumps({"version": tf.__version__, "add": best(lambda: tf.add(a, b), N, R),
                  "tape": best(taped, N // 1000, R) / 1000}))
""",
    "torch": """
import json, timeit
import torch
torch.set_num_threads(1)
a = torch.tensor([1.0, 2.0, 3.0, 4.0]); b = torch.tensor([4.0, 3.0, 2.0, 1.0])
ag = a.clone().requires_grad_(True)
def best(f, n, r): return min(timeit.repeat(f, number=n, repeat=r)) / n * 1e6
print(json.dumps({"version": torch.__version__, "add": best(lambda: torch.add(a, b), N, R),
                  "tape": best(lambda: torch.add(ag, b), N, R)}))
""",
}

_VENV = {"tensorflow": "tf", "torch": "torch"}


def _peer_python(module):
    import importlib.util
    if importlib.util.find_spec(module) is not None:
        return sys.executable
    py = ROOT / ".venvs" / _VENV[module] / "bin" / "python"
    return str(py) if py.exists() else None


def bench_peer(module, repeat):
    py = _peer_python(module)
    if py is None:
        return None
    code = f"N = {N_OPS}\nR = {repeat}\n" + _PEER_CODE[module]
    try:
        r = subprocess.run([py, "-c", code], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if r.returncode:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def _env(cached):
    """The environment for import measurements: as given, or with bytecode caching on (as
    after `pip install`), the cache kept in a temporary folder outside the checkout."""
    env = dict(os.environ)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "tenfold_bench_pyc")
    return env


def import_time_us(module, runs, cached=False):
    """Cumulative import time of `module` in fresh interpreters (python -X importtime):
    (median, min) in microseconds."""
    env = _env(cached)
    times = []
    for i in range(runs + (1 if cached else 0)):
        r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                           capture_output=True, text=True, cwd=str(ROOT), env=env)
        if cached and i == 0:
            continue  # the warm-up run writes the bytecode cache
        for line in r.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                times.append(int(parts[1]))
    return statistics.median(times), min(times)


def import_wall_ms(module, runs):
    """Median wall time of `python -c "import module"` minus `python -c "pass"`."""
    def wall(code):
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), check=True)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)
    base = wall("pass")
    return (wall(f"import {module}") - base) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--update-docs", action="store_true",
                    help="rewrite the 'Op dispatch and import' section of docs/benchmarks.md")
    args = ap.parse_args()
    repeat = 7 if args.quick else 30
    runs = 5 if args.quick else 11
    load = os.getloadavg()[0]
    print(f"# Op dispatch and import ({time.strftime('%Y-%m-%d %H:%M')}, load average "
          f"{load:.2f} on {os.cpu_count()} cores)\n")

    ours = bench_tenfold(repeat)
    np_add = ours["numpy np.add"]
    rows = [(k, v) for k, v in ours.items()]
    peers = {}
    for module in ("tensorflow", "torch"):
        res = bench_peer(module, repeat)
        peers[module] = res
        if res is None:
            rows.append((f"{module}: not installed", None))
        elif "error" in res:
            rows.append((f"{module}: failed ({res['error']})", None))
        else:
            label = "TensorFlow" if module == "tensorflow" else "PyTorch"
            rows.append((f"{label} {res['version']} add", res["add"]))
            rows.append((f"{label} {res['version']} add, " +
                         ("tape recording" if module == "tensorflow" else "requires_grad"),
                         res["tape"]))
    print(f"{'eager op on 4-element float32 tensors':52s} {'us/op':>8s} {'above NumPy':>12s}")
    for name, v in rows:
        if v is None:
            print(f"{name:52s} {'-':>8s}")
        else:
            print(f"{name:52s} {v:8.3f} {v - np_add:+11.3f}")

    imports = {}
    for cached in (False, True):
        for mod in ("numpy", "tenfold"):
            imports[(mod, cached)] = import_time_us(mod, runs, cached)
    tf_wall = import_wall_ms("tenfold", runs)
    np_wall = import_wall_ms("numpy", runs)
    dont = "PYTHONDONTWRITEBYTECODE" in os.environ
    print(f"\n{'import, python -X importtime (' + str(runs) + ' fresh interpreters)':52s} "
          f"{'median':>8s} {'min':>8s} {'ratio (median, min)':>22s}")
    for cached in (False, True):
        label = ("bytecode cached" if cached else
                 "no bytecode cache" if dont else "as configured")
        (nm, nn), (tm, tn) = imports[("numpy", cached)], imports[("tenfold", cached)]
        print(f"{'numpy, ' + label:52s} {nm / 1e3:8.1f} {nn / 1e3:8.1f}")
        print(f"{'tenfold (numpy included), ' + label:52s} {tm / 1e3:8.1f} {tn / 1e3:8.1f} "
              f"{tm / nm:10.2f}x {tn / nn:10.2f}x")
    print(f"{'wall, minus a bare interpreter: numpy / tenfold (ms)':52s} {np_wall:8.1f} "
          f"{tf_wall:8.1f} {tf_wall / np_wall:10.2f}x")

    if args.update_docs:
        _update_docs(ours, peers, imports, (np_wall, tf_wall), load, runs)


def _update_docs(ours, peers, imports, walls, load, runs):
    np_wall, tf_wall = walls
    np_add = ours["numpy np.add"]
    lines = [
        "## Op dispatch and import",
        "",
        "`python bench/bench_ops.py --update-docs` — one elementwise op on two 4-element float32",
        "tensors, best of many repeats (microseconds per op), against NumPy on the same arrays",
        "and against TensorFlow / PyTorch eager in their own interpreters (`.venvs/tf`,",
        "`.venvs/torch`). Machine: the project's shared 2-core workstation",
        f"(load average {load:.1f} at the time, so only ratios within one run compare).",
        "",
        "| op | µs/op | above NumPy |",
        "|---|---|---|",
    ]
    for k, v in ours.items():
        lines.append(f"| {k} | {v:.2f} | {v - np_add:+.2f} |")
    for module, res in peers.items():
        label = "TensorFlow" if module == "tensorflow" else "PyTorch"
        if res is None:
            lines.append(f"| {label} | not installed | |")
        elif "error" in res:
            lines.append(f"| {label} | failed: {res['error']} | |")
        else:
            lines.append(f"| {label} {res['version']} add | {res['add']:.2f} | "
                         f"{res['add'] - np_add:+.2f} |")
            what = "tape recording" if module == "tensorflow" else "requires_grad"
            lines.append(f"| {label} {res['version']} add, {what} | {res['tape']:.2f} | "
                         f"{res['tape'] - np_add:+.2f} |")
    lines += [
        "",
        "Where the time goes: a public op converts its operands (`_convert.binary` returns two",
        "plain tensors of one dtype as they are, and turns a Python number into a cached 0-d",
        "array of the tensor's dtype), then `Primitive.__call__` calls the kernel with the",
        "arrays (no argument list for one- and two-input kernels), wraps the result with",
        "`object.__new__`, and checks the observer list (empty unless a tape or tf.function is",
        "recording). A recording tape adds one entry and two dict updates per op.",
        "",
        f"`import tenfold` against `import numpy` (`python -X importtime`, cumulative, {runs} "
        "fresh\ninterpreters; the budget is 2.5×):",
        "",
        "| bytecode | numpy median (min) | tenfold median (min) | ratio median (min) |",
        "|---|---|---|---|",
    ]
    for cached in (False, True):
        (nm, nn), (tm, tn) = imports[("numpy", cached)], imports[("tenfold", cached)]
        label = "cached (as installed)" if cached else "not cached (this environment)"
        lines.append(f"| {label} | {nm / 1e3:.0f} ms ({nn / 1e3:.0f}) | {tm / 1e3:.0f} ms "
                     f"({tn / 1e3:.0f}) | {tm / nm:.2f}× ({tn / nn:.2f}×) |")
    lines += [
        "",
        f"Wall clock above a bare interpreter: numpy {np_wall:.0f} ms, tenfold {tf_wall:.0f} ms "
        f"({tf_wall / np_wall:.2f}×).",
        "",
    ]
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    section = "\n".join(lines)
    pattern = re.compile(r"## Op dispatch and import\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda m_: section.rstrip("\n"), text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")
    print(f"\nwrote the 'Op dispatch and import' section of {path}")


if __name__ == "__main__":
    main()
