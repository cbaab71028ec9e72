"""`tf.nn`. Convolution and pooling come from `tenfold.ops.conv_ops`."""
from tenfold.ops.nn_ops import (  # noqa: F401
    relu, relu6, crelu, elu, selu, gelu, silu, swish, leaky_relu, softmax, log_softmax,
    softsign, softplus, sigmoid, tanh, log_sigmoid, dropout, stateless_dropout, moments,
    weighted_moments, normalize_moments, batch_normalization, fused_batch_norm,
    softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits, weighted_cross_entropy_with_logits, l2_loss,
    l2_normalize, bias_add, embedding_lookup, log_poisson_loss, compute_average_loss,
    scale_regularization_loss, zero_fraction, top_k, in_top_k, space_to_depth, depth_to_space,
    erf)

import types as _types

experimental = _types.SimpleNamespace(stateless_dropout=stateless_dropout)

try:
    from tenfold.ops.conv_ops import *  # noqa: F401,F403
except ImportError:  # written by the convolution work; absent until then
    pass
