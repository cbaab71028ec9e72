"""Shared by the optimizer tests: a few training steps over variables of given shapes and
dtypes, with the optimizer's state replaced and a weight reassigned half-way."""
import numpy as np

from tenfold import keras


def train_with_reassignments(make, shapes, dtypes, steps=4):
    """The variables' and the optimizer's final values after `steps` apply_gradients of
    seeded random gradients; after step 2 the optimizer's weights are set anew (new slot
    arrays), two of its variables assigned and the first weight reassigned."""
    rng = np.random.default_rng(2)
    variables = [keras.Variable(rng.standard_normal(s).astype(d)) for s, d in zip(shapes, dtypes)]
    opt = make()
    for k in range(steps):
        grads = [rng.standard_normal(s).astype(d) * (k + 1) for s, d in zip(shapes, dtypes)]
        opt.apply_gradients(zip(grads, variables))
        if k == 1:
            opt.set_weights([np.asarray(w) * 0.5 if np.ndim(w) else w for w in opt.get_weights()])
            for v in opt.variables[1:3]:
                v.assign(np.asarray(v.numpy()) * 0.25)
            variables[0].assign(variables[0].numpy() * 0.9)
    return [np.asarray(v.numpy()) for v in variables] + \
        [np.asarray(v.numpy()) for v in opt.variables]
