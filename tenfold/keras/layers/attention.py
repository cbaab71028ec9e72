"""Attention layers: Attention (dot-product, Luong), AdditiveAttention (Bahdanau) and
MultiHeadAttention (Vaswani et al.), with Keras 3's weights and masking rules."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.layers.layer import Layer
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn
from tenfold.ops import fused_ops as _fused
from tenfold.ops._convert import tensor
from tenfold.framework.host import from_host


def _bool(x):
    x = tensor(x)
    return x if x.dtype.is_bool else m.cast(x, "bool")


def _causal(tq, tv):
    return from_host(np.tril(np.ones((1, tq, tv), dtype=bool)))


class _BaseDenseAttention(Layer):
    supports_masking = True
    _name_for_errors = "Attention"

    def __init__(self, use_scale=False, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.dropout = float(dropout)
        self.seed = seed
        self.scale = None

    def _validate(self, inputs, mask=None):
        cls = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{cls} layer \"{self.name}\" must be called on a list of 2 or 3 "
                             "tensors: [query, value] or [query, value, key].")
        if mask is not None and (not isinstance(mask, (list, tuple)) or
                                 len(mask) not in (2, 3)):
            raise ValueError(f"{cls} layer \"{self.name}\": mask must be a list [query_mask, "
                             "value_mask] (or with key_mask).")

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if q.ndim != 3 or k.ndim != 3 or v.ndim != 3:
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\" expects query, value "
                             f"and key of shape (batch, steps, dim), got "
                             f"{[tuple(x.shape) for x in inputs]}.")
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\": query and key must "
                             f"have the same last dimension, got query {tuple(q.shape)} and "
                             f"key {tuple(k.shape)}.")
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._scores(q, k)
        smask = None
        if v_mask is not None:
            smask = a.expand_dims(_bool(v_mask), -2)
        if use_causal_mask:
            c = _causal(scores.shape[-2], scores.shape[-1])
            smask = c if smask is None else m.logical_and(smask, c)
        if smask is not None:
            big = 65504.0 if scores.dtype.name == "float16" else 1.0e9
            pad = m.cast(m.logical_not(smask), scores.dtype)
            scores = m.subtract(scores, m.multiply(pad, big))
        weights = nn.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = nn.dropout(weights, self.dropout, seed=self.seed)
        out = m.matmul(weights, v)
        if q_mask is not None:
            out = m.multiply(out, m.cast(a.expand_dims(_bool(q_mask), -1), out.dtype))
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)) or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        return tuple(q[:-1]) + (v[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"use_scale": self.use_scale, "dropout": self.dropout,
                       "seed": self.seed})
        return config


class Attention(_BaseDenseAttention):
    """Dot-product attention: softmax(query @ key^T [* scale]) @ value; called on
    [query, value] or [query, value, key]. `score_mode='concat'` uses
    sum(tanh(query + key))."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got "
                             f"{score_mode!r}")
        self.score_mode = score_mode
        self.concat_score_weight = None

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones")
        self.built = True

    def _scores(self, q, k):
        if self.score_mode == "dot":
            s = m.matmul(q, k, transpose_b=True)
            if self.scale is not None:
                s = m.multiply(s, self.scale)
            return s
        qk = m.add(a.expand_dims(q, -2), a.expand_dims(k, -3))
        if self.scale is not None:
            qk = m.multiply(qk, self.scale)
        return m.multiply(m.reduce_sum(m.tanh(qk), axis=-1), self.concat_score_weight)

    def get_config(self):
        config = super().get_config()
        out = {}
        for k, v in config.items():
            out[k] = v
            if k == "use_scale":
                out["score_mode"] = self.score_mode
        return out


class AdditiveAttention(_BaseDenseAttention):
    """Additive (Bahdanau) attention: scores sum(scale * tanh(query + key))."""

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        dim = input_shape[0][-1]
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,),
                                         initializer="glorot_uniform")
        self.built = True

    def _scores(self, q, k):
        t = m.tanh(m.add(a.expand_dims(q, -2), a.expand_dims(k, -3)))
        if self.scale is not None:
            t = m.multiply(t, self.scale)
        return m.reduce_sum(t, axis=-1)


