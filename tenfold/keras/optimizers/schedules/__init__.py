"""`keras.optimizers.schedules`: learning-rate schedules."""
from tenfold.keras.optimizers.schedules.learning_rate_schedule import (  # noqa: F401
    LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
    InverseTimeDecay, CosineDecay, CosineDecayRestarts, serialize, deserialize)
