"""The Keras 3 optimizer base: variables, gradient clipping, weight decay, EMA, gradient
accumulation, and a fast in-place update path.

Built-in optimizers update the NumPy (or CuPy) buffers of the variables in place with ufuncs
(`np.multiply(a, b, out=...)`), with slot variables and scratch buffers allocated once at
`build`. That path runs whenever a subclass does not override `update_step`; an optimizer
written the Keras way (overriding `build` and `update_step` with `ops`/`assign`) also works,
one variable at a time.

For a graph executor, `optimizer.make_update_fn(variables)` returns `fn(grad_arrays)` that runs
one whole training update (clipping, weight decay, the update, EMA, constraints, iteration
count) in a single Python call on backend arrays.

Speed without changing a number (issue 17; every path computes each element with the same
ufunc sequence): the built-ins' updates run as one native C pass where native kernels load
(optimizers.native_updates), else big variables run their sequence block by block, each
block's arrays in L2, the blocks shared out to the kernel threads (`kernels.blockwise`);
small variables of one dtype are updated as one flat array (`_update_small_together`: their
slots live in one flat buffer); sparse Embedding gradients are summed per id with one fast
stable sort (`summed_rows`).
"""
import re
import sys
import warnings

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.indexed_slices import IndexedSlices
from tenfold.framework.tensor import Tensor
from tenfold.framework.variable import Variable as _CoreVariable
from tenfold.backend import get_array_module
from tenfold.ops import registry as _registry
from tenfold.keras.optimizers.schedules import LearningRateSchedule
from tenfold.keras.optimizers import schedules as _schedules
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.ops.buffers import (from_buffer, tensor_buffer, increment_buffer, variable_buffer,
                                 assign_buffer)
from tenfold.framework.host import to_host
from tenfold.backend import backend_of as _backend_of
from tenfold.backend import fpenv as _fpenv
from tenfold.keras.saving import _walk as _checkpoint_walk  # noqa: F401 - registers it
from tenfold.keras.optimizers import native_updates as _native


class SparseRows:
    """A gradient given by rows, as backend arrays (a `tf.IndexedSlices` from an `Embedding` /
    `tf.gather`): the dense gradient is `dense[indices[k]] += values[k]`, repeats adding up.

    Optimizers apply it with Keras-on-TensorFlow's arithmetic: where TensorFlow updates only the
    looked-up rows (SGD, Adagrad, RMSprop's step), so does tenfold; where it squares (or takes
    the absolute value of) the rows before summing repeats, so does tenfold."""
    __slots__ = ("values", "indices", "shape")

    def __init__(self, values, indices, shape):
        self.values = values
        # NumPy's scatter-add has its fast path for intp indices only
        self.indices = indices.reshape(-1).astype(get_array_module(indices).intp, copy=False)
        self.shape = tuple(shape)

    @property
    def dtype(self):
        return self.values.dtype

    def astype(self, dtype):
        return SparseRows(self.values.astype(dtype), self.indices, self.shape)

    def dense(self, values=None, out=None):
        """The dense form of these rows (or of `values`, rows matching `indices`)."""
        values = self.values if values is None else values
        xp = get_array_module(values)
        if out is None:
            out = xp.zeros(self.shape, values.dtype)
        else:
            out[...] = 0
        scatter_rows(out, self.indices, values)
        return out


def scatter_rows(out, indices, values):
    """out[indices[k]] += values[k] for each k in order (repeats add one after another, as
    TensorFlow's scatter ops and unsorted_segment_sum do). A subtraction is an addition of
    the negated rows (the same IEEE result)."""
    xp = get_array_module(out)
    if xp is not np:  # CuPy
        import cupyx
        cupyx.scatter_add(out, indices, values)
        return
    if indices.size > 64:
        rounds = _repeat_rounds(indices)
        if rounds is not None:
            # the k-th occurrences of every index in one vectorized add (no index twice in a
            # round, so fancy-index += is exact), rounds in order: the same sums as np.add.at
            # (which is slow for rows of a 2-D array)
            for sel in rounds:
                out[indices[sel]] += values[sel]
            return
    np.add.at(out, indices, values)


def _stable_order(indices):
    """np.argsort(indices, kind="stable"), faster: NumPy radix-sorts 16-bit keys, and
    quicksorts distinct keys (index * n + position) into the same order. 4096 ids below
    20000 (the Transformer's batch), process time: stable int64 258 us, uint16 36 us,
    distinct keys 76 us."""
    n = indices.size
    if n == 0:
        return np.zeros(0, np.intp)
    lo, hi = int(indices.min()), int(indices.max())
    if lo >= 0 and hi < (1 << 16):
        return np.argsort(indices.astype(np.uint16), kind="stable")
    if lo >= 0 and hi < (1 << 62) // max(n, 1):
        return np.argsort(indices.astype(np.int64) * n + np.arange(n))
    return np.argsort(indices, kind="stable")


