"""ONNX export: every exported model is run by ONNX Runtime and compared with model.predict."""
import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the `onnx` package "
                                          "(pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests run the exported models "
                                                "with onnxruntime (pip install onnxruntime)")

import tenfold as tf  # noqa: E402
from tenfold import keras  # noqa: E402
from tenfold.export import onnx as onnx_export  # noqa: E402

L = keras.layers


def _randomize(model, seed=0):
    """Non-trivial biases, normalisation parameters and statistics (kernels keep their
    initialisation, so activations stay of order one)."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        path = (getattr(v, "path", None) or v.name).lower()
        shape = tuple(v.shape)
        if "moving_variance" in path:
            val = rng.uniform(0.5, 2.0, shape)
        elif any(k in path for k in ("bias", "beta", "moving_mean", "gamma", "alpha")):
            val = rng.normal(0.0, 0.3, shape) + (1.0 if "gamma" in path else 0.0)
        else:
            continue
        v.assign(val.astype(np.float32))
    return model


def _session(proto):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def _check(model, xs, opset=onnx_export.DEFAULT_OPSET, batches=None, **kw):
    """Exports, runs in ONNX Runtime, compares with model.predict (for each batch size)."""
    xs = xs if isinstance(xs, list) else [xs]
    proto = onnx_export.export(model, None, opset=opset, **kw)
    sess = _session(proto)
    names = [i.name for i in sess.get_inputs()]
    assert len(names) == len(xs)
    for n in (batches or [len(xs[0])]):
        feed = [x[:n] for x in xs]
        got = sess.run(None, dict(zip(names, feed)))
        ref = model.predict(feed if len(feed) > 1 else feed[0], verbose=0)
        ref = list(ref) if isinstance(ref, (list, tuple)) else [ref]
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g.shape == r.shape
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
    return proto, sess


def _x(shape, seed=1, dtype="float32"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# ---------------------------------------------------------------------------- dense / activations
ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "softplus",
               "softsign", "swish", "gelu", "hard_sigmoid", "hard_silu", "relu6",
               "leaky_relu", "mish", "exponential", "linear", "celu", "hard_tanh",
               "log_sigmoid", "tanh_shrink"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_activations(activation):
    model = _randomize(keras.Sequential([
        keras.Input((6,)), L.Dense(8, activation=activation), L.Dense(3)]))
    _check(model, _x((5, 6)))


@pytest.mark.parametrize("opset", [13, 18, 20])
def test_opsets_with_composed_or_native_ops(opset):
    model = _randomize(keras.Sequential([
        keras.Input((4, 6)), L.Dense(8, activation="gelu"), L.Dense(8, activation="mish"),
        L.Dense(8, activation="hard_silu"), L.LayerNormalization(),
        L.GlobalAveragePooling1D(), L.Dense(3)]))
    proto, _ = _check(model, _x((3, 4, 6)), opset=opset)
    assert proto.opset_import[0].version == opset


def test_dynamic_batch_and_names(tmp_path):
    inp = keras.Input((5,), name="features")
    out = L.Dense(2, name="scores")(L.Dense(7, activation="relu")(inp))
    model = _randomize(keras.Model(inp, out))
    path = tmp_path / "m.onnx"
    onnx_export.export(model, path)
    assert path.stat().st_size > 0
    sess = _session(onnx.load(str(path)))
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    assert (i.name, o.name) == ("features", "scores")
    assert i.shape[0] == "batch" and i.shape[1] == 5
    x = _x((9, 5))
    for n in (1, 4, 9):
        np.testing.assert_allclose(sess.run(None, {"features": x[:n]})[0],
                                   model.predict(x[:n], verbose=0), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- convolutions
def test_cnn_channels_last():
    model = _randomize(keras.Sequential([
        keras.Input((13, 11, 3)),
        L.Conv2D(6, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Conv2D(5, (3, 2), strides=2, padding="same"),
        L.ReLU(),
        L.AveragePooling2D(pool_size=3, strides=2, padding="same"),
        L.Conv2D(4, 2, dilation_rate=2, padding="same", use_bias=False),
        L.Conv2D(4, 1, padding="valid", groups=2),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(5, activation="softmax")]))
    _check(model, _x((4, 13, 11, 3)), batches=[1, 4])


def test_global_pooling_and_keepdims():
    inp = keras.Input((7, 6, 4))
    h = L.Conv2D(5, 3, padding="same")(inp)
    a = L.GlobalAveragePooling2D()(h)
    b = L.GlobalMaxPooling2D()(h)
    c = L.Flatten()(L.GlobalAveragePooling2D(keepdims=True)(h))
    model = _randomize(keras.Model(inp, L.Concatenate()([a, b, c])))
    _check(model, _x((3, 7, 6, 4)))


def test_conv1d_stack():
    model = _randomize(keras.Sequential([
        keras.Input((16, 3)),
        L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="tanh"),
        L.ZeroPadding1D((1, 2)),
        L.Conv1D(5, 4, strides=2, padding="same"),
        L.MaxPooling1D(2),
        L.UpSampling1D(3),
        L.Cropping1D((1, 0)),
        L.AveragePooling1D(2, padding="same"),
        L.Conv1D(4, 2),
        L.GlobalMaxPooling1D(),
        L.Dense(2)]))
    _check(model, _x((3, 16, 3)))


def test_conv_transpose_depthwise_separable():
    model = _randomize(keras.Sequential([
        keras.Input((6, 5, 3)),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2),
        L.Conv2DTranspose(5, 3, strides=2, padding="same"),
        L.Conv2DTranspose(3, 2, strides=2, padding="valid", activation="sigmoid"),
        L.Conv2DTranspose(2, 3, strides=1, padding="valid"),
        L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1),
        L.Conv2DTranspose(2, 2, strides=3, padding="same"),
        L.Conv2DTranspose(2, 2, strides=3, padding="valid", dilation_rate=1),
    ]))
    _check(model, _x((2, 6, 5, 3)))


def test_conv1d_transpose_and_depthwise1d():
    model = _randomize(keras.Sequential([
        keras.Input((9, 3)), L.DepthwiseConv1D(3, padding="same"),
        L.SeparableConv1D(4, 3, padding="valid"),
        L.Conv1DTranspose(3, 3, strides=2, padding="same"), L.Flatten()]))
    _check(model, _x((2, 9, 3)))


def test_channels_first_layers():
    model = _randomize(keras.Sequential([
        keras.Input((3, 8, 8)),
        L.Conv2D(4, 3, padding="same", data_format="channels_first", activation="relu"),
        L.BatchNormalization(axis=1),
        L.MaxPooling2D(data_format="channels_first"),
        L.ZeroPadding2D(1, data_format="channels_first"),
        L.UpSampling2D(data_format="channels_first"),
        L.GlobalAveragePooling2D(data_format="channels_first")]))
    _check(model, _x((2, 3, 8, 8)))


# ---------------------------------------------------------------------------- images / reshaping
def test_image_preprocessing_and_reshaping():
    inp = keras.Input((8, 6, 3))
    h = L.Rescaling(1.0 / 127.5, offset=-1.0)(inp)
    h = L.ZeroPadding2D(((1, 0), (2, 1)))(h)
    h = L.Conv2D(4, 3, activation="elu")(h)
    n = L.UpSampling2D((2, 1))(h)
    bl = L.UpSampling2D(2, interpolation="bilinear")(h)
    bl = L.Cropping2D(((1, 2), (0, 0)))(bl)
    h = L.Concatenate()([L.Cropping2D(((1, 2), (0, 0)))(n), L.MaxPooling2D((1, 2))(bl)])
    h = L.LeakyReLU(0.1)(h)
    h = L.ReLU(max_value=2.0, negative_slope=0.05, threshold=0.1)(h)
    h = L.Reshape((-1, 8))(h)
    h = L.Permute((2, 1))(h)
    h = L.Softmax(axis=1)(h)
    model = _randomize(keras.Model(inp, L.Flatten()(h)))
    x = np.random.default_rng(0).uniform(0, 255, (3, 8, 6, 3)).astype("float32")
    _check(model, x)


def test_uint8_input_signature():
    model = keras.Sequential([keras.Input((4, 4, 3)), L.Rescaling(1 / 255.0),
                              L.Conv2D(2, 3), L.GlobalMaxPooling2D()])
    spec = tf.TensorSpec((None, 4, 4, 3), "uint8")
    proto = onnx_export.export(model, None, input_signature=[spec])
    sess = _session(proto)
    assert sess.get_inputs()[0].type == "tensor(uint8)"
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype("uint8")
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0],
                               model.predict(x.astype("float32"), verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_unbuilt_sequential_needs_shape():
    model = keras.Sequential([L.Dense(3)])
    with pytest.raises(ValueError, match="no input shape"):
        onnx_export.export(model, None)
    proto = onnx_export.export(model, None, input_signature=[(None, 4)])
    sess = _session(proto)
    x = _x((2, 4))
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0],
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- functional graphs
def test_multi_input_multi_output_merges():
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    c = keras.Input((3,), name="c")
    da, db = L.Dense(6, activation="relu")(a), L.Dense(6)(b)
    merged = [L.Add()([da, db, a]), L.Subtract()([da, db]), L.Multiply()([da, b]),
              L.Average()([a, b]), L.Maximum()([da, db]), L.Minimum()([a, db])]
    h = L.Concatenate()(merged + [c])
    y1 = L.Dense(2, activation="softmax", name="probs")(h)
    y2 = L.Dense(1, name="value")(L.BatchNormalization()(h))
    y3 = L.Dot(axes=1, normalize=True)([da, db])
    model = _randomize(keras.Model([a, b, c], [y1, y2, y3]))
    proto, sess = _check(model, [_x((4, 6), 1), _x((4, 6), 2), _x((4, 3), 3)])
    assert [o.name for o in sess.get_outputs()] == ["probs", "value", model.output_names[2]]


def test_shared_layer_and_nested_model():
    base = keras.Sequential([keras.Input((5,)), L.Dense(4, activation="tanh"),
                             L.LayerNormalization(center=False)], name="base")
    shared = L.Dense(4, name="shared")
    a, b = keras.Input((5,)), keras.Input((5,))
    ea, eb = shared(base(a)), shared(base(b))
    model = _randomize(keras.Model([a, b], L.Subtract()([ea, eb])))
    proto, _ = _check(model, [_x((3, 5), 1), _x((3, 5), 2)])
    kernels = [i for i in proto.graph.initializer if "shared/kernel" in i.name]
    assert len(kernels) == 1  # the shared weights are stored once


def test_embedding_layernorm_and_masking():
    ids = keras.Input((7,), dtype="int32")
    e = L.Embedding(20, 8)(ids)
    h = L.LayerNormalization(axis=[1, 2])(e)
    h = L.Dense(8, activation="relu")(h)
    h = L.LayerNormalization(rms_scaling=True)(h)
    out = L.Dense(3)(L.GlobalAveragePooling1D()(h))
    model = _randomize(keras.Model(ids, out))
    x = np.random.default_rng(0).integers(0, 20, (4, 7)).astype("int32")
    _check(model, x)

    masked = keras.Sequential([keras.Input((7,)), L.Embedding(20, 6, mask_zero=True),
                               L.Dense(5, activation="relu"), L.GlobalAveragePooling1D(),
                               L.Dense(2)])
    x = x.astype("float32")
    x[:, 4:] = 0  # padding at the end: the mean must leave it out
    _check(masked, x)


def test_normalization_and_prelu():
    norm = L.Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1.0])
    model = _randomize(keras.Sequential([keras.Input((3,)), norm, L.PReLU(),
                                         L.Dense(4), L.ELU(alpha=0.7), L.Activation("selu")]))
    _check(model, _x((5, 3)))


def test_repeat_vector_and_bn_on_dense():
    model = _randomize(keras.Sequential([
        keras.Input((4,)), L.Dense(6), L.BatchNormalization(), L.RepeatVector(3),
        L.Dense(2), L.Flatten()]))
    _check(model, _x((3, 4)))


# ---------------------------------------------------------------------------- errors
def test_unsupported_layer_names_layer_and_class():
    model = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, name="my_lstm"), L.Dense(1)])
    with pytest.raises(onnx_export.UnsupportedLayerError) as e:
        onnx_export.export(model, None)
    assert "my_lstm" in str(e.value) and "LSTM" in str(e.value)

    lam = keras.Sequential([keras.Input((3,)), L.Lambda(lambda t: t * 2, name="double")])
    with pytest.raises(onnx_export.UnsupportedLayerError, match="double.*Lambda|Lambda.*double"):
        onnx_export.export(lam, None)


def test_subclass_overriding_call_is_refused():
    class MyDense(L.Dense):
        def call(self, inputs):
            return super().call(inputs) * 2.0

    model = keras.Sequential([keras.Input((3,)), MyDense(2, name="mine")])
    with pytest.raises(onnx_export.UnsupportedLayerError, match="mine.*overrides"):
        onnx_export.export(model, None)


def test_subclassed_model_is_refused():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(onnx_export.UnsupportedLayerError, match="subclassed"):
        onnx_export.export(net, None)


def test_bad_opset():
    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    with pytest.raises(ValueError, match="opset"):
        onnx_export.export(model, None, opset=9)


def test_missing_onnx_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    with pytest.raises(ImportError, match="pip install onnx"):
        onnx_export.export(model, None)


# ---------------------------------------------------------------------------- model.export
def test_model_export_method(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu")]))
    path = os.fspath(tmp_path / "model.onnx")
    model.export(path, format="onnx")
    sess = _session(onnx.load(path))
    x = _x((2, 4))
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0],
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    model.export(os.fspath(tmp_path / "sm"), verbose=False)  # the default: a SavedModel
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
    with pytest.raises(ValueError, match="format"):
        model.export(path, format="torchscript")
