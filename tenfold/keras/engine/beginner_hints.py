"""Hints for the mistakes new users make most, each said once, in words they can act on:

- a single sample given to `predict` / `evaluate` / `fit` without its batch axis;
- images without their channel axis fed to a model whose Input has one (accepted, as Keras 3
  accepts it, and said once per model);
- a training loss that explodes (becomes inf/NaN, or grows by orders of magnitude): one
  warning naming the epoch and suggesting a lower learning rate (`LossWatch`, run by `fit`
  after each epoch).
"""
import math
import os
import sys
import warnings

import numpy as np


_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _user_stacklevel():
    """The stacklevel of the first caller outside tenfold, so the warning shows user code."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


class LossExplosionWarning(UserWarning):
    """The training loss became inf/NaN or grew by orders of magnitude."""


class InputRankWarning(UserWarning):
    """The data had one axis fewer (or more) than the model's Input, of size 1: adjusted."""


# ------------------------------------------------------------------ single sample, no batch
def _model_input_shapes(model):
    inputs = getattr(model, "_inputs", None)
    if inputs is None:
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            return None
    if not inputs:
        return None
    try:
        return [tuple(t.shape) for t in inputs]
    except (AttributeError, TypeError):
        return None


def _shape_of(x):
    if isinstance(x, np.ndarray):
        return x.shape
    value = getattr(x, "_value", None)  # a tenfold Tensor
    if value is not None and hasattr(value, "shape"):
        return tuple(value.shape)
    return None


def check_batch_axis(model, x, what):
    """Raises a ValueError with the fix when `x` is one sample of the model's only input."""
    shapes = _model_input_shapes(model)
    shape = _shape_of(x)
    if shapes is None or len(shapes) != 1 or shape is None:
        return
    want = shapes[0]
    if len(shape) != len(want) - 1 or not shape or want[-1] == 1:
        return  # (n,) for an Input of shape (None, 1) is a batch: Keras adds the axis
    if all(w is None or w == d for w, d in zip(want[1:], shape)):
        shown = tuple(shape)
        raise ValueError(
            f"{what}() got a single sample of shape {shown}, but the model takes batches of "
            f"shape {want} (the first axis counts the samples). Add the batch axis: "
            f"model.{what}(x[None]) or model.{what}(np.expand_dims(x, 0)), which has shape "
            f"{(1,) + shown}.")


def check_string_targets(y, what):
    """Raises a ValueError with the fix when the targets are strings (class names)."""
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "USO" or y.size == 0:
        return
    first = y.ravel()[0]
    if y.dtype.kind == "O" and not isinstance(first, (str, bytes)):
        return
    first = first.item() if isinstance(first, np.generic) else first
    raise ValueError(
        f"{what}() got targets that are strings (for example {first!r}); losses and metrics "
        "need numbers. Map each class name to an integer first, e.g. "
        "`class_names, y = np.unique(y, return_inverse=True)` (then "
        "loss='sparse_categorical_crossentropy'), or use a keras.layers.StringLookup layer.")


# ------------------------------------------------------------------ missing channel axis
def note_rank_adjusted(model, data_shape, input_shape, added):
    """Says once per model that a trailing axis of size 1 was added (or removed)."""
    if model.__dict__.get("_rank_note_given"):
        return
    model.__dict__["_rank_note_given"] = True
    if added:
        how = (f"a channel axis of size 1 was added, giving {tuple(data_shape) + (1,)}, as "
               "Keras 3 does. To do it yourself: x = x[..., None] (or "
               "np.expand_dims(x, -1)).")
    else:
        how = (f"its last axis of size 1 was dropped, giving {tuple(data_shape)[:-1]}, as "
               "Keras 3 does. To do it yourself: x = x[..., 0].")
    warnings.warn(f"Model '{model.name}' expects inputs of shape {tuple(input_shape)} and got "
                  f"data of shape {tuple(data_shape)}: {how}", InputRankWarning,
                  stacklevel=_user_stacklevel())


# ------------------------------------------------------------------ exploding loss
class LossWatch:
    """Watches the epoch losses of one `fit` and warns once if they explode."""

    GROWTH = 100.0  # "orders of magnitude": 100x the best epoch so far

    def __init__(self, model):
        self.model = model
        self.best = None
        self.best_epoch = None
        self.warned = False

    def _learning_rate(self):
        opt = getattr(self.model, "optimizer", None)
        lr = getattr(opt, "learning_rate", None)
        try:
            return float(np.asarray(getattr(lr, "numpy", lambda: lr)()))
        except (TypeError, ValueError):
            return None

    def epoch_end(self, epoch, logs):
        loss = (logs or {}).get("loss")
        try:
            loss = float(loss)
        except (TypeError, ValueError):
            return
        if self.warned:
            return
        shown_epoch = epoch + 1  # as the progress bar counts them
        if not math.isfinite(loss):
            # nan_guard reported it at its first batch (NonFiniteLossWarning, a
            # LossExplosionWarning), or the user switched numeric checks off: one warning only.
            self.warned = True
        elif self.best is not None and self.best > 0 and loss > self.GROWTH * self.best:
            self._warn(f"the training loss exploded at epoch {shown_epoch}: {loss:.4g}, up "
                       f"from {self.best:.4g} at epoch {self.best_epoch}")
        if math.isfinite(loss) and (self.best is None or loss < self.best):
            self.best, self.best_epoch = loss, shown_epoch

    def _warn(self, what):
        self.warned = True
        lr = self._learning_rate()
        opt = type(getattr(self.model, "optimizer", None)).__name__
        if lr is not None:
            fix = (f"The learning rate ({lr:g}) is probably too high: try a lower one, e.g. "
                   f"optimizer=keras.optimizers.{opt}(learning_rate={lr / 10:g}).")
        else:
            fix = "The learning rate is probably too high: try a lower one."
        warnings.warn(f"{what[0].upper()}{what[1:]}. {fix} Also check that the inputs are "
                      "scaled (e.g. images divided by 255) and the targets are what the loss "
                      "expects.", LossExplosionWarning, stacklevel=_user_stacklevel())
