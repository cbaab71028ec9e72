import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_convnext_tiny_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "convnext", "ConvNeXtTiny", (32, 32, 3), batch=1,
                                   classes=4, rtol=1e-3, atol=1e-4)
    legacy_check(tmp_path, "convnext", "ConvNeXtTiny", kmod, x, want, (32, 32, 3), classes=4,
                 rtol=1e-3, atol=1e-4)


def test_convnext_small_notop_structure():
    model = tk.applications.ConvNeXtSmall(weights=None, include_top=False,
                                          input_shape=(32, 32, 3))
    # Keras's ConvNeXtSmall has 50,223,688 parameters with its 768 -> 1000 head (769,000) and
    # the head LayerNormalization (1,536); notop adds its own LayerNormalization (1,536).
    assert model.count_params() == 50_223_688 - 769_000