class _HeadDense(Layer):
    """A projection with Keras's EinsumDense layouts for multi-head attention.

    mode 'in':  (..., dim) -> (..., heads, size), kernel (dim, heads, size), bias (heads, size)
    mode 'out': (..., heads, size) -> (..., out), kernel (heads, size, out), bias (out,)
    """

    def __init__(self, mode, heads, size, use_bias, kernel_initializer, bias_initializer,
                 kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint,
                 **kwargs):
        super().__init__(**kwargs)
        self.mode, self.heads, self.size, self.use_bias = mode, heads, size, use_bias
        self._init = (kernel_initializer, bias_initializer)
        self._reg = (kernel_regularizer, bias_regularizer)
        self._con = (kernel_constraint, bias_constraint)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        if self.mode == "in":
            kshape, bshape = (input_shape[-1], self.heads, self.size), (self.heads, self.size)
        else:
            kshape, bshape = (self.heads, input_shape[-1], self.size), (self.size,)
        self.kernel = self.add_weight(name="kernel", shape=kshape, initializer=self._init[0],
                                      regularizer=self._reg[0], constraint=self._con[0])
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=bshape, initializer=self._init[1],
                                        regularizer=self._reg[1], constraint=self._con[1])
        self.built = True

    def call(self, x):
        s = tuple(x.shape)
        k = self.kernel
        if self.mode == "in":
            y = m.matmul(a.reshape(x, (-1, s[-1])), a.reshape(k, (s[-1], -1)))
            y = a.reshape(y, s[:-1] + (self.heads, self.size))
        else:
            n = s[-2] * s[-1]
            y = m.matmul(a.reshape(x, (-1, n)), a.reshape(k, (n, self.size)))
            y = a.reshape(y, s[:-2] + (self.size,))
        if self.bias is not None:
            y = m.add(y, self.bias)
        return y


