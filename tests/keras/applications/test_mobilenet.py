import pytest

import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_mobilenet_v2_alpha_035_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "mobilenet_v2", "MobileNetV2", (32, 32, 3),
                                   alpha=0.35, classes=5)
    legacy_check(tmp_path, "mobilenet_v2", "MobileNetV2", kmod, x, want, (32, 32, 3),
                 alpha=0.35, classes=5)


def test_mobilenet_v2_default_size():
    model = tk.applications.MobileNetV2(weights=None)
    assert model.name == "mobilenetv2_1.00_224"
    assert model.count_params() == 3_538_984


def test_mobilenet_v2_imagenet_alpha_checked():
    with pytest.raises(ValueError, match="alpha must be one of"):
        tk.applications.MobileNetV2(weights="imagenet", alpha=0.6)
