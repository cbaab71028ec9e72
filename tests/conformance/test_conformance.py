"""Conformance with TensorFlow 2 / Keras 3: each program in programs/ runs on tenfold and its
results are compared with the reference that real TensorFlow produced
(references/<program>.npz, made by make_references.py). See harness.py for the conventions.

Run as a script for a per-program report:  python tests/conformance/test_conformance.py [names]
"""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import harness  # noqa: E402

# Discrepancies in parts still being written by their owners: program -> reason.
KNOWN_FAILURES = {}


@pytest.mark.parametrize("name", harness.program_names())
def test_program_matches_tensorflow(name):
    want = harness.reference(name)
    if want is None:
        pytest.skip(f"no reference for {name}: run make_references.py with TensorFlow")
    if name in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[name])
    got = harness.run(name, "tenfold")
    problems = harness.compare(name, got, want)
    assert not problems, f"{name} differs from TensorFlow:\n  " + "\n  ".join(problems)


def main(names):
    import time
    import traceback
    n_ok = 0
    names = names or harness.program_names()
    for name in names:
        want = harness.reference(name)
        t0 = time.perf_counter()
        try:
            got = harness.run(name, "tenfold")
        except Exception:  # noqa: BLE001
            print(f"[ERROR] {name}")
            traceback.print_exc()
            continue
        dt = time.perf_counter() - t0
        if want is None:
            print(f"[NOREF] {name} ({dt:.2f}s)")
            continue
        problems = harness.compare(name, got, want)
        n_ok += not problems
        print(f"[{'ok' if not problems else 'FAIL'}] {name} ({dt:.2f}s, {len(want)} values)")
        for p in problems:
            print("    " + p)
    print(f"{n_ok}/{len(names)} conform")


if __name__ == "__main__":
    main(sys.argv[1:])
