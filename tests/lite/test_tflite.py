"""tf.lite: every converted model is run by LiteRT (the official runtime) and by tenfold's
own interpreter, and compared with model.predict (float) or with each other (quantized)."""
import os

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

from ai_edge_litert.interpreter import Interpreter as LiteRT

L = keras.layers


def _randomize(model, seed=0):
    """Seeded kernels, and non-trivial biases, normalization parameters and statistics."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if "kernel" in (getattr(v, "path", None) or v.name).lower():
            fan_in = int(np.prod(v.shape[:-1])) if len(v.shape) > 1 else 1
            v.assign(rng.normal(0, 1 / np.sqrt(fan_in), tuple(v.shape)).astype(np.float32))
    for v in model.weights:
        path = (getattr(v, "path", None) or v.name).lower()
        if "moving_variance" in path:
            v.assign(rng.uniform(0.5, 2.0, tuple(v.shape)).astype(np.float32))
        elif any(k in path for k in ("bias", "beta", "moving_mean", "gamma")):
            val = rng.normal(0.0, 0.3, tuple(v.shape)) + (1.0 if "gamma" in path else 0.0)
            v.assign(val.astype(np.float32))
    return model


def run(cls, buf, x):
    """Output 0 of the .tflite `buf` on the float batch x (quantized for int inputs)."""
    it = cls(model_content=buf)
    d = it.get_input_details()[0]
    if d["dtype"] != np.float32:
        s, z = d["quantization"]
        info = np.iinfo(d["dtype"])
        x = np.clip(np.rint(x / s) + z, info.min, info.max).astype(d["dtype"])
    it.resize_tensor_input(d["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def convert(model, mode="float", data=None, io=None):
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        c.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        c.representative_dataset = lambda: ([data[i:i + 1]] for i in range(len(data)))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io is not None:
            c.inference_input_type = c.inference_output_type = io
    return c.convert()


def vision_model():
    inp = keras.Input((12, 12, 3))
    a = L.Conv2D(8, 3, padding="same")(inp)
    a = L.BatchNormalization()(a)
    a = L.ReLU()(a)
    b = L.DepthwiseConv2D(3, padding="same", activation="relu6")(a)
    c = L.Add()([a, b])
    d = L.Concatenate()([c, a])
    d = L.MaxPooling2D()(d)
    d = L.Conv2D(8, 3, strides=2, activation="relu")(d)
    e = L.AveragePooling2D(2, padding="same")(d)
    f = L.Flatten()(e)
    f = L.Dense(16, activation="tanh")(f)
    f = L.Dropout(0.3)(f)
    f = L.Dense(5)(f)
    return _randomize(keras.Model(inp, L.Softmax()(f)))


def seed_mlp():
    return _randomize(keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"),
                                        L.Dense(10, activation="softmax")]))


def seed_convnet():
    return _randomize(keras.Sequential([
        keras.Input((12, 12, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
        L.Flatten(), L.Dropout(0.5), L.Dense(10, activation="softmax")]))


MODELS = {"vision": (vision_model, (12, 12, 3)), "mlp": (seed_mlp, (64,)),
          "convnet": (seed_convnet, (12, 12, 1))}


def _data(shape, n=16, seed=1):
    return np.random.default_rng(seed).random((n,) + shape, dtype=np.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_float_matches_predict_in_litert_and_tenfold(name):
    build, shape = MODELS[name]
    model = build()
    x = _data(shape)
    buf = convert(model)
    assert buf[4:8] == b"TFL3"
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(run(LiteRT, buf, x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(tf.lite.Interpreter, buf, x), want, rtol=1e-5, atol=1e-6)


def test_batch_norm_is_folded_and_relu_fused():
    buf = convert(vision_model())
    it = LiteRT(model_content=buf)
    kinds = [d["op_name"] for d in it._get_ops_details()]
    assert "MUL" not in kinds and "RELU" not in kinds and "RELU6" not in kinds, kinds
    assert kinds.count("CONV_2D") == 2 and "DEPTHWISE_CONV_2D" in kinds


@pytest.mark.parametrize("name", sorted(MODELS))
def test_float16_weights(name):
    build, shape = MODELS[name]
    model = build()
    x = _data(shape)
    buf, buf32 = convert(model, "float16"), convert(model)
    assert len(buf) < len(buf32)
    it = LiteRT(model_content=buf)
    assert any(d["dtype"] == np.float16 for d in it.get_tensor_details())
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(run(LiteRT, buf, x), want, atol=5e-3)
    np.testing.assert_allclose(run(tf.lite.Interpreter, buf, x), run(LiteRT, buf, x),
                               atol=1e-5)


def test_dynamic_range_quantizes_large_weights():
    model = _randomize(keras.Sequential([keras.Input((64,)), L.Dense(48, activation="relu"),
                                         L.Dense(10)]))
    x = _data((64,))
    buf = convert(model, "dynamic")
    it = LiteRT(model_content=buf)
    int8 = [d for d in it.get_tensor_details() if d["dtype"] == np.int8]
    assert [tuple(d["shape"]) for d in int8] == [(48, 64)]  # 640 weights stay float
    want = model.predict(x, verbose=0)
    got = run(LiteRT, buf, x)
    np.testing.assert_allclose(got, want, atol=0.05 * np.abs(want).max())
    np.testing.assert_allclose(run(tf.lite.Interpreter, buf, x), got,
                               atol=0.05 * np.abs(want).max())


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("io", [None, tf.int8, tf.uint8])
def test_full_integer(name, io):
    build, shape = MODELS[name]
    model = build()
    x = _data(shape, 32)
    buf = convert(model, "int8", x, io)
    it = LiteRT(model_content=buf)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    want_t = np.float32 if io is None else np.dtype(io.name).type
    assert inp["dtype"] == want_t and out["dtype"] == want_t
    # every weight is int8, per output channel for conv / depthwise / dense
    details = it.get_tensor_details()
    assert not any(d["dtype"] == np.float32 for d in details
                   if d["index"] not in (inp["index"], out["index"]))
    for d in details:
        q = d["quantization_parameters"]
        if d["dtype"] == np.int8 and len(q["scales"]) > 1:
            assert q["quantized_dimension"] in (0, 3)
            assert np.all(q["zero_points"] == 0)
    a = run(LiteRT, buf, x).astype(np.float64)
    b = run(tf.lite.Interpreter, buf, x).astype(np.float64)
    if io is None:  # dequantized: the model's numbers within a few percent
        np.testing.assert_allclose(a, model.predict(x, verbose=0), atol=0.04)
        np.testing.assert_allclose(b, a, atol=2 / 256)
    else:  # a quantization step or two from LiteRT (its own fixed-point requantization)
        assert np.abs(a - b).max() <= 2
        assert np.mean(np.abs(a - b) <= 1) > 0.97
        s, z = out["quantization"]
        np.testing.assert_allclose(s * (a - z), model.predict(x, verbose=0), atol=0.04)


def test_signature_runner_and_details():
    model = seed_mlp()
    buf = convert(model)
    x = _data((64,), 3)
    ours = tf.lite.Interpreter(model_content=buf).get_signature_runner("serving_default")
    theirs = LiteRT(model_content=buf).get_signature_runner("serving_default")
    name = list(LiteRT(model_content=buf).get_signature_list()["serving_default"]["inputs"])[0]
    a, b = ours(**{name: x}), theirs(**{name: x})
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6)
    ld = LiteRT(model_content=buf).get_input_details()[0]
    td = tf.lite.Interpreter(model_content=buf).get_input_details()[0]
    for key in ("name", "index", "dtype"):
        assert ld[key] == td[key]
    assert list(ld["shape"]) == list(td["shape"]) and \
        list(ld["shape_signature"]) == list(td["shape_signature"])


def test_from_concrete_functions():
    model = seed_mlp()
    f = tf.function(lambda x: model(x)).get_concrete_function(
        tf.TensorSpec((None, 64), tf.float32))
    x = _data((64,))
    for conv in (tf.lite.TFLiteConverter.from_concrete_functions([f], model),
                 tf.lite.TFLiteConverter.from_concrete_functions([f])):  # found in the closure
        np.testing.assert_allclose(run(LiteRT, conv.convert(), x), model.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-6)
    g = tf.function(lambda x: x * 2.0).get_concrete_function(tf.TensorSpec((None, 3)))
    with pytest.raises(tf.lite.ConverterError, match="trackable_obj"):
        tf.lite.TFLiteConverter.from_concrete_functions([g])


# ---------------------------------------------------------------------------- bad input
def test_unsupported_layer_is_named():
    model = keras.Sequential([keras.Input((4, 8)), L.LSTM(3, name="my_lstm")])
    with pytest.raises(tf.lite.UnsupportedLayerError, match=r'LSTM layer "my_lstm"'):
        tf.lite.TFLiteConverter.from_keras_model(model).convert()


def test_custom_layer_subclassed_model_and_mixed_precision_are_named():
    class MyLayer(L.Layer):
        def call(self, x):
            return x * 2.0

    model = keras.Sequential([keras.Input((4,)), MyLayer(name="mine")])
    with pytest.raises(tf.lite.UnsupportedLayerError, match=r'MyLayer layer "mine": no TFLite'):
        tf.lite.TFLiteConverter.from_keras_model(model).convert()

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.zeros((1, 3), np.float32))
    with pytest.raises(tf.lite.UnsupportedLayerError, match="subclassed Model"):
        tf.lite.TFLiteConverter.from_keras_model(net).convert()
    with pytest.raises(ValueError, match="no input shape yet"):
        tf.lite.TFLiteConverter.from_keras_model(keras.Sequential([L.Dense(2)])).convert()
    half = keras.Sequential([keras.Input((4,)), L.Dense(3, dtype="mixed_float16", name="d")])
    with pytest.raises(tf.lite.UnsupportedLayerError, match=r'"d": it computes in float16'):
        tf.lite.TFLiteConverter.from_keras_model(half).convert()


def test_lambda_layer_is_named():
    model = keras.Sequential([keras.Input((4,)), L.Lambda(lambda t: t * 2, name="twice")])
    with pytest.raises(tf.lite.UnsupportedLayerError, match=r'"twice".*Python function'):
        tf.lite.TFLiteConverter.from_keras_model(model).convert()


def test_representative_dataset_wrong_shape():
    c = tf.lite.TFLiteConverter.from_keras_model(seed_mlp())
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([np.zeros((1, 28, 28), np.float32)] for _ in range(2))
    with pytest.raises(tf.lite.ConverterError, match=r"shape \(1, 28, 28\), expected \(None, "
                                                     r"64\)"):
        c.convert()


def test_representative_dataset_wrong_dtype_and_empty():
    c = tf.lite.TFLiteConverter.from_keras_model(seed_mlp())
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([np.zeros((1, 64), np.uint8)] for _ in range(2))
    with pytest.raises(tf.lite.ConverterError, match="got dtype uint8, expected float32"):
        c.convert()
    c.representative_dataset = lambda: iter(())
    with pytest.raises(tf.lite.ConverterError, match="no samples"):
        c.convert()
    c.representative_dataset = [np.zeros((1, 64), np.float32)]
    with pytest.raises(tf.lite.ConverterError, match="must be a function"):
        c.convert()


def test_int_io_needs_calibration():
    c = tf.lite.TFLiteConverter.from_keras_model(seed_mlp())
    c.inference_input_type = tf.int8
    with pytest.raises(tf.lite.ConverterError, match="representative_dataset"):
        c.convert()
    c = tf.lite.TFLiteConverter.from_keras_model(seed_mlp())
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with pytest.raises(tf.lite.ConverterError, match="representative_dataset"):
        c.convert()


def test_interpreter_errors(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        tf.lite.Interpreter(model_path=str(tmp_path / "missing.tflite"))
    with pytest.raises(ValueError, match="not a TFLite model"):
        tf.lite.Interpreter(model_content=b"12345678abcdefgh")
    it = tf.lite.Interpreter(model_content=convert(seed_mlp()))
    it.allocate_tensors()
    d = it.get_input_details()[0]
    with pytest.raises(ValueError, match="expected FLOAT32"):
        it.set_tensor(d["index"], np.zeros((1, 64), np.float64))
    with pytest.raises(ValueError, match=r"got shape \(1, 63\)"):
        it.set_tensor(d["index"], np.zeros((1, 63), np.float32))


# ---------------------------------------------------------------------------- layer zoo
def _seq(shape, *layers):
    return lambda: _randomize(keras.Sequential([keras.Input(shape), *layers]))


def _two_branch(merge):
    def build():
        inp = keras.Input((6, 6, 4))
        a = L.Conv2D(4, 1)(inp)
        b = L.Conv2D(4, 3, padding="same", activation="sigmoid")(inp)
        return _randomize(keras.Model(inp, L.Flatten()(merge()([a, b]))))
    return build


ZOO = {
    "conv_strides_dilation": (_seq((9, 9, 3), L.Conv2D(5, 3, strides=2, padding="same"),
                                   L.Conv2D(4, 3, dilation_rate=2, activation="relu6"),
                                   L.GlobalAveragePooling2D())),
    "depthwise_multiplier": (_seq((8, 8, 3), L.DepthwiseConv2D(3, depth_multiplier=2,
                                                               strides=2, padding="same"),
                                  L.BatchNormalization(), L.Activation("relu"),
                                  L.GlobalMaxPooling2D())),
    "zero_padding": (_seq((7, 7, 2), L.ZeroPadding2D(((1, 2), (0, 1))), L.Conv2D(3, 3),
                          L.ZeroPadding2D(1), L.DepthwiseConv2D(3, strides=2), L.Flatten())),
    "separable": (_seq((8, 8, 3), L.SeparableConv2D(6, 3, padding="same", activation="relu"),
                       L.AveragePooling2D(3, strides=2), L.Flatten())),
    "reshape_rescale": (_seq((48,), L.Rescaling(1 / 4.0, offset=-0.5), L.Reshape((4, 4, 3)),
                             L.Conv2D(2, 2), L.Reshape((18,)), L.Dense(3))),
    "activations": (_seq((10,), L.Dense(8, activation="tanh"), L.Dense(8),
                         L.LeakyReLU(0.1), L.Dense(8, activation="sigmoid"), L.Dense(8),
                         L.ReLU(max_value=6.0), L.Dense(8, activation="elu"),
                         L.Dense(4), L.Activation("softmax"))),
    "dense_3d": (_seq((5, 6), L.Dense(4, activation="relu"), L.Flatten(), L.Dense(2))),
    "standalone_bn": (_seq((6, 6, 2), L.MaxPooling2D(padding="same"), L.BatchNormalization(),
                           L.Flatten())),
    "add": (_two_branch(L.Add)),
    "subtract": (_two_branch(L.Subtract)),
    "multiply": (_two_branch(L.Multiply)),
    "maximum": (_two_branch(L.Maximum)),
    "concat": (_two_branch(L.Concatenate)),
}


def _input_shape(model):
    return tuple(model.inputs[0].shape[1:])


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_float(name):
    model = ZOO[name]()
    x = _data(_input_shape(model), 5) * 2 - 0.5
    buf = convert(model)
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(run(LiteRT, buf, x), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(run(tf.lite.Interpreter, buf, x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_int8(name):
    model = ZOO[name]()
    x = _data(_input_shape(model), 24) * 2 - 0.5
    buf = convert(model, "int8", x, tf.int8)
    a = run(LiteRT, buf, x).astype(np.int64)
    b = run(tf.lite.Interpreter, buf, x).astype(np.int64)
    # LiteRT's XNNPACK kernels requantize with their own fixed-point rounding: one step apart
    # at most on the odd element, two after several requantizations
    assert np.abs(a - b).max() <= 2, np.abs(a - b).max()
    assert np.mean(np.abs(a - b) <= 1) > 0.97
    s, z = LiteRT(model_content=buf).get_output_details()[0]["quantization"]
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(s * (a - z), want, atol=0.1 * np.abs(want).max() + 2 * s)


def test_two_inputs_two_outputs_int8_with_dict_samples():
    a_in, b_in = keras.Input((6,), name="a"), keras.Input((4,), name="b")
    h = L.Concatenate()([L.Dense(5, activation="relu")(a_in), L.Dense(3)(b_in)])
    model = _randomize(keras.Model([a_in, b_in], [L.Dense(2, name="p")(h),
                                                  L.Dense(3, activation="softmax", name="q")(h)]))
    rng = np.random.default_rng(3)
    xa, xb = rng.random((20, 6), dtype=np.float32), rng.random((20, 4), dtype=np.float32)
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ({"a": xa[i:i + 1], "b": xb[i:i + 1]}
                                        for i in range(20))
    buf = c.convert()
    want = model.predict([xa, xb], verbose=0)
    for cls in (LiteRT, tf.lite.Interpreter):
        runner = cls(model_content=buf).get_signature_runner()
        got = runner(a=xa, b=xb)
        assert sorted(got) == ["p", "q"]
        np.testing.assert_allclose(got["p"], want[0], atol=0.05)
        np.testing.assert_allclose(got["q"], want[1], atol=0.03)
    c.representative_dataset = lambda: ({"a": xa[i:i + 1]} for i in range(2))
    with pytest.raises(tf.lite.ConverterError, match=r"lacks the inputs \['b'\]"):
        c.convert()


def test_select_tf_ops_is_accepted_and_16x8_refused():
    model = seed_mlp()
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    x = _data((64,), 2)
    np.testing.assert_allclose(run(LiteRT, c.convert(), x), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    c.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    with pytest.raises(tf.lite.ConverterError, match="16x8"):
        c.convert()
