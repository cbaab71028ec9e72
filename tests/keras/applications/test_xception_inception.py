import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_xception_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "xception", "Xception", (71, 71, 3), batch=1,
                                   classes=3)
    legacy_check(tmp_path, "xception", "Xception", kmod, x, want, (71, 71, 3), classes=3)


def test_xception_imagenet_size():
    assert tk.applications.Xception(weights=None, include_top=False).count_params() == 20_861_480


def test_inception_v3_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "inception_v3", "InceptionV3", (75, 75, 3),
                                   batch=1, classes=3)
    legacy_check(tmp_path, "inception_v3", "InceptionV3", kmod, x, want, (75, 75, 3),
                 classes=3)


def test_inception_v3_imagenet_size():
    model = tk.applications.InceptionV3(weights=None, include_top=False)
    assert model.count_params() == 21_802_784
