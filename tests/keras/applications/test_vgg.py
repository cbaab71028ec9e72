import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_vgg16_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "vgg16", "VGG16", (32, 32, 3), classes=7)
    legacy_check(tmp_path, "vgg16", "VGG16", kmod, x, want, (32, 32, 3), classes=7)


def test_vgg19_notop_max_pooling_matches_keras(tmp_path):
    cross_check(tmp_path, "vgg19", "VGG19", (32, 32, 3), include_top=False, pooling="max")


def test_vgg_imagenet_sizes():
    assert tk.applications.VGG16(weights=None, include_top=False).count_params() == 14_714_688
    assert tk.applications.VGG19(weights=None, include_top=False).count_params() == 20_024_384
