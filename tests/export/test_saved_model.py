"""tf.saved_model.save / load, model.export(path) and ConcreteFunction.graph.as_graph_def().

The goldens in tests/fixtures/saved_model/cases were made by TensorFlow 2.21 itself running
the SavedModels tenfold wrote (make_cases.py, then check_with_tf.py): tf_outputs.npz is what
TensorFlow computed. Here tenfold must (a) write the very same SavedModel again from the saved
model, (b) load the committed SavedModel and give TensorFlow's outputs, and (c) predict them.
"""
import os
import sys

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.export import _tf_protos as P
from tenfold.export._tf_run import GraphRunner

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures", "saved_model")
CASES = os.path.join(FIXTURES, "cases")
sys.path.insert(0, FIXTURES)
import cases  # noqa: E402

L = keras.layers

# Every op the lowering may emit, checked against TensorFlow's op names (what TF's loader
# looks up in its op registry).
TF_OPS = {"Placeholder", "Const", "Identity", "AddV2", "Sub", "Mul", "RealDiv", "Maximum",
          "Minimum", "Pow", "Neg", "Rsqrt", "Sqrt", "Square", "Exp", "Log", "Tanh", "Sigmoid",
          "Relu", "Erf", "Softmax", "LogSoftmax", "MatMul", "BatchMatMulV2", "Conv2D",
          "DepthwiseConv2dNative", "BiasAdd", "MaxPool", "AvgPool", "Reshape", "Transpose",
          "ConcatV2", "PadV2", "Sum", "Max", "Mean", "ExpandDims", "Squeeze", "Cast",
          "SelectV2", "Greater", "GreaterEqual", "Less", "Abs", "Sign", "Softplus", "Expm1",
          "Conv2DBackpropInput", "Shape", "StridedSlice", "Tile", "GatherV2", "LeakyRelu",
          "DivNoNan"}


def _read(path):
    sm = P.saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    return sm


def _canonical(sm):
    """The SavedModel with node names replaced by their position (names of frozen weights
    follow variable paths, which are not what these tests are about)."""
    sm = P.saved_model_pb2.SavedModel.FromString(sm.SerializeToString())
    for mg in sm.meta_graphs:
        names = {n.name: f"n{i}" for i, n in enumerate(mg.graph_def.node)}
        for n in mg.graph_def.node:
            n.name = names[n.name]
            for i, inp in enumerate(n.input):
                base, _, idx = inp.partition(":")
                n.input[i] = names[base] + (":" + idx if idx else "")
        for sd in mg.signature_def.values():
            for info in list(sd.inputs.values()) + list(sd.outputs.values()):
                base, _, idx = info.name.partition(":")
                info.name = names[base] + ":" + idx
    return sm


def _npz(path):
    with np.load(path) as z:
        return dict(z)


def _predict(model, xs):
    vals = list(xs.values())
    out = model.predict(vals if len(vals) > 1 else vals[0], verbose=0)
    return out if isinstance(out, list) else [out]


# ------------------------------------------------------------------ TensorFlow-made goldens
@pytest.mark.parametrize("name", sorted(cases.MODELS))
def test_keras_case_matches_tensorflow(name, tmp_path):
    d = os.path.join(CASES, name)
    model = keras.models.load_model(os.path.join(d, "model.keras"))
    xs = _npz(os.path.join(d, "inputs.npz"))
    tf_out = _npz(os.path.join(d, "tf_outputs.npz"))
    # float16 compute: TensorFlow's half kernels round at other points (one float16 step)
    tol = dict(rtol=2e-3, atol=2e-3) if "mixed" in name else dict(rtol=1e-5, atol=1e-6)
    # (a) the same SavedModel as the one TensorFlow ran
    model.export(tmp_path / "sm", verbose=False)
    assert _canonical(_read(tmp_path / "sm")) == _canonical(_read(os.path.join(d,
                                                                                 "saved_model")))
    # (b) tenfold's reader gives TensorFlow's outputs
    loaded = tf.saved_model.load(os.path.join(d, "saved_model"))
    for key in ("serving_default", "serve"):
        out = loaded.signatures[key](**xs)
        assert sorted(out) == sorted(tf_out)
        for k, v in tf_out.items():
            np.testing.assert_allclose(out[k].numpy(), v, **tol)
    # (c) and so does the model itself
    for i, r in enumerate(_predict(model, xs)):
        np.testing.assert_allclose(r, tf_out[f"output_{i}"], **tol)


