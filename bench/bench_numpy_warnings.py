"""What keeping NumPy's RuntimeWarnings away from the user costs one eager op.

    python bench/bench_numpy_warnings.py [--quick]

tenfold/framework/numpy_warnings.py installs one warnings filter at import (consulted only when
a warning is raised) and each primitive call tests whether the filter list was replaced (one
identity test). This measures, as the best of many repeats in one interpreter (compare rows of
one run only; the machine may be shared):

  - `tf.add` and `tf.math.log` of 4-element float32 tensors as shipped;
  - the identity test alone;
  - the alternatives that were not taken: `np.errstate(all="ignore")` around the kernel, and
    setting NumPy's error-state context variable directly around it;
  - an op whose kernel does warn (`tf.math.log(0.)`: the filter runs) against NumPy's own
    `np.log(0.)` under `np.errstate(all="ignore")`.
"""
import argparse
import pathlib
import sys
import timeit
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best_us(stmt, glb, number, repeat):
    return min(timeit.repeat(stmt, globals=glb, number=number, repeat=repeat)) / number * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    number, repeat = (20_000, 5) if args.quick else (200_000, 9)

    import numpy as np
    import tenfold as tf
    from tenfold.framework import numpy_warnings
    from tenfold.ops.registry import REGISTRY

    a = np.ones(4, np.float32)
    x = tf.constant(a)
    zero = tf.constant(0.0)
    add = REGISTRY["add"]
    try:
        from numpy._core import umath
        cvar = umath._extobj_contextvar
        with np.errstate(all="ignore"):
            ignore_state = cvar.get()
    except (ImportError, AttributeError):
        cvar = ignore_state = None

    def add_errstate(u, v):
        with np.errstate(all="ignore"):
            return np.add(u._value, v._value)

    def add_contextvar(u, v):
        token = cvar.set(ignore_state)
        try:
            return np.add(u._value, v._value)
        finally:
            cvar.reset(token)

    g = dict(np=np, tf=tf, a=a, x=x, zero=zero, add=add, warnings=warnings,
             seen=numpy_warnings.filters_seen, add_errstate=add_errstate,
             add_contextvar=add_contextvar)
    rows = [
        ("numpy np.add", "np.add(a, a)"),
        ("tenfold tf.add (as shipped)", "tf.add(x, x)"),
        ("tenfold tf.math.log (as shipped)", "tf.math.log(x)"),
        ("the filter-list identity test alone", "warnings.filters is not seen[0]"),
        ("np.add inside np.errstate (rejected)", "add_errstate(x, x)"),
    ]
    if cvar is not None:
        rows.append(("np.add with the error-state contextvar set (rejected)",
                     "add_contextvar(x, x)"))
    rows += [
        ("tenfold tf.math.log(0.) (warns; filtered)", "tf.math.log(zero)"),
        ("numpy np.log(0.) in np.errstate", "with np.errstate(all='ignore'): np.log(a * 0)"),
    ]
    print("| what | µs per call |\n|---|---|")
    for label, stmt in rows:
        print(f"| {label} | {best_us(stmt, g, number, repeat):.3f} |")


if __name__ == "__main__":
    main()
