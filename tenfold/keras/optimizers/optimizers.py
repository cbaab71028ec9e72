"""The built-in optimizers, with Keras 3's defaults and update rules.

Each `_kernel(i, g, w, s, t1, t2)` updates variable array `w` (and its slots) in place from
gradient `g`, with per-step scalars `s` (already in the variable's dtype) and two scratch
arrays of `w`'s shape. The arithmetic follows Keras's operation order so results match it to
the last bit in float32 wherever NumPy rounds as Keras's backend does.

Where the native kernels load (tenfold/backend/native/optimizers.c), the dense bodies of SGD,
RMSprop, Adam, Adagrad, Adadelta, Adamax, Nadam and Lion, and the sparse Adam's row update,
run as one C pass each (native_updates.py: the same operations in the same order, the same
bits); the NumPy bodies run everywhere else (TENFOLD_NATIVE=0, devices, other dtypes).

A sparse gradient (`SparseRows`, from a `tf.IndexedSlices`) goes to `_sparse_kernel`: by
default the dense kernel on the summed rows, with squares and absolute values taken row by row
first (`_square` / `_abs`), as Keras on TensorFlow computes them; SGD, RMSprop, Adagrad and
Adadelta override it to step only the looked-up rows where TensorFlow does.
"""
import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.keras.optimizers import native_updates as _native
from tenfold.keras.optimizers.optimizer import Optimizer, row_groups, scatter_rows, summed_rows
from tenfold.util.tensor_meta import npd
from tenfold.ops.buffers import variable_buffer

_COMMON = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
           "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "name")


def _base_args(args, *own):
    """The keyword arguments an optimizer's `__init__` passes up, from its `locals()`:
    `learning_rate`, the arguments named in `own`, Keras's common arguments and `**kwargs`."""
    forwarded = {k: args[k] for k in ("learning_rate",) + own + _COMMON}
    forwarded.update(args["kwargs"])
    return forwarded



def _fused_update(w, name):
    """A device backend's fused in-place update kernel (the CuPy backend's ElementwiseKernels),
    or None: then the ufunc sequence below runs, on any backend."""
    from tenfold.backend import kernels_of
    return getattr(kernels_of(w), name, None)


def _blocked(opt, body, arrays, s):
    """Runs body(*block_views, t1, t2, s) block by block over the flat arrays (each block's
    passes in L2, blocks shared out to the kernel threads: `kernels.blockwise`); False when
    that does not apply (small or non-contiguous arrays, device arrays, a sparse gradient's
    row-wise squares), and the caller runs body on the whole arrays."""
    if opt._rows is not None or type(arrays[1]) is not np.ndarray or \
            type(arrays[0]) is not np.ndarray:
        return False
    return _kernels.blockwise(lambda *a: body(*a, s), arrays, 2)


def _floats(s):
    """A native kernel's scalar arguments: the step's scalars as Python floats."""
    return [float(x) for x in s]


def _native_ok(opt, base, body):
    """Whether `opt` runs `base`'s own NumPy `body` (a method name) on a dense gradient, so
    that its one-pass C twin (native_updates) may run instead: not for a subclass that
    overrides the body or the squares, nor while a sparse gradient's rows are squared
    row-wise (`_rows`)."""
    cls = type(opt)
    return opt._rows is None and getattr(cls, body) is getattr(base, body) and \
        cls._square is base._square and cls._abs is base._abs


class _KerasOptimizer(Optimizer):
    """The base of the built-in optimizers: `get_config` adds the attributes named in
    `_config_keys` (each optimizer's own constructor arguments) to the common config."""

    _config_keys = ()

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in self._config_keys})
        return config


