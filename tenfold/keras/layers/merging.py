"""Merge layers, called on a list of tensors: Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, Dot."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.layers.layer import Layer
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn


class _Merge(Layer):
    supports_masking = True
    _min_inputs = 1

    def _check(self, shapes):
        if not isinstance(shapes, (list, tuple)) or not shapes or \
                not isinstance(shapes[0], (list, tuple)):
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\" should be called on "
                             f"a list of tensors, e.g. {type(self).__name__}()([x1, x2]); got "
                             f"input shape {shapes}.")
        if len(shapes) < self._min_inputs:
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\" needs at least "
                             f"{self._min_inputs} inputs, got {len(shapes)}.")
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\": cannot merge tensors "
                             f"with different batch sizes; got shapes {list(shapes)}.")

    def _elementwise_shape(self, shapes):
        out = list(shapes[0][1:])
        for s in shapes[1:]:
            s = list(s[1:])
            if len(s) > len(out):
                out, s = s, out
            for i in range(1, len(s) + 1):
                d1, d2 = out[-i], s[-i]
                if d1 is None or d2 is None:
                    out[-i] = None if (d1 != 1 and d2 != 1) else (d2 if d1 == 1 else d1)
                elif d1 == 1:
                    out[-i] = d2
                elif d2 != 1 and d1 != d2:
                    raise ValueError(
                        f"{type(self).__name__} layer \"{self.name}\": inputs must have the "
                        f"same shape (or broadcast), got shapes {[tuple(x) for x in shapes]}. "
                        "Check the layers feeding this merge: their output sizes differ.")
        return out

    def build(self, input_shape):
        self._check(input_shape)
        self._elementwise_shape(input_shape)
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\" should be called on "
                             f"a list of tensors, got a single tensor of shape "
                             f"{tuple(inputs.shape)}.")
        inputs = list(inputs)
        nd = max(x.ndim for x in inputs)
        if any(x.ndim != nd for x in inputs):
            inputs = [_expand_to(x, nd) for x in inputs]
        return self._merge(inputs)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            return mask
        ms = [x for x in mask if x is not None]
        if not ms:
            return None
        out = ms[0]
        for x in ms[1:]:
            out = m.logical_and(out, x)
        return out

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],) + tuple(self._elementwise_shape(input_shape))


def _expand_to(x, nd):
    while x.ndim < nd:
        x = a.expand_dims(x, 1)
    return x


class Add(_Merge):
    """Sum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = m.add(out, x)
        return out


class Subtract(_Merge):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    _min_inputs = 2

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Subtract layer \"{self.name}\" needs exactly 2 inputs, got "
                             f"{len(input_shape)}.")

    def _merge(self, xs):
        if len(xs) != 2:
            raise ValueError(f"Subtract layer \"{self.name}\" needs exactly 2 inputs, got "
                             f"{len(xs)}.")
        return m.subtract(xs[0], xs[1])


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = m.multiply(out, x)
        return out


class Average(_Merge):
    """Elementwise mean of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = m.add(out, x)
        return m.divide(out, float(len(xs)))


class Maximum(_Merge):
    """Elementwise maximum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = m.maximum(out, x)
        return out


