"""Cross-check helper: the same architecture built by Keras 3 (numpy backend) and by tenfold
must have the same layer names, parameter count and weight order, so that weights Keras saves
(`.weights.h5`, and the legacy `.h5` layout of Keras's published ImageNet files) load into
tenfold and predict the same."""
import re

import numpy as np

import tenfold.keras as tk

keras = __import__("pytest").importorskip("keras")


def _named(model):
    return [layer.name for layer in model.layers if not _is_op_node(layer)]


def _is_op_node(layer):
    # Keras 3 keeps `x + 3.0` on KerasTensors as an Operation outside `model.layers`; tenfold
    # records it as a weightless op layer. Compare the real layers only.
    return type(layer).__name__ in ("_OpLayer", "OperationLayer")


def _strip_auto(names, model):
    """Generated names carry a per-process counter (`re_lu_12`): drop numeric suffixes on both
    sides so the comparison does not depend on what ran before."""
    return [re.sub(r"_\d+$", "", name) for name in names]


def legacy_h5_save(kmodel, path):
    """What Keras's published ImageNet weight files hold: the legacy HDF5 weights layout."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)


def _randomize(kmodel):
    """Every weight random (a fresh model's BatchNorm statistics are all 0/1, which would hide
    a wrong order), variances positive."""
    rng = np.random.default_rng(7)
    values = []
    for w in kmodel.weights:
        shape = tuple(w.shape)
        if "variance" in w.path:
            values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            values.append(rng.normal(0, 0.2, shape).astype("float32") if len(shape) < 2 else
                          np.asarray(w.numpy() if hasattr(w, "numpy") else w, "float32"))
    kmodel.set_weights(values)


def cross_check(tmp_path, family, ctor, input_shape, batch=2, rtol=1e-4, atol=1e-5, **kwargs):
    """Builds `family.ctor` in Keras and tenfold, moves Keras's random weights across and
    compares; returns (keras_model, tenfold_model)."""
    keras.utils.set_random_seed(1234)
    kctor = (getattr(getattr(keras.applications, family), ctor, None) or
             getattr(keras.applications, ctor))  # keras exports some only at the top level
    kmod = kctor(
        weights=None, input_shape=input_shape, **kwargs)
    _randomize(kmod)
    path = tmp_path / "k.weights.h5"
    kmod.save_weights(path)
    tmod = getattr(getattr(tk.applications, family), ctor)(
        weights=None, input_shape=input_shape, **kwargs)
    assert tmod.name == kmod.name
    assert tmod.count_params() == kmod.count_params()
    assert _strip_auto(_named(tmod), tmod) == _strip_auto(_named(kmod), kmod)
    assert [w.shape for w in tmod.weights] == [tuple(w.shape) for w in kmod.weights]
    tmod.load_weights(str(path))
    x = np.random.default_rng(0).uniform(0, 255, (batch,) + tuple(input_shape)).astype("float32")
    x = getattr(tk.applications, family).preprocess_input(x.copy())
    want = np.asarray(kmod.predict(x, verbose=0))
    got = np.asarray(tmod.predict(x, verbose=0))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return kmod, tmod, x, want


def legacy_check(tmp_path, family, ctor, kmod, x, want, input_shape, rtol=1e-4, atol=1e-5,
                 **kwargs):
    """Keras's legacy `.h5` (the published-weights layout) through `weights=path`."""
    path = tmp_path / "legacy.h5"
    legacy_h5_save(kmod, path)
    tmod = getattr(getattr(tk.applications, family), ctor)(
        weights=str(path), input_shape=input_shape, **kwargs)
    np.testing.assert_allclose(np.asarray(tmod.predict(x, verbose=0)), want, rtol=rtol,
                               atol=atol)
