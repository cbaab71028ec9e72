"""`keras.Variable`: a tenfold Variable with Keras 3's constructor, path and autocasting."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.variable import Variable as _CoreVariable
from tenfold.util.tensor_meta import shape_of


class Variable(_CoreVariable):
    """`keras.Variable(initializer, shape=None, dtype=None, trainable=True, autocast=True,
    aggregation='none', synchronization='auto', name=None)`.

    `initializer` is a value, or a Keras initializer (name or object) used with `shape`.
    """

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                 aggregation="none", synchronization="auto", name=None, **kwargs):
        from tenfold.keras import initializers, backend
        if isinstance(initializer, str) or (callable(initializer) and shape is not None
                                            and not isinstance(initializer, np.ndarray)):
            init = initializers.get(initializer)
            dt = dtypes.as_dtype(dtype or backend.floatx())
            value = init(tuple(shape), dtype=dt)
        else:
            value = initializer
        super().__init__(value, trainable=trainable, name=name or "variable",
                         dtype=dtype)
        self._autocast = bool(autocast)
        self.aggregation = aggregation
        self.synchronization = synchronization
        self.path = self._name
        self.overwrite_with_gradient = False
        self.regularizer = None

    @property
    def name(self):
        return self._name

    @property
    def value(self):
        return self.read_value()

    @property
    def autocast(self):
        return self._autocast

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={tuple(shape_of(self))}, "
                f"dtype={self.dtype.name}, value={self.numpy()!r}>")