class Minimum(_Merge):
    """Elementwise minimum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = m.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Concatenates the inputs along `axis` (default: the last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape):
        self._check(input_shape)
        shapes = [list(s) for s in input_shape]
        nd = len(shapes[0])
        if any(len(s) != nd for s in shapes):
            raise ValueError(f"Concatenate layer \"{self.name}\" needs inputs of the same rank, "
                             f"got shapes {[tuple(s) for s in input_shape]}.")
        ax = self.axis % nd
        for s in shapes:
            s[ax] = None
        ref = shapes[0]
        for s in shapes[1:]:
            for i, (d1, d2) in enumerate(zip(ref, s)):
                if i and d1 is not None and d2 is not None and d1 != d2:
                    raise ValueError(
                        f"Concatenate layer \"{self.name}\" needs inputs with matching shapes "
                        f"except on the concatenation axis ({self.axis}), got shapes "
                        f"{[tuple(x) for x in input_shape]}.")
        self.built = True

    def call(self, inputs):
        return a.concat(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)) or \
                all(x is None for x in mask):
            return None
        ms = []
        for x, mk in zip(inputs, mask):
            if mk is None:
                ms.append(m.cast(m.ones_like(x), "bool"))
            elif mk.ndim < x.ndim:
                ms.append(a.broadcast_to(a.expand_dims(mk, -1), tuple(x.shape)))
            else:
                ms.append(mk)
        return m.reduce_any(a.concat(ms, axis=self.axis), axis=-1)

    def compute_output_shape(self, input_shape):
        out = list(input_shape[0])
        ax = self.axis % len(out)
        sizes = [s[ax] for s in input_shape]
        out[ax] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def _normalize_axes(axes, x1, x2):
    if isinstance(axes, int):
        return [axes % x1.ndim, axes % x2.ndim] if axes < 0 else [axes, axes]
    return [ax % x.ndim if ax < 0 else ax for ax, x in zip(axes, (x1, x2))]


def batch_dot(x, y, axes):
    """Per-sample dot product over axes[0] of x and axes[1] of y (batch axis 0 kept)."""
    ax, ay = axes
    if ax == 0 or ay == 0:
        raise ValueError("batch_dot: the batch axis 0 cannot be a dot axis")
    xs, ys = tuple(x.shape), tuple(y.shape)
    if xs[ax] != ys[ay]:
        raise ValueError(f"Dot: the dot axes must have the same size, got x.shape={xs} (axis "
                         f"{ax}) and y.shape={ys} (axis {ay})")
    b, k = xs[0], xs[ax]
    xr = [d for i, d in enumerate(xs) if i not in (0, ax)]
    yr = [d for i, d in enumerate(ys) if i not in (0, ay)]
    xp = a.transpose(x, [0] + [i for i in range(1, len(xs)) if i != ax] + [ax])
    yp = a.transpose(y, [0, ay] + [i for i in range(1, len(ys)) if i != ay])
    out = m.matmul(a.reshape(xp, (b, -1, k)), a.reshape(yp, (b, k, -1)))
    shape = (b,) + tuple(xr) + tuple(yr)
    if len(shape) == 1:
        shape = (b, 1)
    return a.reshape(out, shape)


class Dot(_Merge):
    """Dot product between two samples along `axes`: (b, n) . (b, n) -> (b, 1)."""

    _min_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int) and (not isinstance(axes, (list, tuple)) or
                                          len(axes) != 2):
            raise ValueError(f"Dot: `axes` must be an integer or a list of two integers, got "
                             f"{axes!r}")
        self.axes = axes if isinstance(axes, int) else list(axes)
        self.normalize = normalize
        self.supports_masking = True

    def build(self, input_shape):
        self._check(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Dot layer \"{self.name}\" needs exactly 2 inputs, got "
                             f"{len(input_shape)}.")
        s1, s2 = input_shape
        if isinstance(self.axes, int):
            axes = [self.axes % len(s1), self.axes % len(s2)] if self.axes < 0 else \
                [self.axes] * 2
        else:
            axes = [ax % len(s) if ax < 0 else ax for ax, s in zip(self.axes, (s1, s2))]
        if s1[axes[0]] is not None and s2[axes[1]] is not None and \
                s1[axes[0]] != s2[axes[1]]:
            raise ValueError(f"Dot layer \"{self.name}\": incompatible input shapes {tuple(s1)} "
                             f"and {tuple(s2)} for axes {self.axes}: sizes {s1[axes[0]]} != "
                             f"{s2[axes[1]]}.")
        self.built = True

    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"Dot layer \"{self.name}\" needs exactly 2 inputs, got "
                             f"{len(inputs)}.")
        x1, x2 = inputs
        axes = _normalize_axes(self.axes, x1, x2)
        if self.normalize:
            x1 = nn.l2_normalize(x1, axis=axes[0])
            x2 = nn.l2_normalize(x2, axis=axes[1])
        return batch_dot(x1, x2, axes)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        s1, s2 = [list(s) for s in input_shape]
        if isinstance(self.axes, int):
            axes = [self.axes % len(s1), self.axes % len(s2)] if self.axes < 0 else \
                [self.axes] * 2
        else:
            axes = [ax % len(s) if ax < 0 else ax for ax, s in zip(self.axes, (s1, s2))]
        s1.pop(axes[0])
        s2.pop(axes[1])
        s2.pop(0)
        out = s1 + s2
        if len(out) == 1:
            out += [1]
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)


_ = (np, Tensor)
