import shutil

import numpy as np
import pytest

import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_resnet50_matches_keras_weights_and_predictions(tmp_path):
    kmod, tmod, x, want = cross_check(tmp_path, "resnet", "ResNet50", (32, 32, 3), classes=10)
    legacy_check(tmp_path, "resnet", "ResNet50", kmod, x, want, (32, 32, 3), classes=10)


def test_resnet50v2_notop_pooling_matches_keras(tmp_path, monkeypatch):
    kmod, tmod, x, want = cross_check(tmp_path, "resnet_v2", "ResNet50V2", (32, 32, 3),
                                      include_top=False, pooling="avg")
    assert want.shape == (2, 2048)
    legacy_check(tmp_path, "resnet_v2", "ResNet50V2", kmod, x, want, (32, 32, 3),
                 include_top=False, pooling="avg")
    # weights="imagenet" uses Keras's cached download when it is there
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    shutil.copy(tmp_path / "legacy.h5",
                cache / "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    cached = tk.applications.ResNet50V2(weights="imagenet", include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    np.testing.assert_allclose(np.asarray(cached.predict(x, verbose=0)), want, rtol=1e-4,
                               atol=1e-5)


# Parameter counts of the ImageNet models (Keras's documented table / Keras 3 builds).
@pytest.mark.parametrize("family,ctor,params", [
    ("resnet", "ResNet101", 44_707_176),
    ("resnet_v2", "ResNet152V2", 60_380_648),
])
def test_bigger_resnets_structure(family, ctor, params):
    model = getattr(getattr(tk.applications, family), ctor)(weights=None)
    assert model.count_params() == params
    assert model.output.shape == (None, 1000)


def test_imagenet_weights_offline_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="offline.*resnet50_weights_tf_dim_ordering_tf_kernels"):
        tk.applications.ResNet50(weights="imagenet")


def test_weights_argument_validation():
    with pytest.raises(ValueError, match="weights.*Received: weights=nope.h5"):
        tk.applications.ResNet50(weights="nope.h5")
    with pytest.raises(ValueError, match="classes` should be 1000"):
        tk.applications.ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="at least 32x32"):
        tk.applications.ResNet50(weights=None, include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="Only `None` and `softmax`"):
        tk.applications.resnet.ResNet50(weights=__file__, classifier_activation="relu")


def test_input_tensor_is_used_as_model_input():
    inp = tk.Input((32, 32, 3))
    model = tk.applications.ResNet50(weights=None, input_tensor=inp, include_top=False)
    assert model.inputs[0] is inp
    assert model.output.shape == (None, 1, 1, 2048)
