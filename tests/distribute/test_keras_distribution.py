"""keras.distribution (Keras 3's data-parallel API) on tenfold's strategies, in one process
(the multi-process DataParallel run is in workers/train_compare.py)."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras


def test_list_devices_and_mesh():
    assert keras.distribution.list_devices() == ["cpu:0"]
    assert keras.distribution.get_device_count() == 1
    assert keras.distribution.list_devices("gpu") == []
    mesh = keras.distribution.DeviceMesh((2,), ["batch"], ["cpu:0", "cpu:1"])
    assert mesh.devices.shape == (2,)
    with pytest.raises(ValueError, match="same size"):
        keras.distribution.DeviceMesh((2,), ["a", "b"], ["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="number of devices"):
        keras.distribution.DeviceMesh((3,), ["batch"], ["cpu:0", "cpu:1"])


def test_data_parallel_fit_matches_plain_fit():
    rng = np.random.RandomState(0)
    x = rng.randn(48, 4).astype("float32")
    y = rng.randn(48, 1).astype("float32")

    def train():
        keras.utils.set_random_seed(7)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1)])
        m.compile(optimizer="adam", loss="mse")
        m.fit(x, y, batch_size=12, epochs=2, shuffle=False, verbose=0)
        return m.get_weights()

    want = train()
    dp = keras.distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    assert dp.num_model_replicas == 2
    keras.distribution.set_distribution(dp)
    try:
        assert keras.distribution.distribution() is dp
        assert tf.distribute.get_strategy().num_replicas_in_sync == 2
        got = train()
    finally:
        keras.distribution.set_distribution(None)
    assert not tf.distribute.has_strategy()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="Distribution"):
        keras.distribution.set_distribution("data_parallel")
    with pytest.raises(NotImplementedError, match="DataParallel"):
        keras.distribution.ModelParallel()
