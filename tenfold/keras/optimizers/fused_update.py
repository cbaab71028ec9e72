"""Fused in-place updates for the built-in Keras optimizers: one Numba pass per variable
(the compiled kernels are in `tenfold.jit`, below the core; this Keras-level selection of
which optimizers and options they cover lives with the optimizers)."""
import numpy as np

from tenfold.jit import kernels
from tenfold.ops.buffers import increment_buffer, variable_buffer


def _flat(a):
    return a.reshape(-1) if a.flags.c_contiguous else None


def fused_optimizer_update(optimizer, variables):
    """`update(grad_arrays)` for the built-in SGD (momentum, Nesterov), RMSprop (plain) and
    Adam (plain) as one parallel loop per variable, or None when Numba is unavailable or
    the optimizer or its options are not covered (clipping, weight decay, EMA,
    accumulation, constraints, loss scale factor, subclasses)."""
    from tenfold import jit
    if not jit.available():
        return None
    return fused_update(optimizer, variables)


def fused_update(opt, variables):
    """`update(grad_arrays)` doing what `opt.make_update_fn(variables)` does, in one pass per
    variable, or None when this optimizer or one of its options is not covered."""
    from tenfold.keras.optimizers import optimizers as o
    from tenfold.keras.optimizers.optimizer import Optimizer
    cls = type(opt)
    if cls not in (o.SGD, o.RMSprop, o.Adam):
        return None
    if opt.loss_scale_factor is not None or opt.gradient_accumulation_steps or \
            opt.clipnorm or opt.clipvalue or opt.global_clipnorm or \
            opt.weight_decay is not None or opt.use_ema or \
            cls.update_step is not Optimizer.update_step:
        return None
    if cls is o.RMSprop and (opt.centered or opt.momentum > 0):
        return None
    if cls is o.Adam and opt.amsgrad:
        return None
    variables = list(variables)
    if not opt.built:
        opt.build(variables)
    opt._check_variables_are_known(variables)
    for v in variables:
        if getattr(v, "_constraint", None) is not None or variable_buffer(v).dtype.kind != "f" or \
                variable_buffer(v).dtype.itemsize < 4 or not variable_buffer(v).flags.c_contiguous:
            return None
    k = kernels()
    index = [opt._trainable_variables_indices[id(v)] for v in variables]
    it = opt._iterations
    slots = opt._slots
    if cls is o.RMSprop:
        vel = slots["velocity"]

        def step(i, g, w, s):
            lr, rho, omr, eps, _ = s
            k.rmsprop_seq(w, variable_buffer(vel[i]).reshape(-1), g, lr, rho, omr, eps)
    elif cls is o.Adam:
        mom, vel = slots["momentum"], slots["velocity"]

        def step(i, g, w, s):
            alpha, c1, c2, eps = s
            k.adam_seq(w, variable_buffer(mom[i]).reshape(-1), variable_buffer(vel[i]).reshape(-1), g, alpha, c1, c2, eps)
    else:
        mom_slots = slots.get("momentum")
        nesterov = bool(opt.nesterov)

        def step(i, g, w, s):
            lr, m = s
            if opt.momentum == 0:
                np.subtract(w, np.multiply(g, lr), out=w)
                return
            k.sgd_momentum_seq(w, variable_buffer(mom_slots[i]).reshape(-1), g, lr, m, nesterov)

    def update(grads):
        opt._prepare(opt._lr_float())
        for i, v, g in zip(index, variables, grads):
            w = variable_buffer(v)
            if g.dtype != w.dtype:
                g = g.astype(w.dtype)
            flat_w = _flat(w)
            if flat_w is None:  # reassigned to a non-contiguous array: the NumPy kernel
                t1, t2 = opt._views[i]
                opt._kernel(i, g, w, opt._scalars(w.dtype), t1, t2)
                continue
            step(i, np.ascontiguousarray(g).reshape(-1), flat_w, opt._scalars(w.dtype))
        increment_buffer(it)
    return update
