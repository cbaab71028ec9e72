"""Optimizers against Keras 3: the recorded TensorFlow-backend goldens (always) and live
Keras on the NumPy backend (when it imports). Plus the optimizer API: learning-rate setting,
schedules, configs, None gradients, constraints, the one-call update function, errors."""
import json
import pathlib
import warnings

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras as tk

GOLDENS = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "optimizers" / \
    "goldens.npz"


def _make(mod, cls, kwargs):
    kw = dict(kwargs)
    if kw.get("learning_rate") == "schedule":
        kw["learning_rate"] = mod.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    return getattr(mod.optimizers, cls)(**kw)


def _golden_cases():
    data = np.load(GOLDENS)
    return [tuple(c) for c in json.loads(str(data["cases"]))]


@pytest.mark.parametrize("name,cls,kwargs", _golden_cases(), ids=lambda v: str(v)[:30])
def test_matches_tensorflow_keras_goldens(name, cls, kwargs):
    data = np.load(GOLDENS)
    meta = json.loads(str(data["meta"]))
    n = len(meta["shapes"])
    w0 = [data[f"w0_{i}"] for i in range(n)]
    opt = _make(tk, cls, kwargs)
    vs = [tk.Variable(w.copy()) for w in w0]
    for t in range(meta["steps"]):
        opt.apply([tf.constant(data[f"g{t}_{i}"]) for i in range(n)], vs)
        for i, v in enumerate(vs):
            np.testing.assert_allclose(v.numpy(), data[f"{name}/step{t}_{i}"], rtol=2e-6,
                                       atol=2e-7, err_msg=f"{name} step {t} variable {i}")


LIVE_CASES = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.5, "centered": True}), ("RMSprop", {"rho": 0.5}),
    ("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {}), ("AdamW", {"amsgrad": True}),
    ("Adagrad", {}), ("Adadelta", {}), ("Adamax", {}), ("Nadam", {}), ("Lion", {}),
    ("Ftrl", {"beta": 0.1, "l2_shrinkage_regularization_strength": 0.01}),
    ("Adam", {"clipnorm": 0.5}), ("Adam", {"global_clipnorm": 0.5}),
    ("SGD", {"clipvalue": 0.1}), ("Adam", {"weight_decay": 0.1, "learning_rate": 0.1}),
    ("Adam", {"use_ema": True, "ema_overwrite_frequency": 3}),
    ("SGD", {"gradient_accumulation_steps": 2, "momentum": 0.9}),
    ("Adam", {"loss_scale_factor": 4.0}), ("Adam", {"learning_rate": "schedule"}),
]


@pytest.mark.parametrize("cls,kwargs", LIVE_CASES, ids=lambda v: str(v)[:40])
def test_matches_live_keras(cls, kwargs):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 3, 2)]
    w0 = [rng.standard_normal(s).astype("float32") for s in shapes]
    grads = [[rng.standard_normal(s).astype("float32") for s in shapes] for _ in range(6)]
    ko, to = _make(keras, cls, kwargs), _make(tk, cls, kwargs)
    kv = [keras.Variable(w.copy()) for w in w0]
    tv = [tk.Variable(w.copy()) for w in w0]
    for g in grads:
        ko.apply([x.copy() for x in g], kv)
        to.apply([x.copy() for x in g], tv)
    for a, b in zip(kv, tv):
        np.testing.assert_allclose(b.numpy(), np.asarray(a.numpy()), rtol=1e-6, atol=1e-7)
    # same optimizer variables, same order (what .keras files store by index)
    assert len(ko.variables) == len(to.variables)
    for a, b in zip(ko.variables, to.variables):
        np.testing.assert_allclose(np.asarray(b.numpy(), np.float64),
                                   np.asarray(a.numpy(), np.float64), rtol=1e-6, atol=1e-7)
    assert int(np.asarray(to.iterations)) == int(np.asarray(ko.iterations))


def test_defaults_and_config_match_keras():
    keras = pytest.importorskip("keras")
    for cls in ("SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam",
                "Ftrl", "Lion"):
        kc = getattr(keras.optimizers, cls)(name="o").get_config()
        tc = getattr(tk.optimizers, cls)(name="o").get_config()
        assert tc.keys() == kc.keys(), cls
        for k in kc:
            same = tc[k] == pytest.approx(kc[k]) if isinstance(kc[k], float) else tc[k] == kc[k]
            assert same, (cls, k, tc[k], kc[k])


@pytest.mark.parametrize("sched,kwargs", [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5,
                              staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[2, 5], values=[1.0, 0.5, 0.1])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=7, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=3, cycle=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=7, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=6, warmup_target=0.1,
                         warmup_steps=3)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3, t_mul=1.0,
                                 m_mul=0.5)),
])
def test_schedules_match_keras(sched, kwargs):
    keras = pytest.importorskip("keras")
    ks = getattr(keras.optimizers.schedules, sched)(**kwargs)
    ts = getattr(tk.optimizers.schedules, sched)(**kwargs)
    for step in range(12):
        np.testing.assert_allclose(float(ts(step)), float(np.asarray(ks(step))), rtol=1e-6,
                                   atol=1e-8, err_msg=f"step {step}")
    assert ts.get_config() == ks.get_config()
    again = tk.optimizers.schedules.deserialize(tk.optimizers.schedules.serialize(ts))
    assert float(again(4)) == float(ts(4))


