"""NumPy's floating-point RuntimeWarnings raised by tenfold's own code never reach the user.

TensorFlow's kernels never warn: `tf.math.log(0.)` is -inf and 0/0 is nan, silently. tenfold's
kernels are NumPy ufuncs, which report the same events as RuntimeWarnings ("divide by zero
encountered in log") through Python's warnings machinery, attributed to the module whose code
called the ufunc. `install()` (run once, at `import tenfold`) adds one warnings filter that
ignores exactly those messages when that module is one of tenfold's:

- the hot path pays nothing: filters are only consulted when a warning is raised (a per-op
  `np.errstate` would add about 1 us to a 1 us eager op);
- the user's own NumPy code is untouched: `np.log(0.)` in the user's module still warns, as the
  user's filters say; a NumPy call the user makes inside a callback tenfold runs
  (`tf.py_function`, a Lambda layer) is attributed to the user's module and warns too.

Two user settings turn NumPy's events into exceptions before any filter can help:
`np.seterr(all="raise")` (FloatingPointError from the ufunc) and a filter added after importing
tenfold that makes RuntimeWarnings errors (`warnings.simplefilter("error")`, pytest's
`-W error`). A primitive's kernel that fails with either is rerun quietly (`rerun_quietly`), on
the failure path only.

A `warnings.catch_warnings()` block restores the filter list it started with: `import tenfold`
inside one (pytest imports test modules inside one while collecting; scripts do it to quiet
imports) would lose the filter at the block's end. So each primitive call compares the filter
list it sees with the one the filter was installed in (`filters_seen`, one identity test: ~20
ns) and installs again when the list was replaced. `warnings.resetwarnings()` empties the list
in place: call `install()` after it.
"""
import warnings

import numpy as np

# NumPy's floating-point-error messages (and complex -> real casts, which tf.cast does silently)
MESSAGES = (r"(divide by zero|invalid value|overflow|underflow) encountered"
            r"|Casting complex values to real")
# the module that called the ufunc: tenfold itself, or a graph's generated code (its globals
# are named after the executor's module)
MODULES = r"tenfold(\.|$)"

_FILTER = ("ignore", MESSAGES, RuntimeWarning, MODULES)

filters_seen = [None]  # the warnings.filters list the filter was last installed in


def install():
    """Adds the filter unless it is already there (idempotent)."""
    filters_seen[0] = warnings.filters
    for f in warnings.filters:
        if f[0] == "ignore" and f[2] is RuntimeWarning and getattr(f[1], "pattern", None) \
                == MESSAGES and getattr(f[3], "pattern", None) == MODULES:
            return
    warnings.filterwarnings(*_FILTER)


def is_numpy_event(exc):
    """Whether `exc` is a NumPy floating-point event turned into an exception by the user's
    settings (np.seterr raise, or a warnings filter raising RuntimeWarnings)."""
    return isinstance(exc, (FloatingPointError, RuntimeWarning))


def rerun_quietly(kernel, arrays, params):
    """Runs kernel(*arrays, **params) with NumPy's floating-point reporting off and its
    RuntimeWarnings ignored, as TensorFlow's kernels compute silently."""
    with np.errstate(all="ignore"):
        try:
            return kernel(*arrays, **params)
        except RuntimeWarning:  # a non-floating-point NumPy warning made an error
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return kernel(*arrays, **params)
