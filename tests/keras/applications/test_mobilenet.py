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


def test_mobilenet_v3_small_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "mobilenet_v3", "MobileNetV3Small", (32, 32, 3),
                                   classes=5)
    legacy_check(tmp_path, "mobilenet_v3", "MobileNetV3Small", kmod, x, want, (32, 32, 3),
                 classes=5)


def test_mobilenet_v3_large_minimalistic_matches_keras(tmp_path):
    cross_check(tmp_path, "mobilenet_v3", "MobileNetV3Large", (32, 32, 3), minimalistic=True,
                include_top=False, pooling="avg")


def test_mobilenet_v3_imagenet_sizes():
    assert tk.applications.MobileNetV3Small(weights=None).count_params() == 2_554_968
    assert tk.applications.MobileNetV3Large(weights=None).count_params() == 5_507_432
