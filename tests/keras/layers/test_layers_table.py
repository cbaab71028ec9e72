"""Every layer, table-driven: outputs against Keras 3 with the same weights, gradients by
finite differences (float64), get_config / from_config round trips and config parity."""
import numpy as np
import pytest

from layers_oracle import (compare_with_keras, grad_check, keras_module, normalize_config,
                           to_np)
from tenfold.keras import layers as L


class Case:
    def __init__(self, name, kwargs, shapes, call=None, call_kwargs=None, grad=True,
                 keras=True, atol=2e-5, grad_inputs=True, config=True, id=None):
        self.name, self.kwargs, self.shapes = name, kwargs, shapes
        self.call, self.call_kwargs = call, call_kwargs or {}
        self.grad, self.keras, self.atol = grad, keras, atol
        self.grad_inputs, self.config = grad_inputs, config
        self.id = id or name


def make_inputs(shapes, seed=1):
    rng = np.random.default_rng(seed)

    def one(s):
        if isinstance(s, tuple) and s and s[0] == "int":
            return rng.integers(0, s[2], size=s[1]).astype("int32")
        return rng.standard_normal(s).astype("float32")
    if isinstance(shapes, list):
        return [one(s) for s in shapes]
    return one(shapes)


def two_inputs(layer, x, **kw):
    return layer(x[0], x[1], **kw)


S3 = (2, 5, 3)
IMG = (2, 6, 7, 3)

