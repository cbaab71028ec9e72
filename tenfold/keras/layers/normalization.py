"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
UnitNormalization. Half-precision inputs are normalised in float32 (as Keras)."""
from tenfold.autodiff.tape import GradientTape as _GradientTape
from tenfold.framework import dtypes
from tenfold.framework.state import STATE as _STATE
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn


def _upcast(x):
    """x in at least float32."""
    if x.dtype in (dtypes.float16, dtypes.bfloat16):
        return m.cast(x, "float32")
    return x


def _cast_like(v, x):
    return v if v.dtype == x.dtype else m.cast(v, x.dtype)


def _to_compute_dtype(layer, out):
    """`out` cast back to the layer's compute dtype (it may have been upcast)."""
    return out if out.dtype.name == layer.compute_dtype else m.cast(out, layer.compute_dtype)


def _set_gamma_beta_options(layer, center, scale, beta_initializer, gamma_initializer,
                            beta_regularizer, gamma_regularizer, beta_constraint,
                            gamma_constraint):
    """The `center` / `scale` options and gamma's and beta's initializer, regularizer and
    constraint, shared by Batch-, Layer- and GroupNormalization."""
    layer.center = bool(center)
    layer.scale = bool(scale)
    layer.beta_initializer = U.get_init(beta_initializer)
    layer.gamma_initializer = U.get_init(gamma_initializer)
    layer.beta_regularizer = U.get_reg(beta_regularizer)
    layer.gamma_regularizer = U.get_reg(gamma_regularizer)
    layer.beta_constraint = U.get_con(beta_constraint)
    layer.gamma_constraint = U.get_con(gamma_constraint)
    layer.gamma = None
    layer.beta = None


def _add_gamma_beta(layer, shape, **kwargs):
    """gamma (if `scale`) then beta (if `center`), of `shape`."""
    if layer.scale:
        layer.gamma = layer.add_weight(shape=shape, name="gamma",
                                       initializer=layer.gamma_initializer,
                                       regularizer=layer.gamma_regularizer,
                                       constraint=layer.gamma_constraint, **kwargs)
    if layer.center:
        layer.beta = layer.add_weight(shape=shape, name="beta",
                                      initializer=layer.beta_initializer,
                                      regularizer=layer.beta_regularizer,
                                      constraint=layer.beta_constraint, **kwargs)


def _gamma_beta_config(layer):
    return {"center": layer.center, "scale": layer.scale,
            "beta_initializer": U.ser_init(layer.beta_initializer),
            "gamma_initializer": U.ser_init(layer.gamma_initializer),
            "beta_regularizer": U.ser_reg(layer.beta_regularizer),
            "gamma_regularizer": U.ser_reg(layer.gamma_regularizer),
            "beta_constraint": U.ser_con(layer.beta_constraint),
            "gamma_constraint": U.ser_con(layer.gamma_constraint)}


def _distribute():
    """tf.distribute's Keras hooks (distribute/keras_hooks.py), or None when tf.distribute was
    never imported (then there is one replica)."""
    import sys
    if "tenfold.distribute.strategy" not in sys.modules:
        return None
    from tenfold.distribute import keras_hooks
    return keras_hooks