class MultiHeadAttention(Layer):
    """Multi-head attention: `MultiHeadAttention(num_heads, key_dim)(query, value[, key])`.

    Weights (Keras's order and shapes): query/kernel (dim, heads, key_dim), query/bias,
    key/kernel, key/bias, value/kernel (dim_v, heads, value_dim), value/bias,
    attention_output/kernel (heads, value_dim, out_dim), attention_output/bias.
    """
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, use_gate=False, sliding_window=None, flash_attention=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if use_gate:
            raise NotImplementedError("MultiHeadAttention(use_gate=True) is not supported by "
                                      "tenfold yet.")
        if sliding_window is not None:
            raise NotImplementedError("MultiHeadAttention(sliding_window=...) is not supported "
                                      "by tenfold yet.")
        self.supports_masking = True
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None and not isinstance(output_shape, (list, tuple)):
            output_shape = (output_shape,)
        self._output_shape = None if output_shape is None else tuple(output_shape)
        if attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            attention_axes = (attention_axes,)
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        U.set_kernel_bias_options(self, kernel_initializer, bias_initializer,
                                  kernel_regularizer, bias_regularizer, kernel_constraint,
                                  bias_constraint)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / float(np.sqrt(self.key_dim))
        # attribute order = weight order
        self._query_dense = None
        self._key_dense = None
        self._value_dense = None
        self._output_dense = None

    @property
    def output_shape_arg(self):
        return self._output_shape

    def _dense(self, mode, size, name):
        return _HeadDense(mode, self.num_heads, size, self.use_bias,
                          U.get_init(U.ser_init(self.kernel_initializer)),
                          U.get_init(U.ser_init(self.bias_initializer)),
                          self.kernel_regularizer, self.bias_regularizer,
                          self.kernel_constraint, self.bias_constraint, name=name,
                          dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            self.built = True  # projections are made on the first call, when value is known
            return
        key_shape = value_shape if key_shape is None else key_shape
        self._make(query_shape, value_shape, key_shape)
        self.built = True

    def get_build_config(self):
        shapes = self.__dict__.get("_mha_shapes")
        return None if shapes is None else {"shapes_dict": dict(shapes)}

    def build_from_config(self, config):
        if not config:
            return
        if "shapes_dict" in config:
            self.build(**config["shapes_dict"])
        elif config.get("input_shape") is not None:
            self.build(config["input_shape"])
        self.built = True

    def _make(self, query_shape, value_shape, key_shape):
        self._mha_shapes = {"query_shape": tuple(query_shape),
                            "value_shape": tuple(value_shape),
                            "key_shape": tuple(key_shape)}
        out_dim = self._output_shape[-1] if self._output_shape else query_shape[-1]
        self._query_dense = self._dense("in", self.key_dim, "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._dense("in", self.key_dim, "key")
        self._key_dense.build(key_shape)
        self._value_dense = self._dense("in", self.value_dim, "value")
        self._value_dense.build(value_shape)
        self._output_dense = self._dense("out", out_dim, "attention_output")
        self._output_dense.build((None, self.num_heads, self.value_dim))

    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    def _attention_mask(self, q, v, query_mask, value_mask, key_mask, attention_mask,
                        use_causal_mask):
        auto = None
        if query_mask is not None:
            auto = a.expand_dims(_bool(query_mask), -1)
        for mk in (value_mask, key_mask):
            if mk is not None:
                x = a.expand_dims(_bool(mk), -2)
                auto = x if auto is None else m.logical_and(auto, x)
        if use_causal_mask:
            c = _causal(q.shape[1], v.shape[1])
            auto = c if auto is None else m.logical_and(auto, c)
        if attention_mask is not None:
            attention_mask = _bool(attention_mask)
            return attention_mask if auto is None else m.logical_and(attention_mask, auto)
        return auto

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if key is None:
            key = value
        query = tensor(query)
        value = self._convert_inputs(value) if not isinstance(value, Tensor) else value
        key = value if key is value else (self._convert_inputs(key) if not isinstance(key, Tensor) else key)
        qm = getattr(query, "_keras_mask", None)
        query_mask = qm if qm is not None else query_mask
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key_mask is None and key is not value:
            key_mask = getattr(key, "_keras_mask", None)
        for name, x in (("query", query), ("value", value), ("key", key)):
            if x.ndim < 3:
                raise ValueError(f"MultiHeadAttention layer \"{self.name}\": {name} must have "
                                 f"shape (batch, steps, dim), got {tuple(x.shape)}.")
        qs = tuple(query.shape)
        # rank > 3 with attention over all inner axes: flatten them
        flat = query.ndim > 3
        if self.attention_axes is not None:
            inner = tuple(range(1, query.ndim - 1))
            if tuple(ax % query.ndim for ax in self.attention_axes) != inner:
                raise NotImplementedError(
                    "MultiHeadAttention: tenfold supports attention over all the axes between "
                    "batch and features (attention_axes=None) only.")
        if flat:
            query = a.reshape(query, (qs[0], -1, qs[-1]))
            value = a.reshape(value, (value.shape[0], -1, value.shape[-1]))
            key = a.reshape(key, (key.shape[0], -1, key.shape[-1]))
            query_mask = None if query_mask is None else a.reshape(query_mask, (qs[0], -1))
            value_mask = None if value_mask is None else \
                a.reshape(value_mask, (value.shape[0], -1))
            key_mask = None if key_mask is None else a.reshape(key_mask, (key.shape[0], -1))
        if self._query_dense is None:
            self._make(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        if query.shape[-1] != self._query_dense.kernel.shape[0] or \
                value.shape[-1] != self._value_dense.kernel.shape[0] or \
                key.shape[-1] != self._key_dense.kernel.shape[0]:
            raise ValueError(
                f"MultiHeadAttention layer \"{self.name}\" was built for query/value/key "
                f"feature sizes {self._query_dense.kernel.shape[0]}/"
                f"{self._value_dense.kernel.shape[0]}/{self._key_dense.kernel.shape[0]}, got "
                f"{query.shape[-1]}/{value.shape[-1]}/{key.shape[-1]}.")
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask,
                                    attention_mask, use_causal_mask)
        q = self._query_dense(query)           # (B, T, H, K)
        k = self._key_dense(key)               # (B, S, H, K)
        v = self._value_dense(value)           # (B, S, H, V)
        q = m.multiply(q, self._inverse_sqrt_key_dim)
        if mask is None and not return_attention_scores and \
                not (training and self.dropout > 0) and _one_tape():
            # softmax(q k^T) v as one primitive: the scores never reach memory
            out = self._output_dense(_fused.attention(q, k, v))
            return self._reshaped(out, qs, flat)
        qh = a.transpose(q, (0, 2, 1, 3))
        kh = a.transpose(k, (0, 2, 1, 3))
        vh = a.transpose(v, (0, 2, 1, 3))
        # heads_matmul: matmul, with the gradients of q, k, v and the context written in the
        # (B, T, H, K) layouts the projections use (no copies before their GEMMs)
        scores = _fused.heads_matmul(qh, kh, transpose_b=True,
                                     swap_grads=(True, True))  # (B, H, T, S)
        zero_masked = self.dropout > 0 or return_attention_scores
        if mask is not None:
            while mask.ndim < 4:
                mask = a.expand_dims(mask, -3)
            big = -3e4 if scores.dtype.name == "float16" else -1e9
            scores = m.where(a.broadcast_to(mask, tuple(scores.shape)), scores,
                             m.multiply(m.ones_like(scores), big))
        probs = nn.softmax(scores, axis=-1)
        if mask is not None and zero_masked:
            probs = m.multiply(probs, m.cast(mask, probs.dtype))
        dropped = probs
        if training and self.dropout > 0:
            dropped = nn.dropout(probs, self.dropout, seed=self.seed)
        out = _fused.heads_matmul(dropped, vh, swap_out=True,
                                  swap_grads=(False, True))  # (B, T, H, V)
        out = self._reshaped(self._output_dense(out), qs, flat)
        if return_attention_scores:
            return out, probs
        return out

    def _reshaped(self, out, qs, flat):
        """The output projection's result in the query's shape (inner axes unflattened)."""
        if flat:
            out = a.reshape(out, qs[:-1] + (out.shape[-1],))
        if self._output_shape is not None and len(self._output_shape) > 1:
            out = a.reshape(out, tuple(out.shape[:-1][:1]) + tuple(qs[1:-1]) +
                            self._output_shape)
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if self._output_shape:
            return tuple(query_shape[:-1]) + tuple(self._output_shape)
        return tuple(query_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads, "key_dim": self.key_dim,
            "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
            "use_gate": False, "output_shape": self._output_shape,
            "attention_axes": self.attention_axes, "sliding_window": None,
            **U.weight_options_config(self, ("kernel", "bias"), activity=True),
            "seed": self.seed})
        return config


def _one_tape():
    """At most one GradientTape recording: fused attention's backward has no second
    derivative, so nested tapes get the unfused ops."""
    from tenfold.autodiff.tape import recording_tapes
    return recording_tapes() <= 1