class _OnePass(_KerasOptimizer):
    """An optimizer whose dense update is `_body(g, w, *slots, t1, t2, s)`, elementwise, on
    the slots named `_body_slots`: it runs as one C pass (`native_updates.simple`, kernel
    `_native_name`) where it can, and small variables are updated together."""

    _native_name = None
    _body_slots = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_native_name" in cls.__dict__:
            cls._native_base = cls

    def _kernel(self, i, g, w, s, t1, t2):
        arrays = [g, w] + [variable_buffer(self._slots[n][i]) for n in self._body_slots]
        if not self._native_body(arrays, s):
            self._body(*arrays, t1, t2, s)

    def _native_body(self, arrays, s):
        return _native_ok(self, self._native_base, "_body") and \
            _native.simple(self._native_name, arrays, s)

    def _group_body(self, *arrays):
        *arrays, t1, t2, s = arrays
        if not self._native_body(arrays, s):
            self._body(*arrays, t1, t2, s)

    def _group_spec(self):
        if type(self)._kernel is not _OnePass._kernel:
            return None
        return self._group_body, self._body_slots

    def _native_spec(self):
        if type(self)._kernel is not _OnePass._kernel or \
                not _native_ok(self, self._native_base, "_body"):
            return None
        return self._native_name, tuple(self._body_slots), _floats


class SGD(_KerasOptimizer):
    """Gradient descent with optional momentum and Nesterov momentum.

    momentum == 0: `w -= lr * g`; else `m = momentum * m - lr * g; w += m`
    (Nesterov: `w += momentum * m - lr * g`).
    """

    _config_keys = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        if not isinstance(momentum, (int, float)) or isinstance(momentum, bool) or \
                momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def _slot_groups(self):
        return [(("momentum",), ("zeros",))] if self.momentum != 0 else []

    @property
    def momentums(self):
        return self._slots.get("momentum", [])

    def _compute_scalars(self, f):
        return (f(self._step_lr), f(self.momentum))

    def _kernel(self, i, g, w, s, t1, t2):
        lr, mom = s
        if self.momentum == 0:
            if not self._native_body(g, w, s=s) and \
                    not _blocked(self, self._plain_body, (g, w), s):
                self._plain_body(g, w, t1, t2, s)
            return
        m = variable_buffer(self._slots["momentum"][i])
        if type(w) is not np.ndarray:  # a device: one fused kernel
            fused = _fused_update(w, "sgd_momentum_update")
            if fused is not None:
                fused(g, w, m, lr, mom, self.nesterov)
                return
        if not self._native_body(g, w, m, s=s) and \
                not _blocked(self, self._momentum_body, (g, w, m), s):
            self._momentum_body(g, w, m, t1, t2, s)

    def _native_body(self, *arrays, s):
        body = "_plain_body" if len(arrays) == 2 else "_momentum_body"
        return _native_ok(self, SGD, body) and _native.sgd(list(arrays), s, self.nesterov)

    def _group_plain(self, g, w, t1, t2, s):
        if not self._native_body(g, w, s=s):
            self._plain_body(g, w, t1, t2, s)

    def _group_momentum(self, g, w, m, t1, t2, s):
        if not self._native_body(g, w, m, s=s):
            self._momentum_body(g, w, m, t1, t2, s)

    def _native_spec(self):
        body = "_plain_body" if self.momentum == 0 else "_momentum_body"
        if type(self)._kernel is not SGD._kernel or not _native_ok(self, SGD, body):
            return None
        nesterov = int(bool(self.nesterov))
        return "sgd", (None if self.momentum == 0 else "momentum",), \
            lambda s: [float(s[0]), float(s[1]), nesterov]

    def _group_spec(self):
        if type(self)._kernel is not SGD._kernel:
            return None
        if self.momentum == 0:
            return (self._group_plain, ()) if type(self)._plain_body is SGD._plain_body else None
        if type(self)._momentum_body is not SGD._momentum_body:
            return None
        return self._group_momentum, ("momentum",)

    @staticmethod
    def _plain_body(g, w, t1, _t2, s):
        np.multiply(g, s[0], out=t1)
        np.subtract(w, t1, out=w)

    def _momentum_body(self, g, w, m, t1, t2, s):
        lr, mom = s
        np.multiply(g, lr, out=t1)
        np.multiply(m, mom, out=m)
        np.subtract(m, t1, out=m)
        if self.nesterov:
            np.multiply(m, mom, out=t2)
            np.subtract(t2, t1, out=t2)
            np.add(w, t2, out=w)
        else:
            np.add(w, m, out=w)

    def _sparse_kernel(self, i, g, w, s, t1, t2):
        if self.momentum != 0:   # the momentum moves every row
            return super()._sparse_kernel(i, g, w, s, t1, t2)
        lr = s[0]
        scatter_rows(w, g.indices, -(g.values * lr))   # TensorFlow's scatter_sub


