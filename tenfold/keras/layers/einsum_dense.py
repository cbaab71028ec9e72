"""`EinsumDense` (Keras 3's): a dense layer written as an einsum, `activation(einsum(equation,
inputs, kernel) + bias)`, whose kernel and bias shapes are read from the equation.

Equations take one of three forms: "ab,bc->ac" (every axis named), "...b,bc->...c" (leading
axes elided) or "ab...,bc->ac..." (trailing axes elided). Each weight letter names an axis of
the output (its size from `output_shape`) or of the input (its size from the input).
"""
import re

from tenfold.keras import activations
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import math_ops as m
from tenfold.ops.composite import einsum

_FORMS = (("full", r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"),
          ("left", r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)"),
          ("right", r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\."))


def _parse(equation, layer):
    eq = equation.replace(" ", "") if isinstance(equation, str) else equation
    for form, pattern in _FORMS:
        match = re.fullmatch(pattern, eq) if isinstance(eq, str) else None
        if match:
            return form, match.group(1), match.group(2), match.group(3)
    raise ValueError(
        f"EinsumDense layer \"{layer}\": invalid einsum equation {equation!r}. Equations must "
        "be in the form [X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]... with letters "
        "for axes, e.g. 'ab,bc->ac' for a Dense layer on 2-D inputs.")


def weight_shapes(equation, bias_axes, input_shape, partial_output, layer="einsum_dense"):
    """(kernel shape, bias shape or None, full output shape, kernel input axes, kernel output
    axes) for `equation` on inputs of `input_shape`."""
    form, in_spec, w_spec, out_spec = _parse(equation, layer)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(in_spec)
    if elided < 0 or (form == "full" and elided):
        raise ValueError(
            f"EinsumDense layer \"{layer}\": the equation {equation!r} names "
            f"{len(in_spec)} input axes but the input has shape {input_shape}. Name one letter "
            "per input axis, or elide axes with '...'.")
    partial = list(partial_output)
    if form == "left":
        full_out = [input_shape[0]] + list(input_shape[1:elided]) + partial
        in_index = {c: elided + i for i, c in enumerate(in_spec)}
        out_index = {c: elided + i for i, c in enumerate(out_spec)}
    else:
        full_out = [input_shape[0]] + partial + list(input_shape[len(in_spec):])
        in_index = {c: i for i, c in enumerate(in_spec)}
        out_index = {c: i for i, c in enumerate(out_spec)}
    if max(out_index.values(), default=-1) >= len(full_out):
        raise ValueError(
            f"EinsumDense layer \"{layer}\": output_shape {tuple(partial_output)} gives "
            f"{len(partial)} output axes after the batch axis, but the equation {equation!r} "
            f"names {len(out_spec)} output axes (batch included). Give one size per "
            "non-batch output letter.")
    for c in in_spec:
        if c in out_index:
            want, got = full_out[out_index[c]], input_shape[in_index[c]]
            if want is not None and got is not None and want != got:
                raise ValueError(
                    f"EinsumDense layer \"{layer}\": input shape and output shape do not match "
                    f"at shared dimension '{c}'. Input shape is {got}, and output shape is "
                    f"{want} (input {input_shape}, output_shape {tuple(partial_output)}).")
    for c in out_spec:
        if c not in in_spec and c not in w_spec:
            raise ValueError(
                f"EinsumDense layer \"{layer}\": dimension '{c}' was specified in the output "
                f"'{out_spec}' but has no corresponding dim in the input spec '{in_spec}' or "
                f"weight spec '{w_spec}'.")
    kernel, in_axes, out_axes = [], [], []
    for i, c in enumerate(w_spec):
        if c in out_index:
            kernel.append(full_out[out_index[c]])
            out_axes.append(i)
        elif c in in_index:
            kernel.append(input_shape[in_index[c]])
            in_axes.append(i)
        else:
            raise ValueError(
                f"EinsumDense layer \"{layer}\": weight dimension '{c}' did not have a match in "
                f"either the input spec '{in_spec}' or the output spec '{out_spec}'. For this "
                "layer, the weight must be fully specified.")
    bias = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(
                    f"EinsumDense layer \"{layer}\": bias dimension '{c}' was requested, but "
                    f"is not part of the output spec '{out_spec}'.")
        first = min(out_spec.find(c) for c in bias_axes)
        bias = [full_out[out_index[c]] if c in bias_axes else 1 for c in out_spec[first:]]
        if form != "left":
            bias += [1] * elided
    return kernel, bias, full_out, in_axes, out_axes


class EinsumDense(Layer):
    """A dense layer with an arbitrary einsum equation.

    >>> EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")  # per-token Dense
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None,
                 gptq_unpacked_column_size=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        _parse(equation, self.name)
        if lora_rank or quantization_config is not None:
            raise NotImplementedError(
                f"EinsumDense layer \"{self.name}\": LoRA and quantization are not supported "
                "by tenfold; leave lora_rank and quantization_config unset.")
        self.equation = equation
        shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        if any(d is not None and (not isinstance(d, int) or d <= 0) for d in shape):
            raise ValueError(f"EinsumDense layer \"{self.name}\": output_shape must hold "
                             f"positive integers or None, got {output_shape!r}.")
        self.partial_output_shape = shape
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise ValueError(f"EinsumDense layer \"{self.name}\": bias_axes must be a string of "
                             f"output letters (e.g. 'd'), got {bias_axes!r}.")
        self.bias_axes = bias_axes
        self.activation = U.get_act(activation)
        U.set_kernel_bias_options(self, kernel_initializer, bias_initializer,
                                  kernel_regularizer, bias_regularizer, kernel_constraint,
                                  bias_constraint)
        self.lora_rank = None
        self.quantization_config = None
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        kernel_shape, bias_shape, _, in_axes, out_axes = weight_shapes(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape, self.name)
        self.input_spec = InputSpec(ndim=len(input_shape))
        init = self.kernel_initializer
        if getattr(init, "input_axes", False) is None or getattr(init, "output_axes", 0) is None:
            # fans from the axes the equation contracts and produces (as Keras does)
            config = dict(init.get_config(), input_axes=in_axes, output_axes=out_axes)
            init = type(init).from_config(config)
        self.kernel = self.add_weight(name="kernel", shape=tuple(kernel_shape),
                                      initializer=init, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if bias_shape is not None:
            self.bias = self.add_weight(name="bias", shape=tuple(bias_shape),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(weight_shapes(self.equation, self.bias_axes, input_shape,
                                   self.partial_output_shape, self.name)[2])

    def call(self, inputs, training=None):
        y = einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            y = m.add(y, self.bias)
        if self.activation is not activations.linear:
            y = self.activation(y)
        return y

    def get_config(self):
        config = super().get_config()
        config.update({
            "output_shape": self.partial_output_shape, "equation": self.equation,
            "activation": U.ser_act(self.activation), "bias_axes": self.bias_axes,
            **U.weight_options_config(self, ("kernel", "bias"), activity=True),
            "quantization_config": None})
        return config