class BatchNormalization(Layer):
    """Normalises each feature with the batch's mean and variance in training (updating
    `moving_mean` / `moving_variance` with `momentum`), and with the moving statistics at
    inference. Weights, in order: gamma, beta, moving_mean, moving_variance."""
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, **kwargs):
        kwargs.pop("fused", None)
        kwargs.pop("virtual_batch_size", None)
        kwargs.pop("adjustment", None)
        super().__init__(**kwargs)
        if renorm:
            raise NotImplementedError("BatchNormalization(renorm=True) is not supported by "
                                      "tenfold yet.")
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization: `axis` must be a single integer, got "
                                 f"{axis}")
            axis = axis[0]
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = synchronized
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        _set_gamma_beta_options(self, center, scale, beta_initializer, gamma_initializer,
                                beta_regularizer, gamma_regularizer, beta_constraint,
                                gamma_constraint)
        self.moving_mean_initializer = U.get_init(moving_mean_initializer)
        self.moving_variance_initializer = U.get_init(moving_variance_initializer)
        self.moving_mean = None
        self.moving_variance = None

    def build(self, input_shape):
        nd = len(input_shape)
        if not -nd <= self.axis < nd:
            raise ValueError(f"BatchNormalization layer \"{self.name}\": axis={self.axis} is "
                             f"out of range for input shape {tuple(input_shape)}.")
        ax = self.axis % nd
        dim = input_shape[ax]
        if dim is None:
            raise ValueError(f"BatchNormalization layer \"{self.name}\": the normalised axis "
                             f"{self.axis} must have a known size, got input shape "
                             f"{tuple(input_shape)}.")
        shape = (dim,)
        _add_gamma_beta(self, shape, autocast=False)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False, autocast=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False, autocast=False)
        self.input_spec = InputSpec(ndim=nd, axes={self.axis: dim})
        self._reduction_axes = [i for i in range(nd) if i != ax]
        self._bshape = [1] * nd
        self._bshape[ax] = dim
        self.built = True

    def _b(self, v):
        """A per-feature vector shaped to broadcast against the inputs."""
        if self.axis in (-1, len(self._bshape) - 1):
            return v
        return a.reshape(v, self._bshape)

    def _fused_train(self, x, mm, mv):
        """Training forward as one primitive (ops/fused_ops.batch_norm_train, the chain in
        call() is its unfused twin); the moving statistics from the moments it kept."""
        from tenfold.ops import fused_ops
        c = int(x.shape[-1])
        gamma = _cast_like(self.gamma, x) if self.gamma is not None else a.ones((c,), x.dtype)
        beta = _cast_like(self.beta, x) if self.beta is not None else a.zeros((c,), x.dtype)
        y = fused_ops.batch_norm_train(x, gamma, beta, epsilon=self.epsilon)
        stats = a.stop_gradient(fused_ops.batch_norm_stats(x, y))
        mom = self.momentum
        self.moving_mean.assign(_cast_like(
            m.add(m.multiply(a.stop_gradient(mm), mom), m.multiply(stats[0], 1.0 - mom)),
            self.moving_mean))
        self.moving_variance.assign(_cast_like(
            m.add(m.multiply(a.stop_gradient(mv), mom), m.multiply(stats[1], 1.0 - mom)),
            self.moving_variance))
        return y

    def _moments(self, x, mask):
        axes = self._reduction_axes
        synced = _distribute().synchronized_moments(x, axes) \
            if self.synchronized and mask is None and _distribute() is not None else None
        if synced is not None:  # tf.distribute: over every replica's batch
            mean, var = synced
        elif mask is None:
            mean = m.reduce_mean(x, axis=axes, keepdims=True)
            var = m.reduce_mean(m.square(m.subtract(x, mean)), axis=axes, keepdims=True)
        else:
            mk = a.broadcast_to(a.expand_dims(m.cast(mask, "bool"), -1), tuple(x.shape))
            w = m.cast(mk, x.dtype)
            from tenfold.keras import backend
            eps = backend.epsilon()
            cnt = m.add(m.reduce_sum(w, axis=axes, keepdims=True), eps)
            mean = m.divide(m.reduce_sum(m.multiply(x, w), axis=axes, keepdims=True), cnt)
            d = m.multiply(m.subtract(x, mean), w)
            var = m.divide(m.reduce_sum(m.square(d), axis=axes, keepdims=True), cnt)
        return a.reshape(mean, (-1,)), a.reshape(var, (-1,))

    def call(self, inputs, training=None, mask=None):
        if mask is not None and mask.ndim != inputs.ndim - 1:
            raise ValueError(f"BatchNormalization layer \"{self.name}\": the mask must have one "
                             f"dimension less than the inputs, got mask.shape="
                             f"{tuple(mask.shape)}, inputs.shape={tuple(inputs.shape)}.")
        x = _upcast(inputs)
        mm = _cast_like(self.moving_mean, x)
        mv = _cast_like(self.moving_variance, x)
        if training and self.trainable and _fused_ok(self, x, mask):
            return _to_compute_dtype(self, self._fused_train(x, mm, mv))
        if training and self.trainable:
            if _distribute() is not None and _distribute().several_replicas():
                # tf.distribute: read the moving statistics before the replicas synchronise,
                # so every replica computes (and writes) the same new values
                mm, mv = a.identity(mm), a.identity(mv)
            mean, var = self._moments(x, mask)
            mom = self.momentum
            new_mean, new_var = mean, var
            if _distribute() is not None and not self.synchronized:  # tf.distribute: the
                new_mean, new_var = _distribute().replica_mean_of_statistics([mean, var])
            self.moving_mean.assign(_cast_like(
                m.add(m.multiply(a.stop_gradient(mm), mom),
                      m.multiply(a.stop_gradient(new_mean), 1.0 - mom)), self.moving_mean))
            self.moving_variance.assign(_cast_like(
                m.add(m.multiply(a.stop_gradient(mv), mom),
                      m.multiply(a.stop_gradient(new_var), 1.0 - mom)), self.moving_variance))
        else:
            mean, var = mm, mv
        inv = m.rsqrt(m.add(var, self.epsilon))
        if self.gamma is not None:
            inv = m.multiply(inv, _cast_like(self.gamma, x))
        shift = m.negative(m.multiply(mean, inv))
        if self.beta is not None:
            shift = m.add(shift, _cast_like(self.beta, x))
        out = m.add(m.multiply(x, self._b(inv)), self._b(shift))
        return _to_compute_dtype(self, out)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            **_gamma_beta_config(self),
            "moving_mean_initializer": U.ser_init(self.moving_mean_initializer),
            "moving_variance_initializer": U.ser_init(self.moving_variance_initializer),
            "synchronized": self.synchronized, "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum})
        return config


