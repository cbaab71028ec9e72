"""Graph functions: `tf.function` tracing, the graph form, its executor, and control flow.

    import tenfold as tf

    @tf.function
    def f(x):
        return tf.reduce_sum(x * x)

The pieces: `tracer` (recording primitive calls into a `graph.Graph`), `executor` (compiling a
graph into straight-line Python with buffers planned ahead), `function` (signatures, caching
and retracing), `control_flow` (`tf.cond`, `tf.while_loop`, `tf.case`, `tf.switch_case`).
"""
from tenfold.graph.spec import TensorSpec, TypeSpec  # noqa: F401
from tenfold.graph.function import Function, ConcreteFunction, function, RetracingWarning  # noqa: F401,E501
from tenfold.graph.executor import (  # noqa: F401
    optimizations, set_optimizations, get_optimizations)
from tenfold.graph.graph import Graph, Node, MultiOp, register_stateful  # noqa: F401


def __getattr__(name):
    if name in ("cond", "while_loop", "case", "switch_case"):
        from tenfold.graph import control_flow
        return getattr(control_flow, name)
    raise AttributeError(f"module 'tenfold.graph' has no attribute {name!r}")