class RMSprop(_KerasOptimizer):
    """Divides the gradient by a moving root-mean-square of recent gradients."""

    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _slot_groups(self):
        groups = [(("velocity",), ("zeros",))]
        if self.momentum > 0:
            groups.append((("momentum",), ("zeros",)))
        if self.centered:
            groups.append((("average_gradient",), ("zeros",)))
        return groups

    def _compute_scalars(self, f):
        return (f(self._step_lr), f(self.rho), f(1 - self.rho), f(self.epsilon), f(self.momentum))

    def _kernel(self, i, g, w, s, t1, t2):
        arrays = [g, w, variable_buffer(self._slots["velocity"][i])]
        if self.centered:
            arrays.append(variable_buffer(self._slots["average_gradient"][i]))
        if self.momentum > 0:
            arrays.append(variable_buffer(self._slots["momentum"][i]))
        if not self._native_body(arrays, s) and not _blocked(self, self._body, arrays, s):
            self._body(*arrays, t1, t2, s)

    def _native_body(self, arrays, s):
        return _native_ok(self, RMSprop, "_body") and \
            _native.rmsprop(arrays, s, self.centered, self.momentum > 0)

    def _group_body(self, *arrays):
        *arrays, t1, t2, s = arrays
        if not self._native_body(arrays, s):
            self._body(*arrays, t1, t2, s)

    def _native_spec(self):
        if type(self)._kernel is not RMSprop._kernel or not _native_ok(self, RMSprop, "_body"):
            return None
        return "rmsprop", ("velocity", "average_gradient" if self.centered else None,
                           "momentum" if self.momentum > 0 else None), _floats

    def _group_spec(self):
        if type(self)._kernel is not RMSprop._kernel or type(self)._body is not RMSprop._body:
            return None
        names = ("velocity",) + (("average_gradient",) if self.centered else ()) + \
            (("momentum",) if self.momentum > 0 else ())
        return self._group_body, names

    def _body(self, g, w, v, *rest):
        *slots, t1, t2, s = rest
        lr, rho, one_m_rho, eps, mom = s
        np.multiply(v, rho, out=v)
        self._square(g, t1)
        np.multiply(t1, one_m_rho, out=t1)
        np.add(v, t1, out=v)
        if self.centered:
            a = slots[0]
            np.multiply(a, rho, out=a)
            np.multiply(g, one_m_rho, out=t1)
            np.add(a, t1, out=a)
            np.square(a, out=t1)
            np.subtract(v, t1, out=t1)
            np.add(t1, eps, out=t1)
        else:
            np.add(v, eps, out=t1)
        np.sqrt(t1, out=t1)
        np.multiply(g, lr, out=t2)
        np.divide(t2, t1, out=t2)
        if self.momentum > 0:
            m = slots[-1]
            np.multiply(m, mom, out=m)
            np.add(m, t2, out=m)
            np.subtract(w, m, out=w)
        else:
            np.subtract(w, t2, out=w)

    def _sparse_kernel(self, i, g, w, s, t1, t2):
        """Keras-on-TensorFlow: the moving averages are dense (sums of squared rows), the
        step `lr * g / sqrt(v + eps)` touches only the looked-up rows (without momentum)."""
        lr, rho, one_m_rho, eps, mom = s
        rows, idx = g.values, g.indices
        v = variable_buffer(self._slots["velocity"][i])
        np.multiply(v, rho, out=v)
        np.add(v, g.dense(rows * rows * one_m_rho, out=t1), out=v)
        if self.centered:
            a = variable_buffer(self._slots["average_gradient"][i])
            np.multiply(a, rho, out=a)
            np.add(a, g.dense(rows * one_m_rho, out=t1), out=a)
            denominator = v[idx] - np.square(a[idx]) + eps
        else:
            denominator = v[idx] + eps
        increment = (lr * rows) / np.sqrt(denominator)
        if self.momentum > 0:
            m = variable_buffer(self._slots["momentum"][i])
            np.multiply(m, mom, out=m)
            np.add(m, g.dense(increment, out=t2), out=m)
            np.subtract(w, m, out=w)
        else:
            scatter_rows(w, idx, -increment)