def test_module_case_matches_tensorflow(tmp_path):
    d = os.path.join(CASES, "module")
    tf.saved_model.save(cases.Scaler(), tmp_path / "sm")
    assert _canonical(_read(tmp_path / "sm")) == _canonical(_read(os.path.join(d,
                                                                                 "saved_model")))
    out = tf.saved_model.load(os.path.join(d, "saved_model")).signatures["serving_default"](
        **_npz(os.path.join(d, "inputs.npz")))
    tf_out = _npz(os.path.join(d, "tf_outputs.npz"))
    assert sorted(out) == ["scores", "top"]
    for k, v in tf_out.items():
        np.testing.assert_allclose(out[k].numpy(), v, rtol=1e-6, atol=1e-7)


def test_ops_case_matches_tensorflow(tmp_path):
    """One signature per group of primitives, as TensorFlow ran them."""
    d = os.path.join(CASES, "ops")
    cases.save_ops(tmp_path / "sm")
    assert _canonical(_read(tmp_path / "sm")) == _canonical(_read(os.path.join(d,
                                                                                 "saved_model")))
    x = _npz(os.path.join(d, "inputs.npz"))
    tf_out = _npz(os.path.join(d, "tf_outputs.npz"))
    loaded = tf.saved_model.load(os.path.join(d, "saved_model"))
    assert sorted(loaded.signatures) == sorted(k.split("__")[0] for k in tf_out)
    for key, fn in loaded.signatures.items():
        np.testing.assert_allclose(fn(**x)["output_0"].numpy(), tf_out[f"{key}__output_0"],
                                   rtol=1e-5, atol=1e-6)


