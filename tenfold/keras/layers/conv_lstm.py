"""Convolutional LSTMs (Keras 3's ConvLSTM1D / ConvLSTM2D / ConvLSTM3D): an LSTM whose input
and recurrent transformations are convolutions, over sequences of (steps / images / volumes).

Inputs are (batch, time, *spatial, channels) (channels_last) or (batch, time, channels,
*spatial); the state h and carry c have the shape of one output step. Weights are Keras's:
kernel (*kernel_size, in, 4 * filters), recurrent_kernel (*kernel_size, filters, 4 * filters),
bias (4 * filters), gates in the order i, f, c, o; the recurrent convolution is stride 1,
'same'.
"""
from tenfold.keras import initializers
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.keras.layers.rnn import RNN, DropoutRNNCell
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m

_SPATIAL = {1: "steps", 2: "rows, cols", 3: "depth, rows, cols"}


def _keras_ops():
    from tenfold.keras import ops
    return ops


class ConvLSTMCell(Layer, DropoutRNNCell):
    """One step of a convolutional LSTM (used by ConvLSTM1D/2D/3D)."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if rank not in (1, 2, 3):
            raise ValueError(f"{cls}: rank {rank} convolutions are not implemented; rank must "
                             "be 1, 2 or 3.")
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{cls}: `filters` must be a positive integer, got {filters!r}")
        self.rank = rank
        self.filters = filters
        self.kernel_size = U.normalize_tuple(kernel_size, rank, "kernel_size", cls)
        self.strides = U.normalize_tuple(strides, rank, "strides", cls)
        self.padding = U.normalize_padding(padding, cls, ("valid", "same"))
        self.data_format = U.normalize_data_format(data_format, cls)
        self.dilation_rate = U.normalize_tuple(dilation_rate, rank, "dilation_rate", cls)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{cls}: specifying `strides > 1` is not compatible with `dilation_rate > 1`. "
                f"Please provide `strides=1` or `dilation_rate=1`. Received: "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = U.get_act(activation)
        self.recurrent_activation = U.get_act(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        U.set_weight_options(self, kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer,
                             bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer,
                             recurrent_regularizer=recurrent_regularizer,
                             bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint,
                             recurrent_constraint=recurrent_constraint,
                             bias_constraint=bias_constraint)
        self._init_dropout(dropout, recurrent_dropout, seed)
        self.input_spec = InputSpec(ndim=rank + 2)
        self.state_size = -1   # the state's shape depends on the input's (see get_initial_state)
        self.kernel = self.recurrent_kernel = self.bias = None

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, inputs_shape, states_shape=None):
        cls = type(self).__name__
        inputs_shape = tuple(inputs_shape)
        if len(inputs_shape) != self.rank + 2:
            raise ValueError(
                f"{cls} \"{self.name}\" expects one step of shape (batch, "
                f"{_SPATIAL[self.rank]}, channels), got {inputs_shape}.")
        cf = self.data_format == "channels_first"
        self.spatial_dims = tuple(inputs_shape[2:] if cf else inputs_shape[1:-1])
        if None in self.spatial_dims:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the "
                             f"spatial dimensions; layer \"{self.name}\" received input shape "
                             f"{inputs_shape}. Give the Input a full shape.")
        in_ch = inputs_shape[self._channel_axis()]
        if in_ch is None:
            raise ValueError(f"{cls} \"{self.name}\": the channel dimension of the inputs must "
                             f"be defined, got input shape {inputs_shape}.")
        self.input_dim = in_ch
        self.input_spec = InputSpec(ndim=self.rank + 2, shape=(None,) + inputs_shape[1:])
        self.kernel = self.add_weight(
            shape=self.kernel_size + (in_ch, self.filters * 4), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, self.filters * 4), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                base, n = self.bias_initializer, self.filters

                def init(shape, dtype=None):   # forget gate starts at 1
                    ones = initializers.get("ones")
                    return a.concat([base((n,), dtype=dtype), ones((n,), dtype=dtype),
                                     base((2 * n,), dtype=dtype)], 0)
            self.bias = self.add_weight(shape=(self.filters * 4,), name="bias",
                                        initializer=init, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def _conv(self, x, w, strides, padding, dilation):
        return _keras_ops().conv(x, w, strides=strides, padding=padding,
                                 data_format=self.data_format, dilation_rate=dilation)

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        xs = [inputs] * 4
        if training and 0.0 < self.dropout < 1.0:
            mask = self.get_dropout_mask(inputs)
            xs = [m.multiply(inputs, mask[k]) for k in range(4)]   # as Keras indexes it
        hs = [h_prev] * 4
        if training and 0.0 < self.recurrent_dropout < 1.0:
            mask = self.get_recurrent_dropout_mask(h_prev)
            hs = [m.multiply(h_prev, mask[k]) for k in range(4)]
        kernels = a.split(self.kernel, 4, axis=self.rank + 1)
        recurrent = a.split(self.recurrent_kernel, 4, axis=self.rank + 1)
        biases = a.split(self.bias, 4) if self.use_bias else [None] * 4
        if self.data_format == "channels_last":
            bias_shape = (1,) * (self.rank + 1) + (self.filters,)
        else:
            bias_shape = (1, self.filters) + (1,) * self.rank
        gates = []
        for x, h, k, rk, b in zip(xs, hs, kernels, recurrent, biases):
            z = self._conv(x, k, self.strides, self.padding, self.dilation_rate)
            if b is not None:
                z = m.add(z, a.reshape(b, bias_shape))
            gates.append(m.add(z, self._conv(h, rk, 1, "same", 1)))
        i = self.recurrent_activation(gates[0])
        f = self.recurrent_activation(gates[1])
        c = m.add(m.multiply(f, c_prev), m.multiply(i, self.activation(gates[2])))
        o = self.recurrent_activation(gates[3])
        h = m.multiply(o, self.activation(c))
        return h, [h, c]

    def _step_output_shape(self, step_shape):
        cf = self.data_format == "channels_first"
        sp = step_shape[2:] if cf else step_shape[1:-1]
        out = tuple(U.conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                    zip(sp, self.kernel_size, self.strides, self.dilation_rate))
        return (step_shape[0], self.filters) + out if cf else \
            (step_shape[0],) + out + (self.filters,)

    def compute_output_shape(self, inputs_shape, states_shape=None):
        out = self._step_output_shape(tuple(inputs_shape))
        return out, [out, out]

    def get_initial_state(self, batch_size=None):
        if self.data_format == "channels_last":
            step = (batch_size,) + self.spatial_dims + (self.input_dim,)
        else:
            step = (batch_size, self.input_dim) + self.spatial_dims
        shape = self._step_output_shape(step)
        return [a.zeros(shape, dtype=self.compute_dtype),
                a.zeros(shape, dtype=self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": U.ser_act(self.activation),
            "recurrent_activation": U.ser_act(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": U.ser_init(self.kernel_initializer),
            "recurrent_initializer": U.ser_init(self.recurrent_initializer),
            "bias_initializer": U.ser_init(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": U.ser_reg(self.kernel_regularizer),
            "recurrent_regularizer": U.ser_reg(self.recurrent_regularizer),
            "bias_regularizer": U.ser_reg(self.bias_regularizer),
            "kernel_constraint": U.ser_con(self.kernel_constraint),
            "recurrent_constraint": U.ser_con(self.recurrent_constraint),
            "bias_constraint": U.ser_con(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed})
        return config


_CELL_ARGS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "seed")


class ConvLSTM(RNN):
    """The shared base of ConvLSTM1D/2D/3D: an RNN over a ConvLSTMCell."""

    _rank = 2

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, **kwargs):
        cell = ConvLSTMCell(
            rank=rank, filters=filters, kernel_size=kernel_size, strides=strides,
            padding=padding, data_format=data_format, dilation_rate=dilation_rate,
            activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="conv_lstm_cell",
            dtype=kwargs.get("dtype"))
        kwargs.pop("unroll", None)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=rank + 3)

    def __getattr__(self, name):
        if name in _CELL_ARGS:   # filters, kernel_size, ... are the cell's
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        rank = self.cell.rank
        if len(shape) != rank + 3:
            raise ValueError(
                f"{type(self).__name__} layer \"{self.name}\" expects inputs of rank "
                f"{rank + 3}: (batch, time, {_SPATIAL[rank]}, channels) with channels_last, "
                f"got input shape {shape}." + (
                    " A sequence of grayscale images needs a channel axis: add one with "
                    "x[..., None]." if len(shape) == rank + 2 else ""))
        super().build(shape, initial_state_shape)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        b, t = sequences_shape[0], sequences_shape[1]
        state = self.cell._step_output_shape((b,) + tuple(sequences_shape[2:]))[1:]
        out = (b, t) + state if self.return_sequences else (b,) + state
        if self.return_state:
            return out, (b,) + state, (b,) + state
        return out

    def get_config(self):
        config = self._rnn_config()
        cell = self.cell.get_config()
        for k in _CELL_ARGS:
            if k == "kernel_constraint":
                config["activity_regularizer"] = U.ser_reg(self.activity_regularizer)
            config[k] = cell[k]
        return config

    @classmethod
    def from_config(cls, config):
        return Layer.from_config.__func__(cls, config)


def _public(rank, doc):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        ConvLSTM.__init__(
            self, rank, filters, kernel_size, strides, padding, data_format, dilation_rate,
            activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
            recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
            return_sequences, return_state, go_backwards, stateful, **kwargs)
    return type(f"ConvLSTM{rank}D", (ConvLSTM,), {"__init__": __init__, "__doc__": doc,
                                                  "__module__": __name__, "_rank": rank})


ConvLSTM1D = _public(1, "Convolutional LSTM over sequences of 1-D inputs: "
                        "(batch, time, steps, channels).")
ConvLSTM2D = _public(2, "Convolutional LSTM over sequences of images: "
                        "(batch, time, rows, cols, channels).")
ConvLSTM3D = _public(3, "Convolutional LSTM over sequences of volumes: "
                        "(batch, time, depth, rows, cols, channels).")
