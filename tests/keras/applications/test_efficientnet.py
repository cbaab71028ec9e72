import pytest

import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_efficientnet_b0_matches_keras(tmp_path):
    kmod, tmod, x, want = cross_check(tmp_path, "efficientnet", "EfficientNetB0", (32, 32, 3),
                                      classes=6)
    legacy_check(tmp_path, "efficientnet", "EfficientNetB0", kmod, x, want, (32, 32, 3),
                 classes=6)


# Keras's documented parameter counts (with the 1000-class top).
@pytest.mark.parametrize("i,params", [(1, 7_856_239), (3, 12_320_535), (7, 66_658_687)])
def test_efficientnet_variant_structure(i, params):
    model = getattr(tk.applications, f"EfficientNetB{i}")(weights=None, input_shape=(64, 64, 3),
                                                         include_top=False)
    top = {1: 1280, 3: 1536, 7: 2560}[i] * 1000 + 1000
    assert model.count_params() == params - top
    assert model.name == f"efficientnetb{i}"
