"""`tf.random`: seeds (`set_seed`), stateful and stateless samplers, `Generator`."""
import types as _types

from tenfold.ops.random_ops import (  # noqa: F401
    set_seed, normal, uniform, truncated_normal, shuffle, categorical, gamma, poisson,
    stateless_normal, stateless_uniform, stateless_truncated_normal, stateless_categorical,
    Generator, get_global_generator, set_global_generator, create_rng_state, stateless_split,
    stateless_fold_in)

experimental = _types.SimpleNamespace(
    Generator=Generator, get_global_generator=get_global_generator,
    set_global_generator=set_global_generator, create_rng_state=create_rng_state,
    stateless_split=stateless_split, stateless_fold_in=stateless_fold_in)
