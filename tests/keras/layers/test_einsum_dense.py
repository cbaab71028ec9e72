"""EinsumDense against Keras 3 (KERAS_BACKEND=numpy): weight shapes from the equation, outputs
with the same weights, gradients by finite differences, configs, and errors that teach."""
import numpy as np
import pytest

from layers_oracle import compare_with_keras, grad_check, keras_module, normalize_config
from tenfold.keras import layers as L

CASES = [
    (dict(equation="ab,bc->ac", output_shape=4, bias_axes="c"), (3, 5)),
    (dict(equation="abc,cd->abd", output_shape=(None, 6), bias_axes="d",
          activation="relu"), (2, 3, 5)),
    (dict(equation="abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de"), (2, 4, 5)),
    (dict(equation="abc,cde->abde", output_shape=(4, 2, 3), bias_axes="e"), (2, 4, 5)),
    (dict(equation="...b,bc->...c", output_shape=3, bias_axes="c"), (2, 3, 4, 5)),
    (dict(equation="ab...,bc->ac...", output_shape=3, bias_axes="c"), (2, 5, 4)),
    (dict(equation="abcd,cde->abe", output_shape=(3, 4)), (2, 3, 5, 6)),
    (dict(equation="abc,dc->abd", output_shape=(None, 2)), (2, 3, 5)),
]
IDS = [c[0]["equation"] + "-" + str(c[0].get("bias_axes")) for c in CASES]


def _x(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("kwargs,shape", CASES, ids=IDS)
def test_matches_keras(kwargs, shape):
    _, ours = compare_with_keras("EinsumDense", kwargs, _x(shape))
    # the shape the layer really outputs (Keras's own compute_output_shape reverses the
    # elided axes when more than one is elided on the left); None where output_shape says None
    predicted = ours.compute_output_shape(shape)
    actual = np.asarray(ours(_x(shape))).shape
    assert len(predicted) == len(actual)
    assert all(p is None or p == a for p, a in zip(predicted, actual)), (predicted, actual)


@pytest.mark.parametrize("kwargs,shape", CASES, ids=IDS)
def test_gradients(kwargs, shape):
    grad_check("EinsumDense", kwargs, _x(shape, seed=2))


@pytest.mark.parametrize("kwargs,shape", CASES[:4], ids=IDS[:4])
def test_config_parity_and_round_trip(kwargs, shape):
    keras = keras_module()
    ours, theirs = L.EinsumDense(**kwargs), keras.layers.EinsumDense(**kwargs)
    cfg = ours.get_config()
    assert normalize_config(cfg) == normalize_config(theirs.get_config())
    assert normalize_config(L.EinsumDense.from_config(cfg).get_config()) == \
        normalize_config(cfg)
    back = keras.layers.EinsumDense.from_config(cfg)
    assert normalize_config(back.get_config()) == normalize_config(theirs.get_config())


def test_kernel_initializer_uses_the_equations_fans():
    # glorot_uniform with fan_in 5 (c) and fan_out 6 (d, e): limit sqrt(6 / 11)
    layer = L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3),
                          kernel_initializer="glorot_uniform")
    layer(_x((2, 4, 5)))
    assert np.abs(layer.kernel.numpy()).max() <= np.sqrt(6 / 11) + 1e-6
    assert layer.kernel_initializer.input_axes is None   # the configured one is unchanged


@pytest.mark.parametrize("kwargs,shape,match", [
    (dict(equation="ab->b", output_shape=3), (2, 4), "invalid einsum equation 'ab->b'"),
    (dict(equation="abc,cd->abd", output_shape=(7, 3)), (2, 4, 5),
     "do not match at shared dimension 'b'"),
    (dict(equation="ab,bc->ad", output_shape=3), (2, 4), "dimension 'd' was specified"),
    (dict(equation="ab,bcz->ac", output_shape=3), (2, 4), "weight dimension 'z'"),
    (dict(equation="ab,bc->ac", output_shape=3, bias_axes="x"), (2, 4),
     "bias dimension 'x'"),
    (dict(equation="abc,cd->abd", output_shape=3), (2, 4), "names 3 input axes"),
])
def test_errors_name_the_layer_and_the_fix(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        L.EinsumDense(name="ed", **kwargs)(_x(shape))


def test_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="LoRA and quantization"):
        L.EinsumDense("ab,bc->ac", 3, lora_rank=2)
