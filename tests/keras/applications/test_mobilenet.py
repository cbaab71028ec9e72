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


def test_fine_tune_frozen_base_and_keras_file_round_trip(tmp_path):
    import numpy as np
    tk.utils.set_random_seed(0)
    base = tk.applications.MobileNetV2(weights=None, include_top=False, pooling="avg",
                                       alpha=0.35, input_shape=(32, 32, 3))
    base.trainable = False
    inp = tk.Input((32, 32, 3))
    out = tk.layers.Dense(3, activation="softmax")(base(inp, training=False))
    model = tk.Model(inp, out)
    assert len(model.trainable_weights) == 2
    frozen = [w.numpy().copy() for w in base.weights]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 3
    model.fit(tk.applications.mobilenet_v2.preprocess_input(x), y, epochs=1, verbose=0)
    for w, before in zip(base.weights, frozen):
        np.testing.assert_array_equal(w.numpy(), before)
    path = tmp_path / "m.keras"
    model.save(path)
    again = tk.models.load_model(path)
    px = tk.applications.mobilenet_v2.preprocess_input(x[:2])
    np.testing.assert_allclose(again.predict(px, verbose=0), model.predict(px, verbose=0),
                               rtol=1e-5, atol=1e-6)