CASES = [
    # core
    Case("Dense", dict(units=4, activation="relu"), (3, 5)),
    Case("Dense", dict(units=4, use_bias=False), (2, 3, 5), id="Dense-3d"),
    Case("Activation", dict(activation="tanh"), S3),
    Case("Dropout", dict(rate=0.5), S3),
    Case("Flatten", dict(), (2, 3, 4)),
    Case("Reshape", dict(target_shape=(4, 3)), (2, 3, 4)),
    Case("Reshape", dict(target_shape=(-1, 2)), (2, 3, 4), id="Reshape-minus1"),
    Case("Permute", dict(dims=(2, 1)), S3),
    Case("RepeatVector", dict(n=3), (2, 4)),
    Case("Identity", dict(), S3),
    Case("Masking", dict(mask_value=0.0), S3),
    Case("Embedding", dict(input_dim=7, output_dim=3), ("int", (2, 5), 7)),
    # activation layers
    Case("ReLU", dict(max_value=1.0, negative_slope=0.1), S3),
    Case("ReLU", dict(threshold=0.3), S3, id="ReLU-threshold"),
    Case("LeakyReLU", dict(negative_slope=0.2), S3),
    Case("Softmax", dict(axis=1), S3),
    Case("ELU", dict(alpha=0.5), S3),
    Case("PReLU", dict(shared_axes=[1]), S3),
    # merging
    Case("Add", dict(), [S3, S3, S3]),
    Case("Subtract", dict(), [S3, S3]),
    Case("Multiply", dict(), [S3, S3]),
    Case("Average", dict(), [S3, S3]),
    Case("Maximum", dict(), [S3, S3]),
    Case("Minimum", dict(), [S3, S3]),
    Case("Concatenate", dict(axis=1), [S3, (2, 2, 3)]),
    Case("Dot", dict(axes=(1, 2)), [(2, 4, 3), (2, 5, 4)]),
    Case("Dot", dict(axes=-1, normalize=True), [(2, 4), (2, 4)], id="Dot-normalize"),
    # reshaping
    Case("ZeroPadding1D", dict(padding=(1, 2)), S3),
    Case("ZeroPadding2D", dict(padding=((1, 2), (0, 1))), IMG),
    Case("UpSampling1D", dict(size=3), S3),
    Case("UpSampling2D", dict(size=(2, 3)), IMG),
    Case("UpSampling2D", dict(size=2, interpolation="bilinear"), IMG, id="UpSampling2D-bilinear"),
    Case("Cropping1D", dict(cropping=(1, 2)), S3),
    Case("Cropping2D", dict(cropping=((1, 0), (1, 2))), IMG),
    # pooling
    Case("MaxPooling1D", dict(pool_size=2), S3),
    Case("MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), IMG),
    Case("AveragePooling1D", dict(pool_size=3, strides=1, padding="same"), S3),
    Case("AveragePooling2D", dict(pool_size=2), IMG),
    Case("GlobalAveragePooling1D", dict(), S3),
    Case("GlobalAveragePooling2D", dict(keepdims=True), IMG),
    Case("GlobalMaxPooling1D", dict(), S3),
    Case("GlobalMaxPooling2D", dict(), IMG),
    # convolutions
    Case("Conv1D", dict(filters=4, kernel_size=3, padding="causal", activation="tanh"), S3),
    Case("Conv2D", dict(filters=4, kernel_size=3, strides=2, padding="same"), IMG),
    Case("Conv2D", dict(filters=4, kernel_size=(2, 3), dilation_rate=2), (2, 7, 8, 2),
         id="Conv2D-dilated"),
    Case("Conv2D", dict(filters=4, kernel_size=3, groups=2), (2, 6, 6, 4), id="Conv2D-groups"),
    Case("Conv1DTranspose", dict(filters=2, kernel_size=3, strides=2), S3),
    Case("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same"), IMG),
    Case("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2), IMG),
    Case("SeparableConv2D", dict(filters=4, kernel_size=3, padding="same"), IMG),
    Case("SeparableConv1D", dict(filters=4, kernel_size=2), S3),
    # normalization
    Case("BatchNormalization", dict(), S3),
    Case("BatchNormalization", dict(), S3, call_kwargs=dict(training=True),
         id="BatchNormalization-training"),
    Case("BatchNormalization", dict(axis=1, center=False), IMG, id="BatchNormalization-axis1"),
    Case("LayerNormalization", dict(), S3),
    Case("LayerNormalization", dict(axis=[1, 2]), S3, id="LayerNormalization-axes"),
    Case("GroupNormalization", dict(groups=2), (2, 5, 4)),
    Case("UnitNormalization", dict(), S3),
    # preprocessing
    Case("Rescaling", dict(scale=0.5, offset=1.0), S3),
    Case("Normalization", dict(mean=[0.5, 1.0, -1.0], variance=[2.0, 0.5, 1.0]), S3),
    # regularization (inference: pass-through)
    Case("GaussianNoise", dict(stddev=0.5), S3),
    Case("GaussianDropout", dict(rate=0.5), S3),
    Case("SpatialDropout1D", dict(rate=0.5), S3),
    Case("SpatialDropout2D", dict(rate=0.5), IMG),
    Case("AlphaDropout", dict(rate=0.5), S3),
    Case("ActivityRegularization", dict(l1=0.1), S3),
    # recurrent
    Case("SimpleRNN", dict(units=4), S3),
    Case("SimpleRNN", dict(units=3, return_sequences=True, go_backwards=True), S3,
         id="SimpleRNN-backwards"),
    Case("LSTM", dict(units=3, return_sequences=True, return_state=True), S3),
    Case("LSTM", dict(units=2, activation="relu", unit_forget_bias=False), S3,
         id="LSTM-relu"),
    Case("GRU", dict(units=3), S3),
    Case("GRU", dict(units=3, reset_after=False, return_sequences=True), S3,
         id="GRU-reset-before"),
    Case("RNN", lambda l: dict(cell=l.LSTMCell(3), return_sequences=True), S3),
    Case("RNN", lambda l: dict(cell=[l.GRUCell(3), l.SimpleRNNCell(2)]), S3,
         id="RNN-stacked"),
    Case("Bidirectional", lambda l: dict(layer=l.LSTM(3, return_sequences=True)), S3),
    Case("Bidirectional", lambda l: dict(layer=l.GRU(2), merge_mode="sum"), S3,
         id="Bidirectional-sum"),
    Case("TimeDistributed", lambda l: dict(layer=l.Dense(3)), S3),
    # attention
    Case("Attention", dict(), [S3, (2, 4, 3)]),
    Case("Attention", dict(use_scale=True, score_mode="concat"), [S3, (2, 4, 3), (2, 4, 3)],
         id="Attention-concat"),
    Case("Attention", dict(), [S3, S3], call_kwargs=dict(use_causal_mask=True),
         id="Attention-causal"),
    Case("AdditiveAttention", dict(), [S3, (2, 4, 3)]),
    Case("MultiHeadAttention", dict(num_heads=2, key_dim=3), [S3, (2, 4, 6)],
         call=two_inputs),
    Case("MultiHeadAttention", dict(num_heads=2, key_dim=2, value_dim=3, output_shape=5),
         [S3, S3], call=two_inputs, call_kwargs=dict(use_causal_mask=True),
         id="MultiHeadAttention-causal"),
]


def _case_ids():
    seen = {}
    out = []
    for c in CASES:
        n = seen.get(c.id, 0)
        seen[c.id] = n + 1
        out.append(c.id if n == 0 else f"{c.id}-{n}")
    return out


@pytest.mark.parametrize("case", CASES, ids=_case_ids())
def test_matches_keras(case):
    if not case.keras:
        pytest.skip("no Keras oracle for this case")
    x = make_inputs(case.shapes)
    kl, tl = compare_with_keras(case.name, case.kwargs, x, call=case.call,
                                call_kwargs=case.call_kwargs, atol=case.atol, rtol=case.atol)
    if case.id == "BatchNormalization-training":
        # moving statistics were updated the same way in training
        for kw, tw in zip(kl.weights, tl.weights):
            np.testing.assert_allclose(np.asarray(kw.numpy() if hasattr(kw, "numpy") else kw),
                                       tw.numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=[
    i for c, i in zip(CASES, _case_ids()) if c.grad])
def test_gradients(case):
    x = make_inputs(case.shapes, seed=2)
    grad_check(case.name, case.kwargs, x, call=case.call, call_kwargs=case.call_kwargs,
               check_inputs=case.grad_inputs)


@pytest.mark.parametrize("case", [c for c in CASES if c.config], ids=[
    i for c, i in zip(CASES, _case_ids()) if c.config])
def test_config_round_trip_and_keras_parity(case):
    keras = keras_module()
    kk = case.kwargs(keras.layers) if callable(case.kwargs) else dict(case.kwargs)
    tk = case.kwargs(L) if callable(case.kwargs) else dict(case.kwargs)
    tl = getattr(L, case.name)(**tk)
    kl = getattr(keras.layers, case.name)(**kk)
    cfg = tl.get_config()
    # same keys and values as Keras 3 (names aside)
    assert normalize_config(cfg) == normalize_config(kl.get_config())
    # round trip through from_config
    again = type(tl).from_config(cfg)
    assert normalize_config(again.get_config()) == normalize_config(cfg)
    # configs cross over both ways
    from_keras = type(tl).from_config(kl.get_config())
    assert normalize_config(from_keras.get_config()) == normalize_config(cfg)
    back = type(kl).from_config(cfg)
    assert normalize_config(back.get_config()) == normalize_config(kl.get_config())


@pytest.mark.parametrize("case", CASES, ids=_case_ids())
def test_compute_output_shape(case):
    x = make_inputs(case.shapes)
    tk = case.kwargs(L) if callable(case.kwargs) else dict(case.kwargs)
    layer = getattr(L, case.name)(**tk)
    call = case.call or (lambda lyr, v, **kw: lyr(v, **kw))
    y = call(layer, x, **case.call_kwargs)
    if case.call is not None or case.name in ("Attention", "AdditiveAttention"):
        return  # several inputs: shapes are checked against Keras above
    shape = [tuple(s.shape) for s in x] if isinstance(x, list) else tuple(x.shape)
    got = layer.compute_output_shape(shape)
    ys = y if isinstance(y, (list, tuple)) else [y]
    gots = got if isinstance(got, list) else [got]
    assert [tuple(g) for g in gots] == [tuple(to_np(v).shape) for v in ys]