def row_groups(indices):
    """(order, first, uniq): the stable order sorting `indices`, where each distinct index
    starts in it, and the sorted distinct indices: uniq[k]'s occurrences are the positions
    order[first[k]:first[k + 1]] (the last group runs to the end), in their order."""
    indices = indices.reshape(-1)
    order = _stable_order(indices)
    s = indices[order]
    starts = np.empty(s.shape, bool)
    starts[:1] = True
    np.not_equal(s[1:], s[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    return order, first, s[first]


def summed_rows(indices, values, groups=None):
    """(uniq, sums, square_sums): the sorted distinct `indices`, `values`' rows summed per
    index -- `sums[k] = 0 + rows of uniq[k] in their order`, the numbers `scatter_rows` gives
    into zeros -- and the same sums of the rows' squares (TensorFlow squares the rows of an
    IndexedSlices, then sums repeats). Rounds of distinct indices: the first occurrences,
    then the second ones, ...; only the rows are gathered, never the whole sorted array.
    `groups`: `row_groups(indices)` when the caller has it already."""
    # values: (indices.size, ...), as the callers pass them
    order, first, uniq = row_groups(indices) if groups is None else groups
    n = order.size
    counts = np.diff(first, append=n)
    sums = np.take(values, order[first], axis=0)
    np.add(sums, 0, out=sums)   # 0 + x, as the scatter into zeros: -0.0 becomes +0.0
    squares = np.multiply(sums, sums)
    most = int(counts.max(initial=1))
    for r in range(1, min(most, _ROUNDS)):
        sel = np.flatnonzero(counts > r)
        rows = np.take(values, order[first[sel] + r], axis=0)
        sums[sel] += rows
        squares[sel] += np.multiply(rows, rows, out=rows)
    if most > _ROUNDS:  # an id repeated many times (padding): its later rows one by one
        seg = np.repeat(np.arange(uniq.size), counts)
        late = np.flatnonzero(np.arange(n) - np.repeat(first, counts) >= _ROUNDS)
        rows = np.take(values, order[late], axis=0)
        np.add.at(sums, seg[late], rows)       # in order: each id's rows by occurrence
        np.add.at(squares, seg[late], np.multiply(rows, rows, out=rows))
    return uniq, sums, squares


_ROUNDS = 8


def _repeat_rounds(indices, max_rounds=8):
    """[positions of the first occurrences, of the second ones, ...] of `indices`, each in
    their original order; None when an index repeats more than `max_rounds` times."""
    order = np.argsort(indices, kind="stable")
    s = indices[order]
    starts = np.empty(s.shape, bool)
    starts[0] = True
    np.not_equal(s[1:], s[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    rank_sorted = np.arange(s.size) - np.repeat(first, np.diff(np.append(first, s.size)))
    if rank_sorted.max(initial=0) >= max_rounds:
        return None
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    return [np.flatnonzero(rank == r) for r in range(int(rank_sorted.max(initial=0)) + 1)]


def _array(x):
    """A backend array from a gradient (Tensor, array, number); `SparseRows` from a
    `tf.IndexedSlices`."""
    if isinstance(x, Tensor):
        return tensor_buffer(x)
    if isinstance(x, SparseRows):
        return x
    if isinstance(x, IndexedSlices):
        return SparseRows(_array(x.values), _array(x.indices), x._static_shape("gradient"))
    if isinstance(x, np.ndarray):
        return x
    if _backend_of(x).name != "numpy":  # a device array (CuPy, the CI stand-in): stays there
        return x
    return np.asarray(x)


def _auto_name(cls_name):
    from tenfold.keras.layers.layer import unique_name, to_snake_case
    return unique_name(to_snake_case(cls_name))


class Optimizer:
    """Base class of Keras optimizers (as `keras.optimizers.Optimizer`).

    Subclasses either implement the Keras API (`build(variables)` creating slots with
    `add_variable_from_reference`, and `update_step(gradient, variable, learning_rate)`), or,
    as the built-in ones do, declare `_slot_groups` and an in-place `_kernel`.
    """

    _kernel = None  # built-ins: in-place update `_kernel(i, g, w, scalars, tmp1, tmp2)`

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        self._lock = False
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        lr_legacy = kwargs.pop("lr", None)
        if lr_legacy is not None:
            learning_rate = lr_legacy
        kwargs.pop("jit_compile", None)
        kwargs.pop("is_legacy_optimizer", None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        self.name = name if name is not None else _auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. Received: "
                                 f"ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._trainable_variables_indices = {}
        self._slots = {}          # slot name -> list (one per trainable variable, or None)
        self._scratch = {}        # numpy dtype -> two flat scratch buffers
        self._views = []          # per variable: (scratch view 1, scratch view 2)
        self._accumulated_gradients = []
        self._model_variables_moving_average = []
        self._iterations = self._make_var(np.zeros((), np.int64), "iteration")
        if isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, (Tensor, float, int))):
            self._learning_rate = learning_rate
        else:
            try:
                lr = float(learning_rate)
            except (TypeError, ValueError):
                raise ValueError(
                    "Argument `learning_rate` should be float, or an instance of "
                    "LearningRateSchedule, or a callable (that takes in the current iteration "
                    "value and returns the corresponding learning rate value). Received "
                    f"instead: learning_rate={learning_rate!r}") from None
            from tenfold.keras import backend
            self._learning_rate = self._make_var(
                np.asarray(lr, dtype=dtypes.as_dtype(backend.floatx())._np), "learning_rate")

    # ------------------------------------------------------------------ variables
    def _make_var(self, value, name):
        from tenfold.keras.variables import Variable
        v = Variable(value, trainable=False, name=name, dtype=dtypes.from_numpy(value.dtype))
        v.path = f"{self.name}/{name}"
        self._variables.append(v)
        return v

    def _check_super_called(self):
        if "_lock" not in self.__dict__:
            raise RuntimeError(f"In optimizer '{type(self).__name__}', you forgot to call "
                               "`super().__init__()` as the first statement in the "
                               "`__init__()` method. Go add it!")

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     layout=None, name=None):
        """A non-trainable optimizer variable (`initializer`: 'zeros', 'ones', a number, an
        initializer object or a callable `(shape, dtype)`)."""
        self._check_super_called()
        from tenfold.keras import backend
        dt = dtypes.as_dtype(dtype or backend.floatx())
        shape = tuple(int(d) for d in shape)
        value = _init_value(initializer, shape, dt)
        return self._make_var(value, name or "variable")

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A variable shaped like `reference_variable`, named `{ref path}_{name}`."""
        name = name or "var"
        path = getattr(reference_variable, "path", None)
        if path is not None:
            name = f"{path.replace('/', '_')}_{name}"
        else:
            ref = str(reference_variable.name).replace("/", "_").replace(":", "_")
            name = f"{ref}_{name}"
        return self.add_variable(shape=shape_of(reference_variable), initializer=initializer,
                                 dtype=reference_variable.dtype, name=name)

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """Slot variables for each trainable variable; several names give a tuple of lists
        (created variable by variable, as Keras orders them)."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else \
            [initializer] * len(names)
        if len(inits) != len(names):
            raise ValueError(f"The number of provided names must match the number of provided "
                             f"initializers. Received name='{name}', initializer='{initializer}'")
        out = tuple([] for _ in names)
        for v in trainable_variables:
            over = getattr(v, "overwrite_with_gradient", False)
            for i, (n, init) in enumerate(zip(names, inits)):
                out[i].append(None if over else
                              self.add_variable_from_reference(v, name=n, initializer=init))
        return out[0] if isinstance(name, str) else out

    @property
    def variables(self):
        return self._variables[:]

    @property
    def iterations(self):
        if self.gradient_accumulation_steps:
            from tenfold.ops.math_ops import floordiv
            return floordiv(self._iterations, self.gradient_accumulation_steps)
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations.assign(value)

    def _var_key(self, variable):
        return id(variable)

    def _get_variable_index(self, variable):
        return self._trainable_variables_indices[id(variable)]

    def build(self, variables):
        """Creates the slot variables for `variables` (the model's trainable variables)."""
        self._check_super_called()
        variables = list(variables)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = []
        for i, v in enumerate(variables):
            self._trainable_variables_indices[id(v)] = i
            if self.gradient_accumulation_steps:
                self._accumulated_gradients.append(
                    self.add_variable_from_reference(v, name="gradient_accumulator"))
        self._trainable_variables = variables[:]
        self.__dict__.pop("_small_groups", None)   # groups hold the slots of an earlier build
        for names, inits in self._slot_groups():
            made = self.add_optimizer_variables(variables, list(names), list(inits))
            for n, lst in zip(names, made):
                self._slots[n] = lst
        self._make_scratch(variables)
        self.built = True

    def _slot_groups(self):
        """Built-ins: [(slot names, initializers), ...]; each group is created variable by
        variable, groups one after another (Keras's order, which saved files rely on)."""
        return []

    def _make_scratch(self, variables):
        # scratch buffers per (dtype, array type), made by that array's backend (device
        # variables get device scratch: CuPy, the CI stand-in)
        sizes, spaces = {}, {}
        for v in variables:
            a = variable_buffer(v)
            key = (a.dtype, type(a))
            sizes[key] = max(sizes.get(key, 0), a.size)
            spaces[key] = get_array_module(a)
        for key, n in sizes.items():
            old = self._scratch.get(key)
            if old is None or old[0].size < n:
                xp = spaces[key]
                self._scratch[key] = (xp.empty(n, key[0]), xp.empty(n, key[0]))
        self._views = []
        for v in variables:
            a = variable_buffer(v)
            b1, b2 = self._scratch[(a.dtype, type(a))]
            self._views.append((b1[:a.size].reshape(a.shape), b2[:a.size].reshape(a.shape)))

    def _check_variables_are_known(self, variables):
        idx = self._trainable_variables_indices
        for v in variables:
            if id(v) not in idx:
                raise ValueError(f"Unknown variable: {v}. This optimizer can only be called for "
                                 "the variables it was originally built with. When working "
                                 "with a new set of variables, you should recreate a new "
                                 "optimizer instance.")

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if isinstance(learning_rate, _CoreVariable) and not isinstance(
                self._learning_rate, LearningRateSchedule):
            self._learning_rate = learning_rate
        elif isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, Tensor)):
            if isinstance(self._learning_rate, _CoreVariable):
                self._untrack(self._learning_rate)
            self._learning_rate = learning_rate
        else:
            if not isinstance(self._learning_rate, _CoreVariable):
                raise TypeError(
                    "This optimizer was created with a `LearningRateSchedule` object as its "
                    "`learning_rate` constructor argument, hence its learning rate is not "
                    "settable. If you need the learning rate to be settable, you should "
                    "instantiate the optimizer with a float `learning_rate` argument.")
            variable_buffer(self._learning_rate)[...] = float(learning_rate)

    lr = learning_rate  # tf.keras 2 alias

    def _untrack(self, var):
        self._variables = [v for v in self._variables if v is not var]

    def _get_current_learning_rate(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return lr(self._iterations)
        if isinstance(lr, _CoreVariable):
            return lr
        if callable(lr):
            return lr()
        return lr

    def _lr_float(self):
        lr = self._learning_rate
        if isinstance(lr, _CoreVariable):
            return float(variable_buffer(lr))
        if isinstance(lr, _schedules.LearningRateSchedule):
            return float(lr(self._iterations))
        return float(lr())

    # ------------------------------------------------------------------ assign helpers
    def assign(self, variable, value):
        variable.assign(value)

    def assign_add(self, variable, value):
        variable.assign_add(value)

    def assign_sub(self, variable, value):
        variable.assign_sub(value)

    # ------------------------------------------------------------------ applying
    def apply_gradients(self, grads_and_vars, name=None, skip_gradients_aggregation=False,
                        **kwargs):
        """Applies `[(gradient, variable), ...]`; returns the iterations variable."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Updates `trainable_variables` (the ones `build` saw, if omitted) in place."""
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must "
                                 "already be built on a list of variables. Call "
                                 "`optimizer.build(trainable_variables)` first.")
            if len(grads) != len(self._trainable_variables_indices):
                raise ValueError("When passing `grads` as a list of gradient tensors, the "
                                 "gradients must match `optimizer.variables` one-to-one. "
                                 f"Received a list of {len(grads)} gradients, but the optimizer "
                                 f"is tracking {len(self._trainable_variables)} trainable "
                                 "variables.")
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if len(trainable_variables) != len(grads):
                raise ValueError(f"apply() got {len(grads)} gradients for "
                                 f"{len(trainable_variables)} variables; pass one gradient "
                                 "per variable (None for variables without one).")
            if not self.built:
                self.build(trainable_variables)
                self.built = True
            self._check_variables_are_known(trainable_variables)
        if "tenfold.distribute.strategy" in sys.modules:  # tf.distribute: sum over replicas
            from tenfold.distribute.keras_hooks import aggregate_gradients
            grads = aggregate_gradients(grads, trainable_variables, self)
            if grads is None:  # several local replicas: applied once, in a merge_call
                return
        grads, trainable_variables = self._filter_empty_gradients(grads, trainable_variables)
        grads, trainable_variables = self._overwrite_variables_directly_with_gradients(
            grads, trainable_variables)
        if grads:
            arrays = []
            for g, v in zip(grads, trainable_variables):
                a = _array(g)
                if a.shape != shape_of(v):
                    raise ValueError(
                        f"{self.name}: gradient of shape {tuple(a.shape)} does not match "
                        f"variable '{getattr(v, 'path', v.name)}' of shape "
                        f"{tuple(shape_of(v))}.")
                arrays.append(a)
            if _graph_recording():  # inside tf.function: one graph node (tenfold/graph)
                from tenfold.keras.engine.compiled_steps import record_optimizer_update
                record_optimizer_update(self, grads, trainable_variables)
                return
            _adapt_threads()  # fewer BLAS threads while the machine is oversubscribed
            fused = None if any(type(a) is SparseRows for a in arrays) else \
                self._eager_fused_update(trainable_variables)
            # subnormals flushed, as in graph programs (backend/fpenv.py): the slots' decay
            # would otherwise fill them with subnormals in eager training loops too
            with _fpenv.flushing():
                if fused is not None:  # counts the iteration itself
                    fused(arrays)
                    return
                self._apply_arrays(arrays, trainable_variables)
        increment_buffer(self._iterations)

    def _eager_fused_update(self, variables):
        """The Numba one-pass update that compiled steps use (tenfold/jit: same numbers as
        the NumPy kernels), for eager loops too when Numba is installed and the optimizer's
        options allow it; cached per list of variables. None otherwise."""
        key = (tuple(map(id, variables)),
               tuple(getattr(self, a, None) for a in _FUSED_OPTIONS))
        cached = self.__dict__.get("_fused_eager")
        if cached is not None and cached[0] == key:
            return cached[1]
        fn = None
        from tenfold import jit
        if jit.installed() and jit.available():
            from tenfold.keras.optimizers.fused_update import fused_optimizer_update
            fn = fused_optimizer_update(self, variables)
        self.__dict__["_fused_eager"] = (key, fn)
        return fn

    def make_update_fn(self, trainable_variables):
        """`fn(grad_arrays)`: one in-place training update of `trainable_variables` (builds the
        optimizer if needed). Gradients are backend arrays (or Tensors) in the same order, none
        missing. This is the call a graph executor makes once per step."""
        variables = list(trainable_variables)
        if not self.built:
            self.build(variables)
        self._check_variables_are_known(variables)
        it = self._iterations

        def update_fn(grads):
            if not self._planned_step(grads, variables):
                self._apply_arrays([_array(g) for g in grads], variables)
            increment_buffer(it)
        return update_fn

    def _planned_step(self, grads, variables):
        """The step's update as its UpdatePlan alone, where the last step's plan took every
        variable and no option adds work around it (scaling, accumulation, clipping, decay,
        EMA, constraints): the general path's layers of checks skipped, its arithmetic the
        same. True when done; False, nothing changed, otherwise. Why: this Python runs
        between the weight gradient's product and the update's region every step (the seed
        MLP's: ~20 us alone, 2-3x that inside `fit`)."""
        last = self.__dict__.get("_last_plan")
        if last is None or last[0] is not variables or self.loss_scale_factor is not None or \
                self.gradient_accumulation_steps or self.use_ema or self.clipnorm or \
                self.global_clipnorm or self.clipvalue or self.weight_decay is not None or \
                type(self).update_step is not Optimizer.update_step:
            return False
        spec = self._native_spec()
        if spec is None or spec[0] != last[2] or spec[1] != last[3] or _constrained(variables):
            return False
        plan = last[1]
        self._prepare(self._lr_float())
        scalars = spec[2](self._scalars(plan.dt))
        if not plan.valid(scalars):
            return False
        return plan.run(grads, scalars, defer=_native.may_leave_running())

    def _apply_arrays(self, grads, variables):
        """The update on backend arrays: scaling, accumulation, clipping, decay, step, EMA,
        constraints. Does not count the iteration (the caller does)."""
        scale = self.loss_scale_factor
        if scale is not None:
            grads = [_divide(g, scale) for g in grads]
        steps = self.gradient_accumulation_steps
        if steps:
            grads = [_dense(g) for g in grads]
            idx = self._trainable_variables_indices
            accs = [self._accumulated_gradients[idx[id(v)]] for v in variables]
            if (int(variable_buffer(self._iterations)) + 1) % steps == 0:
                grads = [(g + variable_buffer(a)) / npd(a).type(steps) for g, a in zip(grads, accs)]
                self._update(grads, variables)
                for a in accs:
                    variable_buffer(a)[...] = 0
            else:
                for g, a in zip(grads, accs):
                    np.add(variable_buffer(a), g, out=variable_buffer(a), casting="unsafe")
        else:
            self._update(grads, variables)
        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            freq = self.ema_overwrite_frequency
            if freq and (int(self._iterations_value()) + 1) % freq == 0:
                self._overwrite_model_variables_with_average_value(self._trainable_variables)
        for v in variables:
            c = getattr(v, "_constraint", None)
            if c is not None:
                v.assign(c(v))

    def _iterations_value(self):
        it = int(variable_buffer(self._iterations))
        steps = self.gradient_accumulation_steps
        return it // steps if steps else it

    def _update(self, grads, variables):
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = [_dense(g) for g in grads]
        grads = self._clip_gradients(grads)
        lr = self._lr_float()
        self._apply_weight_decay(variables, lr)
        self._backend_update_step(grads, variables, lr)

    def _backend_update_step(self, grads, variables, lr):
        if self._kernel is not None and type(self).update_step is Optimizer.update_step:
            self._prepare(lr)
            native = self._native_spec()
            if native is not None:
                grads, variables = self._update_planned(native, grads, variables)
            if len(variables) > 2:
                spec = self._group_spec()
                if spec is not None:
                    grads, variables = self._update_small_together(spec, grads, variables)
            idx = self._trainable_variables_indices
            views = self._views
            for g, v in zip(grads, variables):
                i = idx[id(v)]
                w = variable_buffer(v)
                if g.dtype != w.dtype:
                    g = g.astype(w.dtype)
                t1, t2 = views[i]
                if t1.shape != w.shape:  # the variable was reassigned with a new shape
                    self._make_scratch(self._trainable_variables)
                    t1, t2 = self._views[i]
                if type(g) is SparseRows:
                    self._sparse_kernel(i, g, w, self._scalars(w.dtype), t1, t2)
                else:
                    self._kernel(i, g, w, self._scalars(w.dtype), t1, t2)
        else:
            lr_t = self.learning_rate
            for g, v in zip(grads, variables):
                if type(g) is SparseRows:  # a Keras-style update_step sees tf.IndexedSlices
                    g = IndexedSlices(from_buffer(g.values), from_buffer(g.indices), g.shape)
                else:
                    g = from_buffer(g)
                self.update_step(g, v, lr_t)

    def _native_spec(self):
        """(kernel, slot names, tail) where each variable's dense update is the C kernel
        `kernel` of native_updates on the pointers [g, w, *slots] (a None name: a slot the
        kernel takes that this optimizer's options leave out) and tail(scalars), its
        arguments after the element count; then a step's updates run as one
        native_updates.UpdatePlan. None otherwise (the per-variable path)."""
        return None

    def _update_planned(self, spec, grads, variables):
        """Runs the dense updates the step's UpdatePlan takes (made on first use, and again
        when a weight or slot array was replaced); returns the gradients and variables left
        to the per-variable path (all of them where the plan does not apply this step)."""
        name, slot_names, tail = spec
        plans = self.__dict__.get("_update_plans")
        if plans is None:
            plans = self.__dict__["_update_plans"] = {}
        key = (tuple(map(id, variables)), name, tuple(slot_names))
        plan = plans.get(key, False)
        if plan is None:             # made before and found not to apply
            return grads, variables
        if plan is not False:
            scalars = tail(self._scalars(plan.dt))
        if plan is False or not plan.valid(scalars):
            idx = self._trainable_variables_indices
            slots = [None if n is None else self._slots[n] for n in slot_names]
            dt = None
            entries = []
            for p, (g, v) in enumerate(zip(grads, variables)):
                w = variable_buffer(v)
                if type(g) is np.ndarray and type(w) is np.ndarray and g.dtype == w.dtype and \
                        w.dtype in (np.float32, np.float64) and (dt is None or w.dtype == dt):
                    dt = w.dtype
                    owners = [v] + [None if sl is None else sl[idx[id(v)]] for sl in slots]
                    entries.append((p, [None if o is None else variable_buffer(o)
                                        for o in owners], owners))
            if len(plans) >= 8:
                plans.clear()
            scalars = tail(self._scalars(dt)) if entries else None
            plan = plans[key] = _native.UpdatePlan.make(name, dt, entries, scalars) \
                if entries else None
            if plan is None:
                return grads, variables
        if not plan.run(grads, scalars, defer=self._may_leave_running(variables)):
            return grads, variables
        if len(plan.positions) == len(variables):
            # the next step may go straight to this plan (_planned_step)
            self.__dict__["_last_plan"] = (variables, plan, name, slot_names)
            return (), ()
        done = set(plan.positions)
        return ([g for p, g in enumerate(grads) if p not in done],
                [v for p, v in enumerate(variables) if p not in done])

    def _may_leave_running(self, variables):
        """Whether this step's UpdatePlan region may be left running when it starts (the graph
        executor allowed it for this node, and nothing later in this update reads the
        weights: no EMA, no constraints)."""
        return _native.may_leave_running() and not self.use_ema and not _constrained(variables)

    def _group_spec(self):
        """(body, slot names) where this optimizer's dense update of one variable is
        `body(g, w, *slot_arrays, t1, t2, scalars)`, elementwise: then small variables are
        updated together (`_update_small_together`). None otherwise."""
        return None

    def _update_small_together(self, spec, grads, variables):
        """Updates the small dense variables of one dtype as one flat array (their slots live
        in one flat buffer each, gradients and weights are gathered and the weights written
        back): the per-variable Python overhead of ~10 ufunc calls on tiny arrays goes.
        Elementwise, so every number is what the per-variable kernel gives. Returns the
        gradients and variables left to the per-variable loop."""
        groups = self.__dict__.get("_small_groups")
        if groups is None:
            groups = self.__dict__["_small_groups"] = {}
        ids = tuple(map(id, variables))
        group = groups.get(ids, 0)   # one per list of variables (a GAN's two halves, ...)
        if group is None:            # nothing to group in this list
            return grads, variables
        if group == 0 or group.names != spec[1] or \
                not group.run(spec[0], grads, self._scalars(group.dt)):
            if len(groups) >= 4:
                groups.clear()
            group = groups[ids] = _SmallGroup.make(self, ids, spec[1], grads, variables)
            if group is None or not group.run(spec[0], grads, self._scalars(group.dt)):
                return grads, variables
        if not group.rest:
            return (), ()
        return [grads[k] for k in group.rest], [variables[k] for k in group.rest]

    # Where a sparse gradient does not allow updating only its rows (TensorFlow's arithmetic
    # moves every row: momentum, Adam's moments), the optimizer runs its dense kernel on the
    # summed rows, with `_square` / `_abs` giving TensorFlow's sum of squared (absolute) rows.
    _rows = None

    def _sparse_kernel(self, i, g, w, s, t1, t2):
        self._rows = g
        try:
            self._kernel(i, g.dense(), w, s, t1, t2)
        finally:
            self._rows = None

    def _square(self, g, out):
        """g * g; for a sparse gradient, TensorFlow's `square(IndexedSlices)` made dense: the
        squares of its rows summed (repeated ids: sum of squares, not square of the sum)."""
        rows = self._rows
        if rows is None:
            return np.square(g, out=out)
        return rows.dense(rows.values * rows.values, out=out)

    def _abs(self, g, out):
        rows = self._rows
        if rows is None:
            return np.abs(g, out=out)
        return rows.dense(np.abs(rows.values), out=out)

    def _prepare(self, lr):
        """Sets the per-step scalars (`self._step_lr`, `self._step_t`) used by `_scalars`."""
        self._step_lr = lr
        self._step_t = self._iterations_value() + 1
        self._scalar_cache = {}

    def _scalars(self, np_dtype):
        s = self._scalar_cache.get(np_dtype)
        if s is None:
            s = self._scalar_cache[np_dtype] = self._compute_scalars(np_dtype.type)
        return s

    def _compute_scalars(self, f):
        return {"lr": f(self._step_lr)}

    def update_step(self, gradient, variable, learning_rate):
        """Updates one variable (built-ins run their in-place kernel)."""
        if self._kernel is None:
            raise NotImplementedError(f"{type(self).__name__} must implement "
                                      "update_step(gradient, variable, learning_rate).")
        lr = float(variable_buffer(learning_rate) if isinstance(learning_rate, Tensor)
                   else learning_rate)
        self._prepare(lr)
        i = self._get_variable_index(variable)
        w = variable_buffer(variable)
        g = _array(gradient)
        if g.dtype != w.dtype:
            g = g.astype(w.dtype)
        t1, t2 = self._views[i]
        if type(g) is SparseRows:
            self._sparse_kernel(i, g, w, self._scalars(w.dtype), t1, t2)
        else:
            self._kernel(i, g, w, self._scalars(w.dtype), t1, t2)

    # ------------------------------------------------------------------ pieces of an update
    def _filter_empty_gradients(self, grads, variables):
        out_g, out_v, missing = [], [], []
        for g, v in zip(grads, variables):
            if g is None:
                missing.append(getattr(v, "path", None) or v.name)
            else:
                out_g.append(g)
                out_v.append(v)
        if not out_g:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` "
                          "argument?", stacklevel=3)
        return out_g, out_v

    def _overwrite_variables_directly_with_gradients(self, grads, variables):
        if not any(getattr(v, "overwrite_with_gradient", False) for v in variables):
            return grads, variables
        keep_g, keep_v = [], []
        for g, v in zip(grads, variables):
            if getattr(v, "overwrite_with_gradient", False):
                v.assign(g)
            else:
                keep_g.append(g)
                keep_v.append(v)
        return keep_g, keep_v

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            c = self.clipvalue
            return [np.clip(g, -g.dtype.type(c), g.dtype.type(c)) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Excludes variables (or variables whose name contains one of `var_names`) from weight
        decay. Call before the optimizer is built."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the "
                             "optimizer is built.")
        self._exclude_from_weight_decay = {id(v) for v in var_list} if var_list else set()
        self._exclude_from_weight_decay_pattern = (
            re.compile("|".join(set(var_names))) if var_names else None)
        self._exclude_from_weight_decay_cache = {}

    def _use_weight_decay(self, variable):
        cache = self.__dict__.setdefault("_exclude_from_weight_decay_cache", {})
        key = id(variable)
        if key in cache:
            return cache[key]
        use = True
        if key in getattr(self, "_exclude_from_weight_decay", set()):
            use = False
        pattern = getattr(self, "_exclude_from_weight_decay_pattern", None)
        if use and pattern is not None and re.search(pattern, variable.name) is not None:
            use = False
        cache[key] = use
        return use

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                w = variable_buffer(v)
                f = w.dtype.type
                if _native.weight_decay(w, f(self.weight_decay), f(lr)):   # one C pass
                    continue
                i = self._trainable_variables_indices.get(id(v))
                t = self._views[i][0] if i is not None else np.empty_like(w)
                np.multiply(w, f(self.weight_decay), out=t)
                np.multiply(t, f(lr), out=t)
                np.subtract(w, t, out=w)

    def _update_model_variables_moving_average(self, variables):
        first = self._iterations_value() == 0
        for v, avg in zip(variables, self._model_variables_moving_average):
            if avg is None:
                continue
            f = npd(v).type
            mom = f(0.0) if first else f(self.ema_momentum)
            a = variable_buffer(avg)
            np.multiply(a, mom, out=a)
            a += variable_buffer(v) * (f(1) - mom)

    def _overwrite_model_variables_with_average_value(self, variables):
        if len(variables) != len(self._model_variables_moving_average):
            raise ValueError(f"The length of model variables ({len(variables)}) to override "
                             "does not match the length of model variables stored in the "
                             f"optimizer ({len(self._model_variables_moving_average)}). Please "
                             "check if the optimizer was called on your model.")
        for v, avg in zip(variables, self._model_variables_moving_average):
            if avg is not None:
                variable_buffer(v)[...] = variable_buffer(avg)

    def finalize_variable_values(self, var_list):
        """With `use_ema`, sets the model variables to their moving averages (fit does this at
        the end of training)."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(var_list)

    def scale_loss(self, loss):
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    def minimize(self, loss, var_list, tape=None):
        """tf.keras 2's `minimize`: gradients of `loss` (a tensor recorded on `tape`, or a
        zero-argument callable) with respect to `var_list`, then `apply_gradients`."""
        from tenfold.autodiff.tape import GradientTape
        if callable(var_list):
            var_list = var_list()
        var_list = list(var_list)
        if tape is None:
            if not callable(loss):
                raise ValueError("`tape` is required when a `Tensor` loss is passed. Received: "
                                 f"loss={loss}, tape={tape}.")
            with GradientTape() as tape:
                for v in var_list:
                    tape.watch(v)
                value = loss()
        else:
            value = loss() if callable(loss) else loss
        grads = tape.gradient(value, var_list)
        return self.apply_gradients(zip(grads, var_list))

    # ------------------------------------------------------------------ state
    def get_weights(self):
        return [to_host(v) for v in self._variables]

    def set_weights(self, weights):
        if not self.built:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet "
                             "been built. Please call `optimizer.build(trainable_variables)` "
                             "to create the optimizer weights before calling `set_weights()`.")
        for v, w in zip(self._variables, weights):
            w = np.asarray(w)
            if tuple(shape_of(v)) != tuple(w.shape):
                raise ValueError(f"Optimizer variable {getattr(v, 'path', v.name)} has shape "
                                 f"{tuple(shape_of(v))} not compatible with provided weight "
                                 f"shape {tuple(w.shape)}.")
            variable_buffer(v)[...] = w

    def save_own_variables(self, store):
        for i, v in enumerate(self._variables):
            store[str(i)] = to_host(v)

    def load_own_variables(self, store):
        if len(store.keys()) != len(self._variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has "
                   f"{len(self._variables)} variables whereas the saved optimizer has "
                   f"{len(store.keys())} variables. ")
            if len(self._variables) <= 2:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, v in enumerate(self._variables):
            v.assign(np.asarray(store[str(i)]))

    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr_cfg = _schedules.serialize(lr)
        elif isinstance(lr, _CoreVariable):
            lr_cfg = float(variable_buffer(lr))
        elif isinstance(lr, Tensor):
            lr_cfg = float(lr)
        elif callable(lr):
            lr_cfg = _serialize_callable(lr)
        else:
            lr_cfg = 0.5
        return {
            "name": self.name, "learning_rate": lr_cfg, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue, "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"],
                                                             custom_objects=custom_objects)
        return cls(**config)

    def _obj_type(self):
        return "Optimizer"

    def __setattr__(self, name, value):
        if name != "_lock" and "_lock" not in self.__dict__:
            self._check_super_called()
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _constrained(variables):
    """Whether any of the variables has a constraint (applied after the update)."""
    return any(getattr(v, "_constraint", None) is not None for v in variables)


def _graph_recording():
    if not _registry.observers:  # the eager fast path: nothing records
        return False
    from tenfold.graph.tracer import active_tracers
    return bool(active_tracers())


# options that decide whether (and how) the fused update applies: a change rebuilds it
# Variables of up to this many elements are updated as one flat group. Adam, process time,
# medians, one thread: the Transformer's 20 small variables (11358 elements) 0.37 -> 0.13 ms;
# ResNet-20's 63 variables, grouping up to 0/8K/16K/32K/64K elements: 2.01/1.34/1.29/1.41/
# 1.72 ms (bigger ones pay more for the gather and write-back than they save in calls).
_GROUP_MAX = 1 << 13


class _SmallGroup:
    """Small variables updated as one: their slot variables' arrays are views of one flat
    buffer per slot (checked by identity each step: an assign that replaces a slot's array
    makes a new group), gradients and weights gathered into flat scratch, weights written
    back."""
    __slots__ = ("ids", "names", "dt", "pos", "rest", "variables", "shapes", "slot_vars",
                 "slot_views", "slot_flats", "g", "w", "w_views", "t1", "t2")

    @classmethod
    def make(cls, opt, ids, names, grads, variables):
        if len(set(ids)) != len(ids):
            return None
        pos, rest, dt = [], [], None
        for k, (g, v) in enumerate(zip(grads, variables)):
            w = variable_buffer(v)
            if type(g) is np.ndarray and type(w) is np.ndarray and w.size <= _GROUP_MAX and \
                    g.shape == w.shape and (dt is None or w.dtype == dt) and \
                    g.dtype == w.dtype and w.dtype.kind == "f":
                dt = w.dtype
                pos.append(k)
            else:
                rest.append(k)
        if len(pos) < 2:
            return None
        idx = opt._trainable_variables_indices
        small = [variables[k] for k in pos]
        shapes = [variable_buffer(v).shape for v in small]
        offsets = np.concatenate([[0], np.cumsum([variable_buffer(v).size for v in small])])
        offsets = offsets.astype(int).tolist()
        n = offsets[-1]
        slot_vars, slot_views, slot_flats = [], [], []
        for name in names:
            svars = [opt._slots[name][idx[id(v)]] for v in small]
            for sv, shape in zip(svars, shapes):
                a = variable_buffer(sv)
                if type(a) is not np.ndarray or a.shape != shape or a.dtype != dt:
                    return None
            flat = np.empty(n, dt)
            for k, sv in enumerate(svars):
                view = flat[offsets[k]:offsets[k + 1]].reshape(shapes[k])
                view[...] = variable_buffer(sv)
                assign_buffer(sv, view)
                slot_views.append(view)
            slot_vars += svars
            slot_flats.append(flat)
        self = cls()
        self.ids, self.names, self.dt, self.pos, self.rest = ids, names, dt, pos, rest
        self.variables, self.shapes = small, shapes
        self.slot_vars, self.slot_views, self.slot_flats = slot_vars, slot_views, slot_flats
        self.g, self.w, self.t1, self.t2 = (np.empty(n, dt) for _ in range(4))
        self.w_views = [self.w[offsets[k]:offsets[k + 1]].reshape(shapes[k])
                        for k in range(len(small))]
        return self

    def run(self, body, grads, scalars):
        """The update; False (nothing changed) when a gradient, weight or slot array is not
        what the group was made for."""
        dt = self.dt
        gs, ws = [], []
        for k, v, shape in zip(self.pos, self.variables, self.shapes):
            g = grads[k]
            w = variable_buffer(v)
            if type(g) is not np.ndarray or type(w) is not np.ndarray or \
                    g.shape != shape or w.shape != shape or \
                    (g.dtype is not dt and g.dtype != dt) or (w.dtype is not dt and w.dtype != dt):
                return False
            gs.append(g.reshape(-1))
            ws.append(w)
        for sv, view in zip(self.slot_vars, self.slot_views):
            if variable_buffer(sv) is not view:
                return False
        np.concatenate(gs, out=self.g)
        np.concatenate([w.reshape(-1) for w in ws], out=self.w)
        body(self.g, self.w, *self.slot_flats, self.t1, self.t2, scalars)
        for w, view in zip(ws, self.w_views):
            np.copyto(w, view)
        return True


_FUSED_OPTIONS = ("loss_scale_factor", "gradient_accumulation_steps", "clipnorm", "clipvalue",
                  "global_clipnorm", "weight_decay", "use_ema", "centered", "momentum",
                  "amsgrad", "nesterov")


def _adapt_threads():
    from tenfold.graph.threads import adapt
    adapt()


def _serialize_callable(fn):
    return {"module": None, "class_name": "function", "config": getattr(fn, "__name__", "fn"),
            "registered_name": "function"}


def _init_value(initializer, shape, dt):
    if initializer is None or initializer == "zeros" or initializer == "Zeros":
        return np.zeros(shape, dt._np)
    if initializer == "ones" or initializer == "Ones":
        return np.ones(shape, dt._np)
    if isinstance(initializer, (int, float)):
        return np.full(shape, initializer, dt._np)
    if isinstance(initializer, str):
        from tenfold.keras import initializers
        initializer = initializers.get(initializer)
    value = initializer(shape, dtype=dt)
    if isinstance(value, Tensor):
        value = variable_buffer(value)
    return np.asarray(value, dt._np).reshape(shape).copy()


def _dense(g):
    return g.dense() if type(g) is SparseRows else g


def _divide(g, scale):
    if type(g) is SparseRows:
        return SparseRows(_divide(g.values, scale), g.indices, g.shape)
    return g / g.dtype.type(scale) if g.dtype.kind == "f" else g / scale


def _clip_by_norm(g, clipnorm):
    f = g.dtype.type
    l2sum = np.sum(np.square(g))
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
    return np.multiply(g, f(clipnorm)) / np.maximum(l2norm, f(clipnorm))


def global_norm(arrays):
    sq = [np.sum(np.square(_array(a))) for a in arrays if a is not None]
    return np.sqrt(np.sum(np.stack(sq)))


def clip_by_global_norm(grads, clip_norm):
    """Scales all gradients by clip_norm / max(global_norm, clip_norm) (Keras's formula)."""
    use_norm = global_norm(grads)
    f = use_norm.dtype.type
    c = f(clip_norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = c * np.minimum(f(1.0) / use_norm, f(1.0) / c)
        scale = scale + (use_norm - use_norm)
    return [g * g.dtype.type(scale) if g is not None else g for g in grads]