class Adam(_KerasOptimizer):
    """Adam: moving averages of the gradient and its square, bias-corrected."""

    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _slot_groups(self):
        groups = [(("momentum", "velocity"), ("zeros", "zeros"))]
        if self.amsgrad:
            groups.append((("velocity_hat",), ("zeros",)))
        return groups

    def _compute_scalars(self, f):
        t = f(self._step_t)
        b1p = np.power(f(self.beta_1), t)
        b2p = np.power(f(self.beta_2), t)
        alpha = f(self._step_lr) * np.sqrt(f(1) - b2p) / (f(1) - b1p)
        return (alpha, f(1 - self.beta_1), f(1 - self.beta_2), f(self.epsilon))

    def _kernel(self, i, g, w, s, t1, t2):
        alpha, c1, c2, eps = s
        m = variable_buffer(self._slots["momentum"][i])
        v = variable_buffer(self._slots["velocity"][i])
        if type(w) is not np.ndarray and not self.amsgrad:  # a device: one fused kernel
            fused = _fused_update(w, "adam_update")
            if fused is not None:
                fused(g, w, m, v, alpha, c1, c2, eps)
                return
        arrays = [g, w, m, v]
        if self.amsgrad:
            arrays.append(variable_buffer(self._slots["velocity_hat"][i]))
        if not self._native_body(arrays, s) and not _blocked(self, self._body, arrays, s):
            self._body(*arrays, t1, t2, s)

    def _native_body(self, arrays, s):
        return _native_ok(self, Adam, "_body") and _native.adam(arrays, s)

    def _group_body(self, *arrays):
        *arrays, t1, t2, s = arrays
        if not self._native_body(arrays, s):
            self._body(*arrays, t1, t2, s)

    def _native_spec(self):
        if type(self)._kernel is not Adam._kernel or not _native_ok(self, Adam, "_body"):
            return None
        return "adam", ("momentum", "velocity", "velocity_hat" if self.amsgrad else None), \
            _floats

    def _group_spec(self):
        if type(self)._kernel is not Adam._kernel or type(self)._body is not Adam._body:
            return None
        return self._group_body, ("momentum", "velocity") + \
            (("velocity_hat",) if self.amsgrad else ())

    def _body(self, g, w, m, v, *rest):
        *vh, t1, t2, s = rest
        alpha, c1, c2, eps = s
        np.subtract(g, m, out=t1)
        np.multiply(t1, c1, out=t1)
        np.add(m, t1, out=m)
        self._square(g, t1)
        np.subtract(t1, v, out=t1)
        np.multiply(t1, c2, out=t1)
        np.add(v, t1, out=v)
        if vh:
            np.maximum(vh[0], v, out=vh[0])
            v = vh[0]
        np.sqrt(v, out=t1)
        np.add(t1, eps, out=t1)
        np.multiply(m, alpha, out=t2)
        np.divide(t2, t1, out=t2)
        np.subtract(w, t2, out=w)

    def _sparse_kernel(self, i, g, w, s, t1, t2):
        """Keras-on-TensorFlow's Adam moves every row's moments (the IndexedSlices gradient
        is made dense), so this computes the same numbers as the dense kernel on the summed
        rows, bit for bit, with fewer passes: rows without a gradient take the dense
        kernel's arithmetic with g = 0 (m - m * c1 is what m + (0 - m) * c1 rounds to), the
        looked-up rows the full formula: one C pass that sums each id's rows too where the
        native kernels load (native_updates.adam_sparse), else the three steps block by
        block (rows that stay in cache), the blocks shared out to the kernel threads."""
        if self.amsgrad or type(self)._kernel is not Adam._kernel or \
                type(w) is not np.ndarray or w.ndim < 1 or not w.flags.c_contiguous:
            return super()._sparse_kernel(i, g, w, s, t1, t2)
        alpha, c1, c2, eps = s
        m = variable_buffer(self._slots["momentum"][i])
        v = variable_buffer(self._slots["velocity"][i])
        vals = g.values.reshape((g.indices.size,) + w.shape[1:])
        groups = row_groups(g.indices)
        if _native.adam_sparse(w, m, v, groups, vals, s):   # one C pass, the sums in it
            return
        uniq, gsum, sqsum = summed_rows(g.indices, vals, groups)
        row_elems = max(1, w.size // max(w.shape[0], 1))
        step = min(max(1, (_kernels._BLOCK_BYTES // w.itemsize) // row_elems), max(w.shape[0], 1))
        bounds = list(range(0, w.shape[0], step)) + [w.shape[0]]
        cuts = np.searchsorted(uniq, bounds)
        tail = w.shape[1:]

        def block(k, scratch):
            lo, hi = bounds[k], bounds[k + 1]
            a, b = cuts[k], cuts[k + 1]
            mm, vv, ww = m[lo:hi], v[lo:hi], w[lo:hi]
            x1, x2 = (x[:(hi - lo) * row_elems].reshape((hi - lo,) + tail) for x in scratch)
            if b > a:  # the looked-up rows of this block, before the decay below
                u = uniq[a:b] - lo
                mu, vu = mm[u], vv[u]
            np.multiply(mm, c1, out=x1)
            np.subtract(mm, x1, out=mm)
            np.multiply(vv, c2, out=x1)
            np.subtract(vv, x1, out=vv)
            if b > a:
                t = np.subtract(gsum[a:b], mu)
                t *= c1
                mu += t
                mm[u] = mu
                np.subtract(sqsum[a:b], vu, out=t)
                t *= c2
                vu += t
                vv[u] = vu
            np.sqrt(vv, out=x1)
            np.add(x1, eps, out=x1)
            np.multiply(mm, alpha, out=x2)
            np.divide(x2, x1, out=x2)
            np.subtract(ww, x2, out=ww)

        n = step * row_elems
        _kernels.run_tasks(list(range(len(bounds) - 1)), block, 3 * w.nbytes,
                           lambda: _kernels.thread_scratch(n, w.dtype, 2),
                           min_bytes=_kernels.BANDWIDTH_MIN_BYTES)


class AdamW(Adam):
    """Adam with decoupled weight decay (`w -= w * weight_decay * lr` before each step)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals(), "beta_1", "beta_2", "epsilon", "amsgrad"))
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")


class Adagrad(_OnePass):
    """Per-parameter learning rates scaled by the accumulated squared gradients."""

    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_groups(self):
        return [(("accumulator",), (float(self.initial_accumulator_value),))]

    def _compute_scalars(self, f):
        return (f(self._step_lr), f(self.epsilon))

    _native_name, _body_slots = "adagrad", ("accumulator",)

    def _body(self, g, w, acc, t1, t2, s):
        lr, eps = s
        self._square(g, t1)
        np.add(acc, t1, out=acc)
        np.add(acc, eps, out=t1)
        np.sqrt(t1, out=t1)
        np.multiply(g, lr, out=t2)
        np.divide(t2, t1, out=t2)
        np.subtract(w, t2, out=w)

    def _sparse_kernel(self, i, g, w, s, t1, t2):
        """Keras-on-TensorFlow: only the looked-up rows of the accumulator and the weights
        change (squared rows scatter-added, then the rows' steps scatter-subtracted)."""
        lr, eps = s
        rows, idx = g.values, g.indices
        acc = variable_buffer(self._slots["accumulator"][i])
        scatter_rows(acc, idx, rows * rows)
        scatter_rows(w, idx, -((lr * rows) / np.sqrt(acc[idx] + eps)))



class Adadelta(_OnePass):
    """Adadelta: step sizes from moving windows of gradient and update magnitudes."""

    _config_keys = ("rho", "epsilon")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.rho = rho
        self.epsilon = epsilon

    def _slot_groups(self):
        return [(("accumulated_grad", "accumulated_delta_var"), ("zeros", "zeros"))]

    def _compute_scalars(self, f):
        return (f(self._step_lr), f(self.rho), f(1 - self.rho), f(self.epsilon))

    _native_name, _body_slots = "adadelta", ("accumulated_grad", "accumulated_delta_var")

    def _body(self, g, w, ag, ad, t1, t2, s):
        lr, rho, one_m_rho, eps = s
        np.multiply(ag, rho, out=ag)
        self._square(g, t1)
        np.multiply(t1, one_m_rho, out=t1)
        np.add(ag, t1, out=ag)
        np.add(ad, eps, out=t1)
        np.sqrt(t1, out=t1)
        np.multiply(t1, g, out=t1)
        np.add(ag, eps, out=t2)
        np.sqrt(t2, out=t2)
        np.divide(t1, t2, out=t1)
        np.negative(t1, out=t1)          # delta
        np.multiply(ad, rho, out=ad)
        np.square(t1, out=t2)
        np.multiply(t2, one_m_rho, out=t2)
        np.add(ad, t2, out=ad)
        np.multiply(t1, lr, out=t1)
        np.add(w, t1, out=w)

    def _sparse_kernel(self, i, g, w, s, t1, t2):
        """Keras-on-TensorFlow: dense moving averages (of squared rows), the step on the
        looked-up rows only."""
        lr, rho, one_m_rho, eps = s
        rows, idx = g.values, g.indices
        ag = variable_buffer(self._slots["accumulated_grad"][i])
        ad = variable_buffer(self._slots["accumulated_delta_var"][i])
        np.multiply(ag, rho, out=ag)
        np.add(ag, g.dense(rows * rows * one_m_rho, out=t1), out=ag)
        delta = -((np.sqrt(ad[idx] + eps) * rows) / np.sqrt(ag[idx] + eps))
        np.multiply(ad, rho, out=ad)
        np.add(ad, g.dense(delta * delta * one_m_rho, out=t2), out=ad)
        scatter_rows(w, idx, lr * delta)



class Adamax(_OnePass):
    """Adam's variant with the infinity norm."""

    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _slot_groups(self):
        return [(("momentum", "norm"), ("zeros", "zeros"))]

    def _compute_scalars(self, f):
        b1p = np.power(f(self.beta_1), f(self._step_t))
        return (f(self._step_lr), f(1 - self.beta_1), f(self.beta_2), f(self.epsilon),
                f(1) - b1p)

    _native_name, _body_slots = "adamax", ("momentum", "norm")

    def _body(self, g, w, m, u, t1, t2, s):
        lr, c1, b2, eps, one_m_b1p = s
        np.subtract(g, m, out=t1)
        np.multiply(t1, c1, out=t1)
        np.add(m, t1, out=m)
        np.multiply(u, b2, out=u)
        self._abs(g, t1)
        np.maximum(u, t1, out=u)
        np.multiply(m, lr, out=t1)
        np.add(u, eps, out=t2)
        np.multiply(t2, one_m_b1p, out=t2)
        np.divide(t1, t2, out=t1)
        np.subtract(w, t1, out=w)



class Nadam(_OnePass):
    """Adam with Nesterov momentum (with Keras's momentum schedule, decay 0.96)."""

    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _slot_groups(self):
        return [(("momentum", "velocity"), ("zeros", "zeros"))]

    def build(self, var_list):
        var_list = list(var_list)
        from tenfold.keras import backend
        dt = npd(var_list[0]) if var_list else np.dtype(backend.floatx())
        super().build(var_list)
        self._u_product = self._make_var(np.asarray(1.0, dtype=dt), "u_product")

    def _backend_update_step(self, grads, variables, lr):
        u = variable_buffer(self._u_product)
        f = u.dtype.type
        t = f(self._iterations_value() + 1)
        u[...] = u * f(self.beta_1) * (f(1.0) - f(0.5) * np.power(f(0.96), t))
        super()._backend_update_step(grads, variables, lr)

    def _compute_scalars(self, f):
        t = f(self._step_t)
        t1 = f(self._step_t + 1)
        decay = f(0.96)
        b1, b2 = f(self.beta_1), f(self.beta_2)
        u_t = b1 * (f(1.0) - f(0.5) * np.power(decay, t))
        u_t_1 = b1 * (f(1.0) - f(0.5) * np.power(decay, t1))
        u_prod = f(variable_buffer(self._u_product))
        u_prod_1 = u_prod * u_t_1
        b2p = np.power(b2, t)
        return (f(self._step_lr), f(1) - b1, f(1) - b2, u_t_1, f(1) - u_prod_1, f(1) - u_t,
                f(1) - u_prod, f(1) - b2p, f(self.epsilon))

    _native_name, _body_slots = "nadam", ("momentum", "velocity")

    def _body(self, g, w, m, v, t1, t2, s):
        lr, c1, c2, u_t_1, d1, one_m_ut, d2, one_m_b2p, eps = s
        np.subtract(g, m, out=t1)
        np.multiply(t1, c1, out=t1)
        np.add(m, t1, out=m)
        self._square(g, t1)
        np.subtract(t1, v, out=t1)
        np.multiply(t1, c2, out=t1)
        np.add(v, t1, out=v)
        np.multiply(m, u_t_1, out=t1)
        np.divide(t1, d1, out=t1)
        np.multiply(g, one_m_ut, out=t2)
        np.divide(t2, d2, out=t2)
        np.add(t1, t2, out=t1)            # m_hat
        np.multiply(t1, lr, out=t1)
        np.divide(v, one_m_b2p, out=t2)   # v_hat
        np.sqrt(t2, out=t2)
        np.add(t2, eps, out=t2)
        np.divide(t1, t2, out=t1)
        np.subtract(w, t1, out=w)



class Ftrl(_KerasOptimizer):
    """Follow The Regularized Leader (with L1/L2 and L2-shrinkage regularization)."""

    _config_keys = ("learning_rate_power", "initial_accumulator_value",
                    "l1_regularization_strength", "l2_regularization_strength",
                    "l2_shrinkage_regularization_strength", "beta")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        for arg, val, cond in (
                ("initial_accumulator_value", initial_accumulator_value, "positive or zero"),
                ("l1_regularization_strength", l1_regularization_strength, "positive or zero"),
                ("l2_regularization_strength", l2_regularization_strength, "positive or zero"),
                ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                 "positive or zero")):
            if val < 0.0:
                raise ValueError(f"`{arg}` needs to be {cond}. Received: {arg}={val}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _slot_groups(self):
        return [(("accumulator", "linear"), (float(self.initial_accumulator_value), "zeros"))]

    def _compute_scalars(self, f):
        lr = f(self._step_lr)
        l2 = f(self.l2_regularization_strength) + f(self.beta) / (f(2.0) * lr)
        return (lr, f(-self.learning_rate_power), f(2 * self.l2_shrinkage_regularization_strength),
                f(2) * l2, f(self.l1_regularization_strength))

    def _kernel(self, i, g, w, s, t1, t2):
        lr, neg_p, shrink2, l2x2, l1 = s
        acc = variable_buffer(self._slots["accumulator"][i])
        lin = variable_buffer(self._slots["linear"][i])
        grad_to_use = g + shrink2 * w
        self._square(g, t1)
        np.add(acc, t1, out=t1)                      # new_accum
        new_pow = np.power(t1, neg_p)
        lin += grad_to_use - ((new_pow - np.power(acc, neg_p)) / lr) * w
        quadratic = new_pow / lr + l2x2
        w[...] = (np.clip(lin, -l1, l1) - lin) / quadratic
        acc[...] = t1



class Lion(_OnePass):
    """Lion: the sign of an interpolated momentum."""

    _config_keys = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(**_base_args(locals()))
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                             f"optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")

    def _slot_groups(self):
        return [(("momentum",), ("zeros",))]

    def _compute_scalars(self, f):
        b1, b2 = f(self.beta_1), f(self.beta_2)
        return (f(self._step_lr), b1, f(1.0) - b1, b2, f(1.0) - b2)

    _native_name, _body_slots = "lion", ("momentum",)

    def _body(self, g, w, m, t1, t2, s):
        lr, b1, c1, b2, c2 = s
        np.multiply(m, b1, out=t1)
        np.multiply(g, c1, out=t2)
        np.add(t1, t2, out=t1)
        np.sign(t1, out=t1)
        np.multiply(t1, lr, out=t1)
        np.subtract(w, t1, out=w)
        np.multiply(m, b2, out=m)
        np.multiply(g, c2, out=t2)
        np.add(m, t2, out=m)