def test_learning_rate_readable_and_settable():
    opt = tk.optimizers.Adam(learning_rate=0.01)
    assert float(opt.learning_rate) == pytest.approx(0.01)
    assert isinstance(opt.learning_rate, tf.Variable)
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5
    opt.learning_rate.assign(0.25)          # as keras.backend.set_value / callbacks do
    assert float(opt.lr) == 0.25
    v = tk.Variable(np.ones(2, "float32"))
    tk.optimizers.SGD(learning_rate=0.5).apply([np.ones(2, "float32")], [v])
    np.testing.assert_allclose(v.numpy(), [0.5, 0.5])
    s = tk.optimizers.SGD(tk.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5))
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        s.learning_rate = 0.1


def test_schedule_advances_with_iterations():
    opt = tk.optimizers.SGD(tk.optimizers.schedules.PiecewiseConstantDecay([1], [1.0, 0.1]))
    v = tk.Variable(np.zeros(1, "float32"))
    for _ in range(3):
        opt.apply_gradients([(np.ones(1, "float32"), v)])
    # step 0 and 1 use 1.0, step 2 uses 0.1
    np.testing.assert_allclose(v.numpy(), [-2.1], rtol=1e-6)
    assert int(opt.iterations.numpy()) == 3


def test_none_gradients_are_skipped_with_a_warning():
    a, b = tk.Variable(np.ones(2, "float32"), name="a"), tk.Variable(np.ones(2, "float32"),
                                                                      name="b")
    opt = tk.optimizers.SGD(1.0)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients(zip([np.ones(2, "float32"), None], [a, b]))
    np.testing.assert_allclose(a.numpy(), [0, 0])
    np.testing.assert_allclose(b.numpy(), [1, 1])
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, a)])


def test_constraint_applied_after_update():
    v = tk.Variable(np.array([0.5, -0.5], "float32"))
    v._constraint = lambda x: tf.maximum(x, 0.0)
    tk.optimizers.SGD(1.0).apply([np.array([1.0, 1.0], "float32")], [v])
    np.testing.assert_allclose(v.numpy(), [0.0, 0.0])


def test_update_fn_runs_whole_step_in_one_call():
    w0 = np.arange(6, dtype="float32").reshape(2, 3)
    ref = tk.optimizers.Adam(0.1, clipnorm=1.0)
    fast = tk.optimizers.Adam(0.1, clipnorm=1.0)
    v1, v2 = tk.Variable(w0.copy()), tk.Variable(w0.copy())
    fn = fast.make_update_fn([v2])
    for k in range(3):
        g = np.full((2, 3), k + 1.0, "float32")
        ref.apply([g], [v1])
        fn([g])
    np.testing.assert_array_equal(v1.numpy(), v2.numpy())
    assert int(fast.iterations.numpy()) == 3


def test_updates_in_place_without_new_buffers():
    v = tk.Variable(np.ones((4, 4), "float32"))
    buf = v._value
    opt = tk.optimizers.Adam()
    opt.apply([np.ones((4, 4), "float32")], [v])
    m_buf = opt.variables[2]._value
    opt.apply([np.ones((4, 4), "float32")], [v])
    assert v._value is buf and opt.variables[2]._value is m_buf


def test_gradient_tape_training_loop_decreases_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    w = tk.Variable(np.zeros((3, 1), "float32"))
    opt = tk.optimizers.Adam(0.1)
    losses = []
    for _ in range(50):
        with tf.GradientTape() as tape:
            loss = tk.losses.MeanSquaredError()(y, tf.matmul(x, w))
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        losses.append(float(loss))
    assert losses[-1] < 0.05 * losses[0]


def test_custom_optimizer_written_the_keras_way():
    class MySGD(tk.optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def build(self, variables):
            super().build(variables)
            self.velocity = [self.add_variable_from_reference(v, "velocity")
                             for v in variables]

        def update_step(self, gradient, variable, learning_rate):
            vel = self.velocity[self._get_variable_index(variable)]
            self.assign(vel, vel * 0.5 + gradient)
            self.assign_sub(variable, vel * learning_rate)

    v = tk.Variable(np.zeros(2, "float32"))
    opt = MySGD()
    for _ in range(2):
        opt.apply([np.ones(2, "float32")], [v])
    np.testing.assert_allclose(v.numpy(), [-0.25, -0.25], rtol=1e-6)  # -(0.1 + 0.15)


def test_get_serialize_deserialize():
    assert isinstance(tk.optimizers.get("adam"), tk.optimizers.Adam)
    assert isinstance(tk.optimizers.get("RMSprop"), tk.optimizers.RMSprop)
    opt = tk.optimizers.SGD(learning_rate=tk.optimizers.schedules.CosineDecay(0.1, 10),
                            momentum=0.9, nesterov=True)
    cfg = tk.optimizers.serialize(opt)
    assert cfg["class_name"] == "SGD" and cfg["module"] == "keras.optimizers"
    again = tk.optimizers.deserialize(cfg)
    assert again.nesterov and again.momentum == 0.9
    assert float(again.learning_rate) == pytest.approx(float(opt.learning_rate))
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        tk.optimizers.get("adamm")


def test_errors():
    with pytest.raises(ValueError, match="Only one of"):
        tk.optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="momentum"):
        tk.optimizers.SGD(momentum=2.0)
    with pytest.raises(ValueError, match="weight_decay"):
        tk.optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="not recognized"):
        tk.optimizers.Adam(bogus=1)
    opt = tk.optimizers.Adam()
    v = tk.Variable(np.zeros(3, "float32"))
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\)"):
        opt.apply([np.zeros(2, "float32")], [v])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([np.zeros(3, "float32")], [tk.Variable(np.zeros(3, "float32"))])


def test_float64_variables_keep_dtype():
    v = tk.Variable(np.ones(3))
    tk.optimizers.Adam().apply([np.ones(3)], [v])
    assert v.numpy().dtype == np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tk.optimizers.SGD().apply([tf.constant(np.ones(3, "float32"))], [v])
