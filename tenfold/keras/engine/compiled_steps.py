"""Keras integration: `fit` / `evaluate` / `predict` run their step through tf.function.

`Model.make_train_function()` (and test / predict) return `compile_step(model, step, name)`
unless the model was compiled with `run_eagerly=True` (the hooks live in
`tenfold/keras/engine/trainer.py`). The compiled step takes the batch tuple the loop gives,
flattens it to positional tensors (the fastest call path of a tf.function) and rebuilds it
inside the trace.

`record_optimizer_update(opt, grads, variables)` is how an optimizer's in-place NumPy update
becomes one stateful graph node (hook in `tenfold/keras/optimizers/optimizer.py`).
"""
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.graph.function import Function, _flatten, _unflatten


class CompiledStep:
    """A model's step function compiled with tf.function; called with one batch."""

    def __init__(self, model, step, name, jit_compile=False):
        self._model = model
        self._step = step
        self._name = name
        self._jit = jit_compile
        self._fns = {}            # structure of the batch -> Function over its leaves
        self.__name__ = name

    def _function_for(self, data):
        leaves = []
        key = _flatten(data, leaves, "", None)
        fn = self._fns.get(key)
        if fn is None:
            template = _unflatten(data, [None] * len(leaves))
            step = self._step

            def flat_step(*leaves):
                return step(_unflatten(template, leaves))
            flat_step.__name__ = self._name
            fn = self._fns[key] = Function(flat_step, name=self._name, jit_compile=self._jit)
        return fn, leaves

    def __call__(self, data):
        fn, leaves = self._function_for(data)
        return fn(*leaves)

    @property
    def functions(self):
        return list(self._fns.values())

    def experimental_get_tracing_count(self):
        return sum(f.experimental_get_tracing_count() for f in self._fns.values())

    def get_concrete_function(self, data):
        fn, leaves = self._function_for(data)
        return fn.get_concrete_function(*leaves)

    def __repr__(self):
        return f"<compiled {self._name} of {type(self._model).__name__}>"


def compile_step(model, step, name):
    """The step compiled with tf.function (see the module docstring)."""
    jit = bool(getattr(model, "_jit_compile", False))
    return CompiledStep(model, step, name, jit_compile=jit)


def record_optimizer_update(optimizer, grads, variables):
    """While tracing: one stateful node running `optimizer.make_update_fn(variables)` on the
    gradients each time the graph runs (it runs once now, too)."""
    from tenfold.graph.effects import stateful_call
    from tenfold.graph.tracer import active_tracers
    from tenfold.framework.indexed_slices import IndexedSlices
    sparse = [g._static_shape("gradient") if isinstance(g, IndexedSlices) else None
              for g in grads]
    update = None
    if any(t.jit for t in active_tracers()) and not any(sparse):  # jit_compile: one Numba pass per variable
        from tenfold.keras.optimizers.fused_update import fused_optimizer_update
        update = fused_optimizer_update(optimizer, variables)
    if update is None:
        update = optimizer.make_update_fn(variables)
    tensors = []
    for g in grads:
        if isinstance(g, IndexedSlices):  # its rows and indices, made SparseRows again below
            tensors += [g.values, g.indices]
        else:
            tensors.append(g if isinstance(g, Tensor) else convert_to_tensor(g))
    if any(sparse):
        from tenfold.keras.optimizers.optimizer import SparseRows
        dense_update = update

        def update(arrays):
            it = iter(arrays)
            dense_update([next(it) if shape is None else SparseRows(next(it), next(it), shape)
                          for shape in sparse])
    # what the update writes: the weights, and the optimizer's own variables (its step
    # count, slots, EMA copies, loss scale: Keras tracks each one in `variables`)
    writes = list(variables) + list(getattr(optimizer, "variables", None) or [])
    stateful_call(f"{getattr(optimizer, 'name', 'optimizer')}_update", update, tensors,
                  may_leave_running=not any(sparse), writes=writes)
    return optimizer.iterations
