"""Helpers shared by the layer modules: argument normalisation and config serialisation."""
from tenfold.keras import activations, constraints, initializers, regularizers


def ser_init(x):
    return initializers.serialize(x)


def ser_reg(x):
    return regularizers.serialize(x)


def ser_con(x):
    return constraints.serialize(x)


def ser_act(x):
    return activations.serialize(x)


def get_init(x):
    return initializers.get(x)


def get_reg(x):
    return regularizers.get(x)


def get_con(x):
    return constraints.get(x)


def get_act(x):
    return activations.get(x)


_WEIGHT_OPTIONS = (("initializer", get_init, ser_init), ("regularizer", get_reg, ser_reg),
                   ("constraint", get_con, ser_con))


def set_weight_options(layer, **options):
    """Resolves and sets a layer's per-weight options: `kernel_initializer=...`,
    `bias_regularizer=...`, `recurrent_constraint=...` (by the suffix of each name)."""
    getters = {suffix: get for suffix, get, _ in _WEIGHT_OPTIONS}
    for name, value in options.items():
        setattr(layer, name, getters[name.rsplit("_", 1)[1]](value))


def set_kernel_bias_options(layer, kernel_initializer, bias_initializer, kernel_regularizer,
                            bias_regularizer, kernel_constraint, bias_constraint):
    """set_weight_options for the usual kernel + bias pair, in Keras's argument order."""
    set_weight_options(layer, kernel_initializer=kernel_initializer,
                       bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                       bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                       bias_constraint=bias_constraint)


def weight_options_config(layer, weights, activity=False):
    """The config entries of set_weight_options' options for the named weights, in Keras's
    order (initializers, regularizers[, activity_regularizer], constraints)."""
    out = {}
    for suffix, _, ser in _WEIGHT_OPTIONS:
        for w in weights:
            out[f"{w}_{suffix}"] = ser(getattr(layer, f"{w}_{suffix}"))
        if activity and suffix == "regularizer":
            out["activity_regularizer"] = ser_reg(layer.activity_regularizer)
    return out


def layer_name(layer):
    return f"{type(layer).__name__} layer \"{layer.name}\""


def normalize_tuple(value, n, arg, cls_name, allow_zero=False):
    """An int or a sequence of n ints as a tuple of n ints, with a clear error otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value,) * n
    else:
        try:
            out = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{cls_name}: `{arg}` must be an integer or a tuple of {n} "
                             f"integers, got {value!r}") from None
        if len(out) != n:
            raise ValueError(f"{cls_name}: `{arg}` must be an integer or a tuple of {n} "
                             f"integers, got {value!r} ({len(out)} values)")
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        raise ValueError(f"{cls_name}: `{arg}` values must be >= {low}, got {value!r}")
    return out


def normalize_padding(value, cls_name, allowed=("valid", "same")):
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{cls_name}: `padding` must be one of {allowed}, got {value!r}")
    return value.lower()


def normalize_data_format(value, cls_name=""):
    if value is None:
        from tenfold.keras import backend
        return backend.image_data_format()
    v = str(value).lower()
    if v not in ("channels_last", "channels_first"):
        raise ValueError(f"{cls_name}: `data_format` must be 'channels_last' or "
                         f"'channels_first', got {value!r}")
    return v


def conv_output_length(length, kernel, padding, stride, dilation=1):
    if length is None:
        return None
    k = (kernel - 1) * dilation + 1
    if padding == "same":
        return (length + stride - 1) // stride
    if padding == "causal":
        return (length + stride - 1) // stride
    return (length - k + stride) // stride


def deconv_output_length(length, kernel, padding, stride, output_padding=None, dilation=1):
    if length is None:
        return None
    k = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(k - stride, 0)
        return length * stride
    pad = k // 2 if padding == "same" else 0
    return (length - 1) * stride + k - 2 * pad + output_padding
