import json

import numpy as np
import pytest

import tenfold.keras as tk

keras = pytest.importorskip("keras")

FAMILIES_MODE = [("resnet", "caffe"), ("resnet50", "caffe"), ("vgg16", "caffe"),
                 ("vgg19", "caffe"), ("resnet_v2", "tf"), ("mobilenet_v2", "tf"),
                 ("xception", "tf"), ("inception_v3", "tf"), ("densenet", "torch")]


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format,shape", [("channels_last", (2, 5, 4, 3)),
                                               ("channels_last", (5, 4, 3)),
                                               ("channels_first", (2, 3, 5, 4)),
                                               ("channels_first", (3, 5, 4))])
def test_preprocess_input_matches_keras(mode, data_format, shape):
    x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    want = keras.applications.imagenet_utils.preprocess_input(x.copy(), data_format, mode)
    got = tk.applications.imagenet_utils.preprocess_input(x.copy(), data_format, mode)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got_t = tk.applications.imagenet_utils.preprocess_input(tk.ops.convert_to_tensor(x),
                                                           data_format, mode)
    np.testing.assert_allclose(tk.ops.convert_to_numpy(got_t), want, rtol=1e-5, atol=1e-5)


def test_preprocess_input_integer_images():
    x = np.arange(2 * 2 * 2 * 3, dtype="uint8").reshape(2, 2, 2, 3)
    want = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="caffe")
    got = tk.applications.imagenet_utils.preprocess_input(x.copy(), mode="caffe")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("family,mode", FAMILIES_MODE)
def test_family_preprocess_modes(family, mode):
    x = np.random.default_rng(1).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    want = getattr(keras.applications, family).preprocess_input(x.copy())
    got = getattr(tk.applications, family).preprocess_input(x.copy())
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("family", ["efficientnet", "mobilenet_v3", "convnext"])
def test_identity_preprocess(family):
    x = np.ones((1, 2, 2, 3), "float32") * 200
    assert getattr(tk.applications, family).preprocess_input(x) is x


def test_preprocess_input_bad_mode():
    with pytest.raises(ValueError, match="mode.*Received: mode=bgr"):
        tk.applications.imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="bgr")
    with pytest.raises(ValueError, match="data_format"):
        tk.applications.imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)),
                                                       data_format="nhwc")


def _fake_index(path):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path.write_text(json.dumps(index))
    return index


def test_decode_predictions_with_local_class_index(tmp_path, monkeypatch):
    _fake_index(tmp_path / "idx.json")
    preds = np.zeros((2, 1000), "float32")
    preds[0, [5, 17, 999]] = [0.2, 0.7, 0.1]
    preds[1, 3] = 1.0
    out = tk.applications.resnet.decode_predictions(preds, top=3,
                                                    class_index_path=str(tmp_path / "idx.json"))
    assert [r[1] for r in out[0]] == ["class_17", "class_5", "class_999"]
    assert out[0][0][0] == "n00000017" and out[0][0][2] == pytest.approx(0.7)
    assert out[1][0][1] == "class_3" and len(out[1]) == 3
    # through the environment variable and Keras's own cache location
    monkeypatch.setattr(tk.applications.imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setenv("TENFOLD_IMAGENET_CLASS_INDEX", str(tmp_path / "idx.json"))
    assert tk.applications.vgg16.decode_predictions(preds, top=1)[1][0][1] == "class_3"
    monkeypatch.setattr(tk.applications.imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.delenv("TENFOLD_IMAGENET_CLASS_INDEX")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    (tmp_path / "kh" / "models").mkdir(parents=True)
    _fake_index(tmp_path / "kh" / "models" / "imagenet_class_index.json")
    assert tk.applications.imagenet_utils.decode_predictions(preds, top=2)[0][1][1] == "class_5"


def test_decode_predictions_offline_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tk.applications.imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.delenv("TENFOLD_IMAGENET_CLASS_INDEX", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="imagenet_class_index.json.*class_index_path"):
        tk.applications.imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\).*\(1, 10\)"):
        tk.applications.imagenet_utils.decode_predictions(np.zeros((1, 10)))


def test_every_constructor_is_exported():
    for name in ["ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2",
                 "ResNet152V2", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "VGG16",
                 "VGG19", "DenseNet121", "DenseNet169", "DenseNet201", "Xception",
                 "InceptionV3", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase",
                 "ConvNeXtLarge", "ConvNeXtXLarge"] + [f"EfficientNetB{i}" for i in range(8)]:
        assert callable(getattr(tk.applications, name)), name
        assert hasattr(keras.applications, name)
