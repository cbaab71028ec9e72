"""tenfold against committed TensorFlow 2.21 results of the low-level programs in programs/.

References are written by make_references.py with real TensorFlow (CI has none)."""
import importlib.util
import pathlib

import pytest

_spec = importlib.util.spec_from_file_location(
    "tfconf_harness", pathlib.Path(__file__).resolve().parent / "tfconf_harness.py")
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)

# (program, key) -> reason, for discrepancies known and not fixed yet (kept visible as xfail).
# Most are in tenfold/graph (tf.function), owned by the graph engineer.
KNOWN = {
    ("p29_module_misc", "slice_assign"): "tf.Variable sliced assignment v[0, 1].assign(x) is "
                                         "not supported (a slice is a plain Tensor)",
    ("p21_control_flow", "while_shape_inv"): "while_loop in tf.function ignores "
                                             "shape_invariants (shapes must stay fixed)",
    ("p28_function_more", "concrete/1/0"): "tf.function traces with the call's concrete "
                                           "shapes: None dims of a TensorSpec are not kept",
    ("p28_function_more", "tensor_shape_static/static/0"): "same: x.shape inside a traced "
                                                           "function is fully defined",
    ("p28_function_more", "tensor_array"): "AutoGraph turns `for i in tf.range(n)` into a "
                                           "tf.while_loop, but tf.TensorArray is a Python "
                                           "list: write() needs a concrete index",
}


@pytest.mark.parametrize("name", h.program_names())
def test_program_matches_tensorflow(name):
    ref_path = h.REFERENCES / f"{name}.npz"
    if not ref_path.exists():
        pytest.fail(f"no reference for {name}: run make_references.py with TensorFlow")
    ours, table = h.run(name, "tenfold")
    problems = h.compare(ours, h.load_reference(name), table)
    known = [p for p in problems if (name, p.split(":", 1)[0]) in KNOWN]
    real = [p for p in problems if p not in known]
    assert not real, f"{name}: {len(real)} discrepancies with TensorFlow\n" + "\n".join(real)
    if known:
        pytest.xfail("known: " + "; ".join(
            f"{p.split(':', 1)[0]} ({KNOWN[(name, p.split(':', 1)[0])]})" for p in known))
