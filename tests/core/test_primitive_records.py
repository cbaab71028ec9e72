"""The primitive record is the single source of facts about a primitive: every primitive says
how it is differentiated (or why it is not), and no module outside the registry keeps its own
list of op names (the tracer, executor, summary's FLOPs and ONNX export read the records)."""
import ast
import pathlib

import numpy as np
import pytest

import tenfold as tf
from tenfold.ops import registry

ROOT = pathlib.Path(tf.__file__).parent


def _all_primitives():
    registry.load_all()
    import tenfold.ops.fused_ops  # noqa: F401 - graph-only fusions
    import tenfold.graph.effects  # noqa: F401 - assign primitives
    return dict(registry.REGISTRY)


def test_every_primitive_has_grads_or_a_stated_reason():
    missing = [name for name, p in _all_primitives().items()
               if p.grads is None and not (isinstance(p.no_grad, str) and p.no_grad.strip())]
    assert missing == [], f"primitives with neither grads nor a no_grad reason: {missing}"


def test_no_grad_reason_only_where_there_is_no_gradient():
    both = [n for n, p in _all_primitives().items() if p.grads is not None and p.no_grad]
    assert both == []


def test_facts_are_well_formed():
    for name, p in _all_primitives().items():
        assert p.aliasing in (None, "view", "fresh"), name
        assert callable(p.flops), name
        if p.inplace:
            assert p.out_kernel is not None, name
        if p.jit_kernel is not None:
            assert len(p.jit_kernel) == 2 and callable(p.jit_kernel[0]), name
        if p.pool_route is not None:
            assert len(p.pool_route) == 2, name


def _string_collections(tree):
    """(line, strings) for every set / list / tuple literal and dict's keys in a module."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
            elts = node.elts
        elif isinstance(node, ast.Dict):
            elts = [k for k in node.keys if k is not None]
        else:
            continue
        strs = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if strs:
            yield node.lineno, strs


def test_no_lists_of_op_names_outside_the_registry():
    names = set(_all_primitives())
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "ops" / "registry.py" or ROOT / "testing" in path.parents:
            continue  # tenfold/testing's tables map public ops to references by design
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, strs in _string_collections(tree):
            prims = [s for s in strs if s in names]
            if len(prims) >= 3 and 2 * len(prims) >= len(strs):
                found.append(f"{path.relative_to(ROOT.parent)}:{line}: {prims}")
    assert found == [], "op-name lists outside tenfold/ops/registry.py (declare the fact on " \
                        "the primitive instead):\n" + "\n".join(found)


def test_the_executor_reads_out_kernels_from_records():
    # a record's facts drive the plan: matmul writes into a dead buffer of its shape
    @tf.function
    def f(a, b):
        return tf.matmul(tf.exp(a), b) + 1.0

    a = np.random.default_rng(0).standard_normal((4, 4)).astype("float32")
    np.testing.assert_allclose(f(a, a).numpy(), np.exp(a) @ a + 1.0, rtol=1e-5)
    assert registry.REGISTRY["matmul"].out_kernel is not None
    assert registry.REGISTRY["add"].inplace and registry.REGISTRY["reshape"].aliasing == "view"


@pytest.mark.parametrize("name,expected", [("matmul", 2 * 2 * 5 * 3), ("add", 10)])
def test_flops_come_from_the_record(name, expected):
    x = tf.ones((2, 3))
    y = tf.ones((3, 5))
    if name == "matmul":
        out = tf.matmul(x, y)
        got = registry.REGISTRY["matmul"].flops([x, y], out, {})
    else:
        z = tf.ones((2, 5))
        out = z + z
        got = registry.REGISTRY["add"].flops([z, z], out, {})
    assert got == expected
