"""Every built-in learning-rate schedule called on a step tensor inside tf.function gives that
call's value (the step is read when the graph runs, not when it was traced)."""
import inspect

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

S = keras.optimizers.schedules
SCHEDULES = {
    "CosineDecay": lambda: S.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.2,
                                         warmup_steps=10),
    "CosineDecayRestarts": lambda: S.CosineDecayRestarts(0.1, 20),
    "ExponentialDecay": lambda: S.ExponentialDecay(0.1, 10, 0.5, staircase=True),
    "InverseTimeDecay": lambda: S.InverseTimeDecay(0.1, 10, 0.5),
    "PiecewiseConstantDecay": lambda: S.PiecewiseConstantDecay([5, 30], [0.1, 0.05, 0.01]),
    "PolynomialDecay": lambda: S.PolynomialDecay(0.1, 40, 0.01, power=2.0),
}


def test_every_schedule_has_an_entry():
    names = {n for n, c in vars(S).items() if inspect.isclass(c)
             and issubclass(c, S.LearningRateSchedule) and c is not S.LearningRateSchedule}
    assert names <= set(SCHEDULES), sorted(names - set(SCHEDULES))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_on_a_variable_step_inside_tf_function(name):
    schedule = SCHEDULES[name]()
    step = tf.Variable(0, dtype=tf.int64)
    lr = tf.function(lambda: schedule(step))
    for s in (3, 7, 25, 60):
        step.assign(s)
        np.testing.assert_allclose(lr().numpy(), schedule(s).numpy(), rtol=1e-6,
                                   err_msg=f"{name} at step {s}")
    assert lr.experimental_get_tracing_count() == 1
