"""`keras.utils.set_random_seed`: one call seeds Python, NumPy and tenfold."""
import random

import numpy as np


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global generator and tenfold's global seed, so that
    weight initialisation, shuffling in `fit` and dropout repeat from run to run."""
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
                         f"(of type {type(seed).__name__})")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    from tenfold.ops import random_ops
    random_ops.set_seed(seed)
    import sys
    kr = sys.modules.get("tenfold.keras.random")
    reset = getattr(kr, "_reset_global_seed_generator", None) if kr is not None else None
    if reset is not None:
        reset(seed)