def test_graph_def_case_matches_tensorflow():
    d = os.path.join(CASES, "graph_def")
    gd = P.graph_pb2.GraphDef()
    with open(os.path.join(d, "graph.pb"), "rb") as f:
        gd.ParseFromString(f.read())
    x = _npz(os.path.join(d, "inputs.npz"))["args_0:0"]
    (y,) = GraphRunner(gd).run({"args_0": tf.constant(x)}, ["Identity:0"])
    np.testing.assert_allclose(y.numpy(), _npz(os.path.join(d, "tf_outputs.npz"))["Identity:0"],
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ structure
def test_saved_model_structure(tmp_path):
    model = cases.vision()
    model.export(tmp_path / "sm", verbose=False)
    assert (tmp_path / "sm" / "variables").is_dir()
    sm = _read(tmp_path / "sm")
    assert sm.saved_model_schema_version == 1 and len(sm.meta_graphs) == 1
    mg = sm.meta_graphs[0]
    assert list(mg.meta_info_def.tags) == ["serve"]
    assert set(mg.signature_def) == {"serving_default", "serve"}
    sd = mg.signature_def["serving_default"]
    assert sd.method_name == "tensorflow/serving/predict"
    assert list(sd.inputs) == ["image"]
    assert sd.inputs["image"].dtype == P.types_pb2.DT_FLOAT
    assert [d.size for d in sd.inputs["image"].tensor_shape.dim] == [-1, 16, 16, 3]
    assert sd.inputs["image"].name == "serving_default_image:0"
    assert sorted(sd.outputs) == ["output_0", "output_1"]
    assert [d.size for d in sd.outputs["output_0"].tensor_shape.dim] == [-1, 5]
    assert [d.size for d in sd.outputs["output_1"].tensor_shape.dim] == [-1, 12]
    ops = {n.op for n in mg.graph_def.node}
    assert ops <= TF_OPS, ops - TF_OPS
    assert {"Conv2D", "DepthwiseConv2dNative", "BiasAdd", "MaxPool", "AvgPool", "ConcatV2",
            "AddV2", "MatMul", "Softmax", "Reshape", "PadV2"} <= ops
    names = [n.name for n in mg.graph_def.node]
    assert len(names) == len(set(names))
    assert "probs/Softmax" in names  # ops grouped by the layer that made them
    assert sum(n.endswith("/BiasAdd") for n in names) >= 2  # Dense: MatMul + BiasAdd
    # weights are frozen under their variable paths
    consts = {n.name for n in mg.graph_def.node if n.op == "Const"}
    assert any(c.endswith("kernel") for c in consts)
    assert mg.graph_def.versions.producer > 0


@pytest.mark.parametrize("batch", [1, 7])
def test_any_batch_size(batch, tmp_path):
    model = cases.vision()
    model.export(tmp_path / "sm", verbose=False)
    loaded = tf.saved_model.load(tmp_path / "sm")
    xs = cases.inputs_for(model, batch=batch, seed=batch)
    out = loaded.signatures["serving_default"](**xs)
    for i, r in enumerate(_predict(model, xs)):
        np.testing.assert_allclose(out[f"output_{i}"].numpy(), r, rtol=1e-5, atol=1e-6)
    # Keras 3's `serve` endpoint, positionally
    got = loaded.serve(xs["image"])
    np.testing.assert_allclose(got[0].numpy(), _predict(model, xs)[0], rtol=1e-5, atol=1e-6)


def test_fixed_batch_input_signature(tmp_path):
    model = cases.mlp()
    model.export(tmp_path / "sm", verbose=False,
                 input_signature=[tf.TensorSpec([3, 28, 28], tf.float32, name="digits")])
    sd = _read(tmp_path / "sm").meta_graphs[0].signature_def["serving_default"]
    assert [d.size for d in sd.inputs["digits"].tensor_shape.dim] == [3, 28, 28]
    x = np.random.default_rng(0).normal(size=(3, 28, 28)).astype(np.float32)
    out = tf.saved_model.load(tmp_path / "sm").signatures["serving_default"](digits=x)
    np.testing.assert_allclose(out["output_0"].numpy(), model.predict(x, verbose=0), rtol=1e-5)
    with pytest.raises(ValueError, match="digits"):
        tf.saved_model.load(tmp_path / "sm").signatures["serving_default"](digits=x[:2])


def test_save_function_signatures_and_options(tmp_path):
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def project(x):
        return tf.nn.relu(tf.matmul(x, v) - 2.0)

    cf = project.get_concrete_function()
    opts = tf.saved_model.SaveOptions(extra_tags=["gpu"], save_debug_info=True)
    tf.saved_model.save(tf.Module(), tmp_path / "sm",
                        signatures={"serving_default": project, "proj": cf}, options=opts)
    mg = _read(tmp_path / "sm").meta_graphs[0]
    assert list(mg.meta_info_def.tags) == ["serve", "gpu"]
    assert set(mg.signature_def) == {"serving_default", "proj"}
    assert list(mg.signature_def["proj"].inputs) == ["x"]  # the argument's name, as TF
    x = np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)
    loaded = tf.saved_model.load(tmp_path / "sm", tags=["serve", "gpu"])
    for key in ("serving_default", "proj"):
        np.testing.assert_allclose(loaded.signatures[key](x=x)["output_0"].numpy(),
                                   np.maximum(x @ v.numpy() - 2.0, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="tags"):
        tf.saved_model.load(tmp_path / "sm", tags=["train"])
    with pytest.raises(TypeError, match="SaveOptions"):
        tf.saved_model.save(tf.Module(), tmp_path / "x", signatures=project, options={})


def test_as_graph_def():
    @tf.function
    def f(x, y):
        return tf.nn.softmax(tf.matmul(x, y) + 1.0)

    cf = f.get_concrete_function(tf.TensorSpec([2, 3]), tf.TensorSpec([3, 4]))
    gd = cf.graph.as_graph_def()
    assert isinstance(gd, P.graph_pb2.GraphDef)
    assert [n.op for n in gd.node] == ["Placeholder", "Placeholder", "MatMul", "Const",
                                       "AddV2", "Softmax", "Identity"]
    gd2 = P.graph_pb2.GraphDef.FromString(gd.SerializeToString())  # a real, parseable message
    a = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    b = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    (y,) = GraphRunner(gd2).run({"args_0": tf.constant(a), "args_1": tf.constant(b)},
                                ["Identity"])
    np.testing.assert_allclose(y.numpy(), f(a, b).numpy(), rtol=1e-6)


# ------------------------------------------------------------------ errors
def test_unsupported_op_names_the_layer_and_writes_nothing(tmp_path):
    model = keras.Sequential([keras.Input((4,)), L.Lambda(lambda t: tf.math.cumsum(t, axis=1)),
                              L.Dense(2)])
    out = tmp_path / "sm"
    with pytest.raises(ValueError, match=r"Lambda layer .*'cumsum'"):
        model.export(out, verbose=False)
    assert not out.exists()


def test_batch_dependent_constant_names_the_layer(tmp_path):
    model = keras.Sequential([keras.Input((3, 2)), L.SimpleRNN(4)])
    with pytest.raises(ValueError, match="SimpleRNN layer"):
        model.export(tmp_path / "sm", verbose=False)


def test_signature_errors(tmp_path):
    @tf.function
    def no_sig(x):
        return x

    with pytest.raises(ValueError, match="input_signature"):
        tf.saved_model.save(tf.Module(), tmp_path / "a", signatures=no_sig)
    with pytest.raises(ValueError, match="no signature"):
        tf.saved_model.save(tf.Module(), tmp_path / "b")
    sub = type("Sub", (keras.Model,), {"call": lambda self, x: x})()
    with pytest.raises(ValueError, match="input_signature"):
        sub.export(tmp_path / "c", verbose=False)


def test_load_errors(tmp_path):
    with pytest.raises(OSError, match="no SavedModel"):
        tf.saved_model.load(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "saved_model.pb").write_bytes(b"\xff\xff not a protobuf")
    with pytest.raises(ValueError, match="saved_model.pb"):
        tf.saved_model.load(tmp_path / "bad")
    assert tf.saved_model.contains_saved_model(tmp_path / "bad")
    assert not tf.saved_model.contains_saved_model(tmp_path)


def test_loaded_signature_argument_errors(tmp_path):
    model = cases.two_inputs()
    model.export(tmp_path / "sm", verbose=False)
    sig = tf.saved_model.load(tmp_path / "sm").signatures["serving_default"]
    xs = cases.inputs_for(model, batch=2)
    with pytest.raises(TypeError, match="keyword"):
        sig(xs["signal"], xs["features"])
    with pytest.raises(TypeError, match="features"):
        sig(signal=xs["signal"])
    np.testing.assert_allclose(sig(**xs)["output_0"].numpy(), _predict(model, xs)[0],
                               rtol=1e-5, atol=1e-6)


def test_cli_convert_to_saved_model(tmp_path, capsys):
    from tenfold.cli import main
    model = cases.convnet()
    path = str(tmp_path / "convnet.keras")
    model.save(path)
    assert main(["convert", path, "--to", "saved_model"]) == 0
    out = tmp_path / "convnet_saved_model"
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype(np.float32)
    got = tf.saved_model.load(out).serve(x)
    np.testing.assert_allclose(got.numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert main(["convert", path, "--to", "saved_model"]) == 2  # never overwrites
    assert "exists" in capsys.readouterr().err


def test_serve_saved_model_directory(tmp_path):
    """tenfold's REST server serves a SavedModel in TF Serving's layout base/<version>/."""
    import json
    import urllib.request
    from tenfold import serving
    model = cases.two_inputs()
    model.export(tmp_path / "base" / "3", verbose=False)
    srv = serving.serve(tmp_path / "base", model_name="sig", port=0, block=False)
    try:
        with urllib.request.urlopen(f"{srv.url}/v1/models/sig/metadata", timeout=30) as r:
            meta = json.loads(r.read())
        sd = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert sorted(sd["inputs"]) == ["features", "signal"]
        assert list(sd["outputs"]) == ["output_0"]
        xs = cases.inputs_for(model, batch=2)
        body = {"inputs": {k: v.tolist() for k, v in xs.items()}}
        req = urllib.request.Request(f"{srv.url}/v1/models/sig:predict",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            out = json.loads(r.read())
        np.testing.assert_allclose(np.array(out["outputs"]), _predict(model, xs)[0],
                                   rtol=1e-5, atol=1e-6)
    finally:
        srv.stop()


@pytest.mark.parametrize("name", ["tf_mlp", "tf_vision"])
def test_reads_tensorflow_written_frozen_saved_models(name):
    """SavedModels written by TensorFlow's own SavedModelBuilder from frozen Keras 3 graphs
    (make_tf_frozen.py): TensorFlow's graphs of the same layers (Shape/StridedSlice/Pack for
    Flatten, Mean for global pooling, BatchNormalization as Mul/Sub/Rsqrt)."""
    d = os.path.join(FIXTURES, "tf_frozen", name)
    out = tf.saved_model.load(os.path.join(d, "saved_model")).signatures["serving_default"](
        **_npz(os.path.join(d, "inputs.npz")))
    np.testing.assert_allclose(out["output_0"].numpy(),
                               _npz(os.path.join(d, "tf_outputs.npz"))["output_0"],
                               rtol=1e-5, atol=1e-6)


def test_refuses_variable_saved_models_by_name():
    """Keras 3 on TensorFlow's own export keeps weights in variables/: refused clearly."""
    with pytest.raises(ValueError, match="weights in variables"):
        tf.saved_model.load(os.path.join(FIXTURES, "tf_frozen", "keras_export"))


@pytest.mark.parametrize("name", sorted(cases.OPS))
def test_op_round_trip(name, tmp_path):
    """Each group of lowered primitives written and read back by tenfold: same values."""
    fn = tf.function(cases.OPS[name], input_signature=[tf.TensorSpec([None, 5], tf.float32)])
    tf.saved_model.save(tf.Module(), tmp_path / "sm", signatures=fn)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    out = tf.saved_model.load(tmp_path / "sm").signatures["serving_default"](x=x)
    np.testing.assert_allclose(out["output_0"].numpy(), fn(x).numpy(), rtol=1e-5, atol=1e-6)


def test_divide_no_nan_exports_as_tensorflows_op(tmp_path):
    """tf.math.divide_no_nan is one primitive: one DivNoNan node (TensorFlow 2.21 loads and
    runs it: checked once with /work/tfenv's TensorFlow on this graph, the same values),
    read back by tenfold with its values, zeros where the divisor is."""
    fn = tf.function(lambda x: tf.math.divide_no_nan(x, tf.round(x)),
                     input_signature=[tf.TensorSpec([None, 5], tf.float32)])
    tf.saved_model.save(tf.Module(), tmp_path / "sm", signatures=fn)
    ops = [n.op for n in _read(tmp_path / "sm").meta_graphs[0].graph_def.node]
    assert "DivNoNan" in ops and ops.count("SelectV2") == 0 and set(ops) <= TF_OPS | {"Round"}
    x = np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32)
    out = tf.saved_model.load(tmp_path / "sm").signatures["serving_default"](x=x)
    want = np.where(np.round(x) == 0, 0, x / np.where(np.round(x) == 0, 1, np.round(x)))
    np.testing.assert_array_equal(out["output_0"].numpy(), want.astype(np.float32))


def test_export_archive_matches_tensorflow(tmp_path):
    """keras.export.ExportArchive: endpoints as signatures, the first also serving_default."""
    d = os.path.join(CASES, "archive")
    cases.archive(tmp_path / "sm")
    assert _canonical(_read(tmp_path / "sm")) == _canonical(_read(os.path.join(d,
                                                                                 "saved_model")))
    x = _npz(os.path.join(d, "inputs.npz"))
    tf_out = _npz(os.path.join(d, "tf_outputs.npz"))
    loaded = tf.saved_model.load(os.path.join(d, "saved_model"))
    assert sorted(loaded.signatures) == ["predict", "serving_default", "total"]
    for key, fn in loaded.signatures.items():
        assert list(fn.inputs) == ["inputs"]
        np.testing.assert_allclose(fn(**x)["output_0"].numpy(), tf_out[f"{key}__output_0"],
                                   rtol=1e-6, atol=1e-7)


def test_export_archive_errors(tmp_path):
    model = cases.mlp()
    arc = keras.export.ExportArchive()
    with pytest.raises(ValueError, match="No endpoints"):
        arc.write_out(tmp_path / "a")
    with pytest.raises(ValueError, match="input_signature"):
        arc.add_endpoint("serve", model.call)

    @tf.function
    def never_called(x):
        return model(x)
    with pytest.raises(ValueError, match="never been called"):
        arc.add_endpoint("serve", never_called)
    arc.add_endpoint("serve", model.call, input_signature=[tf.TensorSpec([None, 28, 28])])
    with pytest.raises(ValueError, match="already taken"):
        arc.add_endpoint("serve", model.call, input_signature=[tf.TensorSpec([None, 28, 28])])
    with pytest.raises(NotImplementedError, match="freeze"):
        arc.add_variable_collection("weights", model.weights)
    arc.write_out(tmp_path / "b", verbose=False)
    assert set(_read(tmp_path / "b").meta_graphs[0].signature_def) == {"serve",
                                                                       "serving_default"}


def test_summary_graph_for_tensorboard(tmp_path):
    """tf.summary.graph(concrete_function.graph) writes the GraphDef TensorBoard's Graphs
    dashboard reads (checked with tensorboard's own event reader)."""
    from tensorboard.backend.event_processing import event_accumulator
    model = cases.convnet()
    f = tf.function(lambda x: model(x, training=False))
    cf = f.get_concrete_function(tf.TensorSpec([1, 28, 28, 1], tf.float32))
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        assert tf.summary.graph(cf.graph)
    writer.flush()
    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    ops = [n.op for n in acc.Graph().node]
    assert ops.count("Conv2D") == 2 and "MaxPool" in ops and "Softmax" in ops
