"""tf.config and tf.device."""
import pytest

import tenfold as tf


def test_physical_devices():
    cpus = tf.config.list_physical_devices("CPU")
    assert len(cpus) == 1 and cpus[0].device_type == "CPU"
    assert cpus[0].name == "/physical_device:CPU:0"
    assert tf.config.experimental.list_physical_devices("CPU") == cpus
    gpus = tf.config.list_physical_devices("GPU")
    assert all(g.device_type == "GPU" for g in gpus)
    assert tf.config.list_physical_devices() == cpus + gpus
    assert tf.config.list_logical_devices("CPU")[0].name == "/device:CPU:0"


def test_memory_growth_rules():
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(ValueError):
        tf.config.experimental.set_memory_growth(cpu, True)
    with pytest.raises(ValueError):
        tf.config.experimental.set_memory_growth("GPU:0", True)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
        assert tf.config.experimental.get_memory_growth(gpu)


def test_threading_and_switches():
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(3)
    assert tf.config.threading.get_intra_op_parallelism_threads() == 2
    assert tf.config.threading.get_inter_op_parallelism_threads() == 3
    tf.config.threading.set_intra_op_parallelism_threads(0)
    tf.config.run_functions_eagerly(True)
    assert tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(False)
    assert not tf.config.functions_run_eagerly()
    tf.config.set_soft_device_placement(True)
    assert tf.config.get_soft_device_placement()
    tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(True)
    tf.config.optimizer.set_jit(False)
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()])
    assert len(tf.config.get_logical_device_configuration(cpu)) == 1


def test_device_scope():
    with tf.device("/CPU:0"):
        x = tf.constant([1.0]) * 2
    assert x.device.endswith("CPU:0")
    with tf.device("GPU:0"):  # soft placement: no GPU means CPU, no error
        y = tf.constant(1.0) + 1
    assert float(y) == 2.0
    with tf.device(None):
        pass
    with pytest.raises(TypeError):
        with tf.device(3):
            pass