class SyncBatchNormalization(BatchNormalization):
    """`tf.keras.layers.experimental.SyncBatchNormalization`: BatchNormalization whose batch
    statistics cover every replica's batch under tf.distribute (`synchronized=True`)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, **kwargs):
        kwargs.pop("synchronized", None)
        super().__init__(axis=axis, momentum=momentum, epsilon=epsilon, synchronized=True,
                         **kwargs)


def _fused_ok(layer, x, mask):
    """Whether BatchNormalization's training forward can be the fused primitive: no mask,
    the last axis normalised, float32/float64, and at most one tape recording (the fused
    backward has no second derivative; nested tapes get the unfused chain)."""
    from tenfold.backend import kernels
    if kernels.LEGACY or mask is not None or x.dtype not in (dtypes.float32, dtypes.float64):
        return False
    if layer.axis not in (-1, len(layer._bshape) - 1) or len(layer._bshape) < 2:
        return False
    from tenfold.autodiff.tape import recording_tapes
    if _distribute() is not None and _distribute()._step_replicas() is not None:
        return False  # tf.distribute: the chain, whose statistics the replicas share
    return recording_tapes() <= 1


def _axes_list(axis):
    if isinstance(axis, (list, tuple)):
        return [int(v) for v in axis]
    return [int(axis)]


class LayerNormalization(Layer):
    """Normalises each sample over `axis` (default the last): (x - mean) / sqrt(var + eps),
    then scales by gamma and shifts by beta. Weights: gamma, beta."""
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)
        self.rms_scaling = bool(rms_scaling)
        _set_gamma_beta_options(self, center, scale, beta_initializer, gamma_initializer,
                                beta_regularizer, gamma_regularizer, beta_constraint,
                                gamma_constraint)

    def build(self, input_shape):
        nd = len(input_shape)
        axes = _axes_list(self.axis)
        for ax in axes:
            if not -nd <= ax < nd:
                raise ValueError(f"LayerNormalization layer \"{self.name}\": axis={self.axis} "
                                 f"is out of range for input shape {tuple(input_shape)}.")
        self._axes = sorted(ax % nd for ax in axes)
        shape = tuple(input_shape[ax] for ax in self._axes)
        _add_gamma_beta(self, shape, autocast=False)
        self._bshape = [1] * nd
        for ax in self._axes:
            self._bshape[ax] = input_shape[ax]
        self._needs_reshape = self._axes != [nd - 1]
        self.built = True

    def _b(self, v):
        v = v if not self._needs_reshape else a.reshape(v, self._bshape)
        return v

    def call(self, inputs):
        x = _upcast(inputs)
        axes = self._axes
        if self.rms_scaling:
            mean = m.reduce_mean(x, axis=axes, keepdims=True)
            var = m.reduce_mean(m.square(m.subtract(x, mean)), axis=axes, keepdims=True)
            out = m.multiply(x, m.rsqrt(m.add(var, self.epsilon)))
            if self.gamma is not None:
                out = m.multiply(out, self._b(_cast_like(self.gamma, x)))
        elif self._fusable(x):
            # one kernel each way (fused_ops.layer_norm; its twin is the branch below)
            from tenfold.ops import fused_ops
            out = fused_ops.layer_norm(x, _cast_like(self.gamma, x), _cast_like(self.beta, x),
                                       epsilon=self.epsilon)
        else:
            mean = m.reduce_mean(x, axis=axes, keepdims=True)
            var = m.reduce_mean(m.square(m.subtract(x, mean)), axis=axes, keepdims=True)
            inv = m.rsqrt(m.add(var, self.epsilon))
            if self.gamma is not None:
                inv = m.multiply(inv, self._b(_cast_like(self.gamma, x)))
            res = m.negative(m.multiply(mean, inv))
            if self.beta is not None:
                res = m.add(res, self._b(_cast_like(self.beta, x)))
            out = m.add(m.multiply(x, inv), res)
        return _to_compute_dtype(self, out)

    def _fusable(self, x):
        """Whether the one-kernel layer_norm primitive applies: the last axis, gamma and beta,
        float32/float64, and one (non-persistent) GradientTape recording — a training step.
        Without a tape the composed ops run (inference graphs keep the ops that export
        lowers, as TensorFlow's); with nested or persistent tapes too, since the one-pass
        backward has no second derivative."""
        if self._needs_reshape or self.gamma is None or self.beta is None or \
                x.dtype.name not in ("float32", "float64"):
            return False
        tapes = [o for o in _STATE.observers if isinstance(o, _GradientTape)]
        return len(tapes) == 1 and not tapes[0]._persistent

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "epsilon": self.epsilon, **_gamma_beta_config(self),
            "rms_scaling": self.rms_scaling})
        return config


class GroupNormalization(Layer):
    """Normalises groups of channels per sample (`groups` must divide the channels)."""
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)

    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        _set_gamma_beta_options(self, center, scale, beta_initializer, gamma_initializer,
                                beta_regularizer, gamma_regularizer, beta_constraint,
                                gamma_constraint)

    def build(self, input_shape):
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"GroupNormalization layer \"{self.name}\": axis {self.axis} must "
                             f"have a known size, got input shape {tuple(input_shape)}.")
        if dim < self.groups or dim % self.groups:
            raise ValueError(f"GroupNormalization layer \"{self.name}\": groups={self.groups} "
                             f"must divide the number of channels ({dim}) of input shape "
                             f"{tuple(input_shape)}.")
        _add_gamma_beta(self, (dim,))
        self.built = True

    def call(self, inputs):
        x = _upcast(inputs)
        nd = x.ndim
        ax = self.axis % nd
        shape = tuple(x.shape)
        c = shape[ax]
        gshape = shape[:ax] + (self.groups, c // self.groups) + shape[ax + 1:]
        xg = a.reshape(x, gshape)
        red = [i for i in range(1, nd + 1) if i != ax]
        mean = m.reduce_mean(xg, axis=red, keepdims=True)
        var = m.reduce_mean(m.square(m.subtract(xg, mean)), axis=red, keepdims=True)
        xn = m.multiply(m.subtract(xg, mean), m.rsqrt(m.add(var, self.epsilon)))
        out = a.reshape(xn, shape)
        bshape = [1] * nd
        bshape[ax] = c
        if self.gamma is not None:
            out = m.multiply(out, a.reshape(_cast_like(self.gamma, x), bshape))
        if self.beta is not None:
            out = m.add(out, a.reshape(_cast_like(self.beta, x), bshape))
        return _to_compute_dtype(self, out)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
            **_gamma_beta_config(self)})
        return config


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs):
        x = _upcast(inputs)
        out = nn.l2_normalize(x, axis=self.axis, epsilon=1e-12)
        return _to_compute_dtype(self, out)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
