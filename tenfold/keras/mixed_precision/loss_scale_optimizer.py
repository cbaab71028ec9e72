"""`LossScaleOptimizer`: dynamic loss scaling for float16 training (Keras 3's API).

Float16 gradients underflow to zero when they are small. The loss is multiplied by a large
scale (2**15 to start) before differentiating, and the gradients divided by it before the
update. When any gradient is inf or NaN the step is skipped and the scale halved; after
`dynamic_growth_steps` finite steps in a row it is doubled. `Model.compile` wraps the optimizer
in one automatically under the 'mixed_float16' policy, as Keras does.

    opt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.Adam())
    with tf.GradientTape() as tape:
        loss = ...
        scaled = opt.scale_loss(loss)
    opt.apply_gradients(zip(tape.gradient(scaled, variables), variables))

The whole update (finite check, unscaling, the inner optimizer's step, the scale's update) runs
on NumPy arrays in one call, so inside tf.function it is one graph node.
"""
import sys

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.optimizers.optimizer import Optimizer, _array
from tenfold.util.tensor_meta import npd
from tenfold.ops.buffers import assign_buffer, variable_buffer
from tenfold.framework.host import to_host


def _all_finite(arrays, zeros_cache):
    for g in arrays:
        if g.size < 4096:
            if not np.isfinite(g).all():
                return False
            continue
        # inf * 0 and nan * 0 are nan: one BLAS dot tells whether any element is not finite
        flat = g.reshape(-1)
        z = zeros_cache.get((flat.size, flat.dtype))
        if z is None:
            z = zeros_cache[(flat.size, flat.dtype)] = np.zeros(flat.size, flat.dtype)
        if flat.dtype.kind != "f" or flat.dtype.itemsize < 4:
            if not np.isfinite(g).all():
                return False
        elif not np.isfinite(np.dot(flat, z)):
            return False
    return True


class LossScaleOptimizer(Optimizer):
    """Wraps `inner_optimizer` with dynamic loss scaling (see the module docstring)."""

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        if not isinstance(inner_optimizer, Optimizer):
            raise ValueError("LossScaleOptimizer: inner_optimizer must be a Keras optimizer "
                             f"(e.g. keras.optimizers.Adam()), got {inner_optimizer!r}")
        if isinstance(inner_optimizer, LossScaleOptimizer):
            raise ValueError("LossScaleOptimizer cannot wrap another LossScaleOptimizer.")
        kwargs.pop("dynamic", None)
        super().__init__(learning_rate=0.0, name=name or "loss_scale_optimizer", **kwargs)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.step_counter = self._make_var(np.zeros((), np.int64), "step_counter")
        self.dynamic_scale = self._make_var(np.asarray(self.initial_scale, np.float32),
                                            "dynamic_scale")
        self._update_fns = {}
        self._zeros = {}
        self._unscaled_by_user = False

    # ------------------------------------------------------------------ delegation
    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        self.built = True

    @property
    def variables(self):
        return self._variables[:] + self.inner_optimizer.variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        self.inner_optimizer.iterations = value

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def loss_scale(self):
        """The current scale (tf.keras 2's name)."""
        return self.dynamic_scale

    @property
    def dynamic(self):
        return True

    @property
    def dynamic_counter(self):
        return self.step_counter

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    # ------------------------------------------------------------------ scaling
    def scale_loss(self, loss):
        """`loss * scale`: differentiate this, then pass the gradients to `apply`."""
        return loss * self.dynamic_scale

    def get_scaled_loss(self, loss):
        """tf.keras 2's name for `scale_loss`."""
        if callable(loss):
            return lambda: self.scale_loss(loss())
        return self.scale_loss(loss)

    def get_unscaled_gradients(self, grads):
        """tf.keras 2's explicit unscaling; `apply_gradients` then does not unscale again."""
        from tenfold.ops import math_ops
        self._unscaled_by_user = True
        inv = math_ops.divide(1.0, self.dynamic_scale)
        return [None if g is None else math_ops.multiply(g, math_ops.cast(inv, g.dtype))
                for g in grads]

    # ------------------------------------------------------------------ applying
    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if trainable_variables is None:
            trainable_variables = self.inner_optimizer._trainable_variables
        variables = list(trainable_variables)
        if "tenfold.distribute.strategy" in sys.modules:  # tf.distribute: sum over replicas
            from tenfold.distribute.keras_hooks import aggregate_gradients
            grads = aggregate_gradients(grads, variables, self)
            if grads is None:  # several local replicas: applied once, in a merge_call
                return
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(variables)
        self.built = True
        update = self._update_fn(variables)
        from tenfold.graph.tracer import active_tracers
        if active_tracers():  # inside tf.function: the whole update is one graph node
            from tenfold.graph.effects import stateful_call
            from tenfold.framework.tensor import convert_to_tensor
            stateful_call("loss_scale_update", update,
                          [g if isinstance(g, Tensor) else convert_to_tensor(g) for g in grads])
            return
        update([_array(g) for g in grads])

    def apply_gradients(self, grads_and_vars, name=None, skip_gradients_aggregation=False,
                        **kwargs):
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self.iterations

    def _update_fn(self, variables):
        key = tuple(id(v) for v in variables)
        fn = self._update_fns.get(key)
        if fn is not None:
            return fn
        inner_update = self.inner_optimizer.make_update_fn(variables)
        scale_var, counter = self.dynamic_scale, self.step_counter
        growth = self.dynamic_growth_steps
        zeros = self._zeros

        def update(grads):
            grads = [g if g.dtype == npd(v) else g.astype(npd(v))
                     for g, v in zip(grads, variables)]
            if _all_finite(grads, zeros):
                if not self._unscaled_by_user:
                    scale = variable_buffer(scale_var)
                    grads = [np.divide(g, scale.astype(g.dtype)) for g in grads]
                inner_update(grads)
                if int(variable_buffer(counter)) >= growth - 1:
                    assign_buffer(counter, np.zeros((), np.int64))
                    assign_buffer(scale_var, np.asarray(variable_buffer(scale_var) * 2, np.float32))
                else:
                    assign_buffer(counter, np.asarray(variable_buffer(counter) + 1, np.int64))
            else:  # skip the step, halve the scale
                assign_buffer(counter, np.zeros((), np.int64))
                assign_buffer(scale_var, np.asarray(variable_buffer(scale_var) / 2, np.float32))
        self._update_fns[key] = update
        return update

    # ------------------------------------------------------------------ config
    def get_config(self):
        from tenfold.keras import optimizers
        return {"name": self.name, "inner_optimizer": optimizers.serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tenfold.keras import optimizers
        config = dict(config)
        inner = optimizers.deserialize(config.pop("inner_optimizer"),
                                       custom_objects=custom_objects)
        return cls(inner, **config)

    def __repr__(self):
        return f"<LossScaleOptimizer inner={self.inner_optimizer!r} scale=" \
               f"{float(to_host(self.dynamic_scale))}>"
