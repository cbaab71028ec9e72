"""Recurrent layers: SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells, RNN, SimpleRNN, LSTM,
GRU.

The built-in cells with Keras's default activations (tanh, sigmoid) and no recurrent dropout
in training run the whole sequence as one primitive (lstm_sequence, gru_sequence,
simple_rnn_sequence in tenfold/ops/fused_ops.py: one GEMM for all input projections, a tight
loop for the recurrence, one reverse loop for the gradient). Otherwise the time loop is
unrolled in Python with tenfold ops (gradients come from the tape). For the built-in cells
the input projection `x @ kernel + bias` is one matmul over the whole sequence; each step
then costs one matmul (`h @ recurrent_kernel`, all gates at once) and a few elementwise ops.
Weight layouts are Keras's: LSTM gates i, f, c, o; GRU gates z, r, h with `reset_after=True`
bias of shape (2, 3 * units).
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras import activations
from tenfold.keras.layers.layer import Layer, InputSpec
from tenfold.keras.layers import _utils as U
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn
from tenfold.util import nest
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import from_host, to_host


# --------------------------------------------------------------------------------------------
# helpers

def _time_major_steps(x):
    """[x[:, t] for t] for x of shape (batch, time, ...), by recursive halving of the time axis
    so the backward pass costs O(T log T) instead of O(T^2)."""
    nd = x.ndim
    xt = a.transpose(x, (1, 0) + tuple(range(2, nd)))
    out = []

    def rec(piece):
        n = shape_of(piece)[0]
        if n == 1:
            out.append(a.reshape(piece, shape_of(piece)[1:]))
            return
        h = n // 2
        rec(piece[:h])
        rec(piece[h:])
    if shape_of(xt)[0]:
        rec(xt)
    return out


def _zeros(batch, size, dtype):
    return from_host(np.zeros((batch, size), dtype=np.dtype(dtype)))


class DropoutRNNCell:
    """Mixin: one dropout mask per sequence for the inputs and one for the recurrent state."""

    def _init_dropout(self, dropout, recurrent_dropout, seed):
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    def get_dropout_mask(self, step_input):
        if self._dropout_mask is None and self.dropout > 0:
            ones = m.ones_like(step_input)
            self._dropout_mask = nn.dropout(ones, self.dropout, seed=self.seed)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_state):
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            ones = m.ones_like(step_state)
            self._recurrent_dropout_mask = nn.dropout(ones, self.recurrent_dropout,
                                                      seed=self.seed)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None

    def _drop_inputs(self, x, training):
        if training and 0.0 < self.dropout < 1.0:
            mask = self.get_dropout_mask(x if x.ndim == 2 else x[:, 0])
            if x.ndim == 3:
                mask = a.expand_dims(mask, 1)
            return m.multiply(x, mask)
        return x

    def _drop_state(self, h, training):
        if training and 0.0 < self.recurrent_dropout < 1.0:
            return m.multiply(h, self.get_recurrent_dropout_mask(h))
        return h


class _BaseCell(Layer, DropoutRNNCell):
    """Shared by the built-in cells: `call(inputs, states, training)` for one step, and
    `_project` / `_step` used by RNN's fast loop."""

    _gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{type(self).__name__}: `units` must be a positive integer, got "
                             f"{units!r}")
        self.units = int(units)
        self.activation = U.get_act(activation)
        self.recurrent_activation = U.get_act(recurrent_activation)
        self.use_bias = bool(use_bias)
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
        self.kernel = None
        self.recurrent_kernel = None
        self.bias = None

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"{type(self).__name__} \"{self.name}\": the feature dimension of "
                             f"the inputs must be known, got input shape {tuple(input_shape)}.")
        g = self._gates * self.units
        self.kernel = self.add_weight(shape=(dim, g), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, g), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=self._bias_shape(), name="bias",
                                        initializer=self._bias_init(),
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def _input_bias(self):
        return self.bias

    def _project(self, x, training):
        """x (batch, [time,] features) -> dropout(x) @ kernel + input bias."""
        x = self._drop_inputs(x, training)
        if x.ndim == 2:
            y = m.matmul(x, self.kernel)
        else:
            s = tuple(x.shape)
            y = a.reshape(m.matmul(a.reshape(x, (-1, s[-1])), self.kernel),
                          s[:-1] + (self._gates * self.units,))
        b = self._input_bias()
        return y if b is None else m.add(y, b)

    def _begin(self, training):
        """Per-sequence values computed once before the loop (slices of weights)."""
        return None

    def call(self, inputs, states, training=False):
        single = not isinstance(states, (list, tuple))
        states = [states] if single else list(states)
        out, new = self._step(self._project(inputs, training), states, training,
                              self._begin(training))
        return out, (new[0] if single and len(new) == 1 else new)

    def get_initial_state(self, batch_size=None):
        return [_zeros(batch_size, s, self.compute_dtype) for s in _as_list(self.state_size)]

    def _base_config(self):
        return {
            "units": self.units, "activation": U.ser_act(self.activation),
            "recurrent_activation": U.ser_act(self.recurrent_activation),
            "use_bias": self.use_bias,
            **U.weight_options_config(self, ("kernel", "recurrent", "bias")),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed}


def _as_list(s):
    return list(s) if isinstance(s, (list, tuple)) else [s]


class SimpleRNNCell(_BaseCell):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation, None, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)

    @property
    def state_size(self):
        return self.units

    def _step(self, xw, states, training, pre):
        h = self._drop_state(states[0], training)
        out = m.add(xw, m.matmul(h, self.recurrent_kernel))
        if self.activation is not activations.linear:
            out = self.activation(out)
        return out, [out]

    def get_config(self):
        config = super().get_config()
        c = self._base_config()
        c.pop("recurrent_activation")
        config.update(c)
        return config


class LSTMCell(_BaseCell):
    """Long short-term memory cell; gates i, f, c, o in that order in kernel, recurrent_kernel
    and bias. States: [h, c]."""

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = self.bias_initializer, self.units

        def bias_initializer(shape, dtype=None):
            parts = [to_host(init((u,), dtype=dtype)), np.ones((u,)),
                     to_host(init((2 * u,), dtype=dtype))]
            return from_host(np.concatenate(parts).astype(parts[0].dtype))
        return bias_initializer

    def _step(self, xw, states, training, pre):
        h_tm1, c_tm1 = states[0], states[1]
        h = self._drop_state(h_tm1, training)
        z = m.add(xw, m.matmul(h, self.recurrent_kernel))
        u = self.units
        s = self.recurrent_activation(z)
        i, f, o = s[:, :u], s[:, u:2 * u], s[:, 3 * u:]
        g = self.activation(z[:, 2 * u:3 * u])
        c = m.add(m.multiply(f, c_tm1), m.multiply(i, g))
        h = m.multiply(o, self.activation(c))
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        c = self._base_config()
        out = {}
        for k, v in c.items():
            if k == "kernel_initializer":
                out["unit_forget_bias"] = self.unit_forget_bias
            out[k] = v
        config.update(out)
        return config


class GRUCell(_BaseCell):
    """Gated recurrent unit; gates z (update), r (reset), h (candidate). With
    `reset_after=True` (default) the bias has shape (2, 3 * units): input and recurrent
    biases."""

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)
        self.reset_after = bool(reset_after)

    @property
    def state_size(self):
        return self.units

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def _begin(self, training):
        u = self.units
        if self.reset_after:
            return {"rb": None if self.bias is None else self.bias[1]}
        rk = self.recurrent_kernel
        return {"rk_zr": rk[:, :2 * u], "rk_h": rk[:, 2 * u:]}

    def _step(self, xw, states, training, pre):
        if pre is None:
            pre = self._begin(training)
        h_tm1 = states[0]
        h = self._drop_state(h_tm1, training)
        u = self.units
        if self.reset_after:
            rec = m.matmul(h, self.recurrent_kernel)
            if pre["rb"] is not None:
                rec = m.add(rec, pre["rb"])
            s = self.recurrent_activation(m.add(xw[:, :2 * u], rec[:, :2 * u]))
            z, r = s[:, :u], s[:, u:]
            hh = self.activation(m.add(xw[:, 2 * u:], m.multiply(r, rec[:, 2 * u:])))
        else:
            s = self.recurrent_activation(m.add(xw[:, :2 * u], m.matmul(h, pre["rk_zr"])))
            z, r = s[:, :u], s[:, u:]
            hh = self.activation(m.add(xw[:, 2 * u:], m.matmul(m.multiply(r, h),
                                                               pre["rk_h"])))
        out = m.add(m.multiply(z, h_tm1), m.multiply(m.subtract(1.0, z), hh))
        return out, [out]

    def get_config(self):
        config = super().get_config()
        c = self._base_config()
        seed = c.pop("seed")
        c["reset_after"] = self.reset_after
        c["seed"] = seed
        config.update(c)
        return config


class StackedRNNCells(Layer):
    """Several cells run one after the other at each step, as one cell."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        from tenfold.keras.layers import deserialize
        self.cells = [deserialize(c) if isinstance(c, dict) else c for c in cells]
        for c in self.cells:
            if not hasattr(c, "call") or not hasattr(c, "state_size"):
                raise ValueError(f"StackedRNNCells: every cell needs `call` and `state_size`; "
                                 f"got {c!r}")

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _as_list(last.state_size)[0]

    def get_initial_state(self, batch_size=None):
        out = []
        for c in self.cells:
            fn = getattr(c, "get_initial_state", None)
            if fn is not None:
                s = fn(batch_size=batch_size)
            else:
                s = [_zeros(batch_size, d, self.compute_dtype) for d in _as_list(c.state_size)]
            out.append(list(s) if isinstance(s, (list, tuple)) else [s])
        return out

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self.cells:
            if isinstance(c, Layer) and not c.built:
                c.build(shape)
                c.built = True
                c._build_shapes = shape
            size = getattr(c, "output_size", None) or _as_list(c.state_size)[0]
            shape = shape[:-1] + (size,)
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        x = inputs
        for c, s in zip(self.cells, states):
            s = list(s) if isinstance(s, (list, tuple)) else [s]
            kw = {"training": training} if getattr(c, "_call_has_training", False) else {}
            x, ns = c(x, s, **kw)
            new_states.append(list(ns) if isinstance(ns, (list, tuple)) else [ns])
        return x, new_states

    def get_config(self):
        from tenfold.keras.layers import serialize
        config = super().get_config()
        config["cells"] = [serialize(c) for c in self.cells]
        return config


# --------------------------------------------------------------------------------------------
# the RNN layer

class _StateHolder:
    """Holds stateful RNN state variables out of the layer's weight tracking (as Keras)."""

    def __init__(self, value=None):
        self.value = value


class RNN(Layer):
    """Runs a cell over the time axis of (batch, time, features) inputs.

    `return_sequences`: all outputs (batch, time, units) instead of the last (batch, units);
    `return_state`: also return the final states; `go_backwards`: process time reversed (the
    returned sequence is in processing order); `stateful`: the final states of a batch are
    the initial states of the next. Masked steps keep the previous state and output.
    """
    _promotes_numeric_inputs = True  # bool / int inputs -> compute dtype (Layer)

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            # the stack computes in its cells' dtype (Keras would use the global policy)
            first = cell[0] if cell and isinstance(cell[0], Layer) else None
            cell = StackedRNNCells(cell, dtype=None if first is None else first.dtype_policy)
        if isinstance(cell, dict):
            from tenfold.keras.layers import deserialize
            cell = deserialize(cell)
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(f"RNN: the cell must have a `call` method and a `state_size` "
                             f"attribute (int or list of ints); got {cell!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        ss = cell.state_size
        self.state_size = [ss] if isinstance(ss, int) else list(ss)
        self.single_state = isinstance(ss, int)
        self.input_spec = None
        self._expected_batch_size = None

    # stateful RNN states live outside weight tracking
    @property
    def states(self):
        holder = self.__dict__.get("_states_holder")
        return None if holder is None else holder.value

    @states.setter
    def states(self, value):
        self.__dict__["_states_holder"] = _StateHolder(value)

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) < 3:
            raise ValueError(
                f"{type(self).__name__} layer \"{self.name}\" expects inputs of shape (batch, "
                f"timesteps, features), got input shape {tuple(sequences_shape)}. For a single "
                "feature per step reshape to (batch, timesteps, 1); for independent samples "
                "use Dense instead.")
        step = (sequences_shape[0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step)
            self.cell.built = True
            self.cell._build_shapes = step
        if self.stateful:
            if self.states is not None:
                self.reset_state()
            else:
                if sequences_shape[0] is None:
                    raise ValueError(f"{type(self).__name__} layer \"{self.name}\" is stateful, "
                                     "so its batch size must be fixed: pass batch_size= to "
                                     "Input (or batch_input_shape=) .")
                from tenfold.framework.variable import Variable
                init = self.get_initial_state(sequences_shape[0])
                self.states = nest.map_structure(
                    lambda v: Variable(v, trainable=False, name="rnn_state"), init)
                self._expected_batch_size = sequences_shape[0]
        self.built = True

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            s = fn(batch_size=batch_size)
            return list(s) if isinstance(s, (list, tuple)) else [s]
        return [_zeros(batch_size, d, self.cell.compute_dtype) for d in self.state_size]

    def reset_state(self):
        if self.states is not None:
            for v in nest.flatten(self.states):
                v.assign(np.zeros(tuple(v.shape), dtype=npd(v)))

    def reset_states(self):
        self.reset_state()

    def _fast(self):
        return isinstance(self.cell, _BaseCell)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        if x.ndim < 3:
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\" expects inputs of "
                             f"shape (batch, timesteps, features), got {tuple(x.shape)}.")
        batch = shape_of(x)[0]
        if initial_state is None:
            if self.stateful:
                if self._expected_batch_size is not None and batch != self._expected_batch_size:
                    raise ValueError(
                        f"{type(self).__name__} layer \"{self.name}\" is stateful with batch "
                        f"size {self._expected_batch_size}, but got a batch of {batch}. Keep "
                        "the batch size fixed (drop the remainder batch).")
                states = [nest.map_structure(lambda v: v, s) for s in self.states]
            else:
                states = self.get_initial_state(batch)
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else \
                [initial_state]
            if len(nest.flatten(states)) != len(nest.flatten(self.state_size)):
                raise ValueError(
                    f"{type(self).__name__} layer \"{self.name}\" expects "
                    f"{len(nest.flatten(self.state_size))} initial state tensor(s), got "
                    f"{len(nest.flatten(states))}.")
            from tenfold.ops._convert import tensor
            states = nest.map_structure(lambda s: tensor(s), states)
        cell = self.cell
        if _fused_ok(cell, x, training):
            return self._call_fused(x, states, mask, training)
        stacked = isinstance(cell, StackedRNNCells)
        if self._fast():
            if training and cell.dropout > 0:
                cell.get_dropout_mask(x[:, 0])
            if training and cell.recurrent_dropout > 0:
                cell.get_recurrent_dropout_mask(nest.flatten(states)[0])
            steps = _time_major_steps(cell._project(x, training))
            pre = cell._begin(training)

            def step(inp, st):
                return cell._step(inp, st, training, pre)
        else:
            steps = _time_major_steps(x)
            kw = {}
            if getattr(cell, "_call_has_training", False) or stacked:
                kw["training"] = training

            def step(inp, st):
                out, ns = cell(inp, st, **kw)
                ns = list(ns) if isinstance(ns, (list, tuple)) else [ns]
                return out, ns
        masks = None
        if mask is not None:
            # With tenfold ops (not the mask's values): under tf.function the mask changes from
            # batch to batch, so it must be part of the traced graph, not a constant of it.
            from tenfold.ops._convert import tensor
            mk = tensor(mask)
            if mk.dtype != "bool":
                mk = m.not_equal(mk, 0)
            if len(mk.shape) == 3:
                mk = m.reduce_any(mk, axis=-1)
            mkf = m.cast(a.expand_dims(mk, -1), x.dtype)
            masks = [(k, m.subtract(1.0, k)) for k in a.unstack(mkf, axis=1)]
        order = range(len(steps) - 1, -1, -1) if self.go_backwards else range(len(steps))
        outputs = []
        try:
            for t in order:
                out, new_states = step(steps[t], states)
                if masks is not None:
                    kf, drop = masks[t]
                    prev = nest.flatten(states[-1] if stacked else states[0])[0] \
                        if not self.zero_output_for_mask else None
                    out = m.multiply(out, kf) if prev is None else \
                        m.add(m.multiply(out, kf), m.multiply(prev, drop))
                    new_states = nest.map_structure(
                        lambda ns, s: m.add(m.multiply(ns, kf), m.multiply(s, drop)),
                        new_states, states)
                states = new_states
                outputs.append(out)
        finally:
            if isinstance(cell, DropoutRNNCell):
                cell.reset_dropout_mask()
                cell.reset_recurrent_dropout_mask()
        if not outputs:
            raise ValueError(f"{type(self).__name__} layer \"{self.name}\" got a sequence with "
                             "0 timesteps.")
        if self.stateful:
            for var, s in zip(nest.flatten(self.states), nest.flatten(states)):
                var.assign(a.stop_gradient(s))
        output = a.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        if self.return_state:
            if stacked:  # as Keras: a cell with one state (an int state_size) gives a tensor
                states = [s[0] if not isinstance(c.state_size, (list, tuple)) and
                          isinstance(s, (list, tuple)) and len(s) == 1 else s
                          for c, s in zip(cell.cells, states)]
            return [output] + list(states)
        return output

    def _call_fused(self, x, states, mask, training):
        """The whole sequence as one primitive (tenfold/ops/fused_ops.py): the built-in cells
        with Keras's default activations."""
        from tenfold.ops import fused_ops
        from tenfold.ops._convert import tensor
        cell = self.cell
        hs = cell.units
        dtype = x.dtype
        try:
            xin = cell._drop_inputs(x, training)
        finally:
            cell.reset_dropout_mask()
        w, u = tensor(cell.kernel), tensor(cell.recurrent_kernel)
        states = [tensor(s) for s in nest.flatten(states)]
        mk = None
        if mask is not None:
            mk = tensor(mask)
            if mk.dtype != "bool":
                mk = m.not_equal(mk, 0)
            if len(mk.shape) == 3:
                mk = m.reduce_any(mk, axis=-1)
        extra = [] if mk is None else [mk]
        kind = type(cell)
        bias = None if cell.bias is None else tensor(cell.bias)
        gb = self.go_backwards
        if kind is GRUCell:
            if bias is None:
                b = rb = _zeros_vec(3 * hs, x)
            elif cell.reset_after:
                b, rb = bias[0], bias[1]
            else:
                b, rb = bias, _zeros_vec(3 * hs, x)
            ws = fused_ops.gru_sequence(xin, w, u, b, rb, states[0], *extra, go_backwards=gb,
                                        reset_after=cell.reset_after)
        else:
            b = _zeros_vec(cell._gates * hs, x) if bias is None else bias
            if kind is LSTMCell:
                ws = fused_ops.lstm_sequence(xin, w, u, b, states[0], states[1], *extra,
                                             go_backwards=gb)
            else:
                ws = fused_ops.simple_rnn_sequence(xin, w, u, b, states[0], *extra,
                                                   go_backwards=gb)
        # LSTM, GRU: ws is (time, K, batch, H), its blocks h, c / h first; SimpleRNN: the
        # states (time, batch, H)
        last = ws[-1]
        new_states = [last[0], last[1]] if kind is LSTMCell else \
            [last[0]] if kind is GRUCell else [last]
        zero_masked = mk is not None and self.zero_output_for_mask
        if self.return_sequences:
            seq = ws[:, 0] if kind is LSTMCell or kind is GRUCell else ws
            output = a.transpose(seq, (1, 0, 2))
            if zero_masked:
                kf = m.cast(mk, dtype)
                if gb:
                    kf = a.reverse(kf, axis=[1])
                output = m.multiply(output, a.expand_dims(kf, -1))
        else:
            output = new_states[0]
            if zero_masked:
                kf = m.cast(mk[:, 0 if gb else -1], dtype)
                output = m.multiply(output, a.expand_dims(kf, -1))
        if self.stateful:
            for var, s in zip(nest.flatten(self.states), new_states):
                var.assign(a.stop_gradient(s))
        if self.return_state:
            return [output] + new_states
        return output

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        b, t = sequences_shape[0], sequences_shape[1]
        size = getattr(self.cell, "output_size", None) or _as_list(self.state_size[0])[0]
        out = (b, t, size) if self.return_sequences else (b, size)
        if self.return_state:
            sts = []
            for s in self.state_size:
                if isinstance(s, (list, tuple)):
                    sts.extend((b, d) for d in s)
                else:
                    sts.append((b, s))
            return [out] + sts
        return out

    def _rnn_config(self):
        config = super().get_config()
        config.update({"return_sequences": self.return_sequences,
                       "return_state": self.return_state, "go_backwards": self.go_backwards,
                       "stateful": self.stateful, "unroll": self.unroll,
                       "zero_output_for_mask": self.zero_output_for_mask})
        return config

    def get_config(self):
        from tenfold.keras.layers import serialize
        config = self._rnn_config()
        config["cell"] = serialize(self.cell)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tenfold.keras.layers import deserialize
        config = dict(config)
        if isinstance(config.get("cell"), dict):
            config["cell"] = deserialize(config["cell"], custom_objects)
        return super().from_config.__func__(cls, config)


def _zeros_vec(n, like):
    return from_host(np.zeros((n,), dtype=npd(like)))


_FUSED_DTYPES = ("float32", "float64")


def _fused_ok(cell, x, training):
    """Whether RNN.call can run the whole sequence as one primitive: a built-in cell (not a
    subclass) with Keras's default activations, no recurrent dropout while training, and
    float32/float64 inputs of shape (batch, time, features)."""
    kind = type(cell)
    if kind not in (LSTMCell, GRUCell, SimpleRNNCell):
        return False
    if cell.activation is not activations.tanh:
        return False
    if kind is not SimpleRNNCell and cell.recurrent_activation is not activations.sigmoid:
        return False
    if training and cell.recurrent_dropout > 0:
        return False
    if x.ndim != 3 or x.dtype not in _FUSED_DTYPES or shape_of(x)[1] == 0:
        return False
    k = cell.kernel
    return k is not None and _read_dtype(k) == x.dtype


def _read_dtype(v):
    from tenfold.ops._convert import read_variable
    return read_variable(v).dtype


class _BuiltinRNN(RNN):
    _cell_cls = None
    _cell_name = None

    def _make(self, cell_kwargs, rnn_kwargs):
        policy = rnn_kwargs.get("dtype")
        cell = self._cell_cls(name=self._cell_name, dtype=policy,
                              trainable=rnn_kwargs.get("trainable", True), **cell_kwargs)
        RNN.__init__(self, cell, **rnn_kwargs)
        self.input_spec = InputSpec(ndim=3)

    def __getattr__(self, name):
        # units, activation, kernel_initializer, ... are the cell's
        if name.startswith("_") or name in ("cell", "states"):
            raise AttributeError(name)
        cell = self.__dict__.get("cell")
        if cell is not None and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _cell_config(self):
        c = self.cell.get_config()
        for k in ("name", "trainable", "dtype", "batch_input_shape"):
            c.pop(k, None)
        return c

    def get_config(self):
        config = self._rnn_config()
        cc = self._cell_config()
        seed = cc.pop("seed", None)
        dropout, rdrop = cc.pop("dropout"), cc.pop("recurrent_dropout")
        extra = {k: cc.pop(k) for k in ("reset_after",) if k in cc}
        out = {}
        for k, v in cc.items():
            if k == "kernel_constraint":
                out["activity_regularizer"] = U.ser_reg(self.activity_regularizer)
            out[k] = v
        config.update(out)
        config.update({"dropout": dropout, "recurrent_dropout": rdrop})
        config.update(extra)
        if self._config_has_seed:
            config["seed"] = seed
        return config

    _config_has_seed = True

    @classmethod
    def from_config(cls, config):
        return Layer.from_config.__func__(cls, config)


_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask")


def _split_kwargs(kwargs):
    rnn = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_ARGS}
    kwargs.pop("use_cudnn", None)
    kwargs.pop("time_major", None)
    kwargs.pop("implementation", None)
    rnn.update(kwargs)
    return rnn


class SimpleRNN(_BuiltinRNN):
    """Fully connected RNN: h_t = tanh(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    _cell_cls, _cell_name = SimpleRNNCell, "simple_rnn_cell"
    _config_has_seed = False  # as Keras 3: SimpleRNN's config has no seed

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        kwargs.update(return_sequences=return_sequences, return_state=return_state,
                      go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                      activity_regularizer=activity_regularizer)
        self._make(dict(units=units, activation=activation, use_bias=use_bias,
                        kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer,
                        kernel_regularizer=kernel_regularizer,
                        recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint,
                        bias_constraint=bias_constraint, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, seed=seed),
                   _split_kwargs(kwargs))


class LSTM(_BuiltinRNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber): weights kernel (in, 4u),
    recurrent_kernel (u, 4u), bias (4u,), gates i, f, c, o."""

    _cell_cls, _cell_name = LSTMCell, "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):
        kwargs.update(return_sequences=return_sequences, return_state=return_state,
                      go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                      activity_regularizer=activity_regularizer)
        self._make(dict(units=units, activation=activation,
                        recurrent_activation=recurrent_activation, use_bias=use_bias,
                        kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                        kernel_regularizer=kernel_regularizer,
                        recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint,
                        bias_constraint=bias_constraint, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, seed=seed),
                   _split_kwargs(kwargs))


class GRU(_BuiltinRNN):
    """Gated recurrent unit layer: weights kernel (in, 3u), recurrent_kernel (u, 3u), bias
    (2, 3u) with reset_after=True (the default), gates z, r, h."""

    _cell_cls, _cell_name = GRUCell, "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", **kwargs):
        kwargs.update(return_sequences=return_sequences, return_state=return_state,
                      go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                      activity_regularizer=activity_regularizer)
        self._make(dict(units=units, activation=activation,
                        recurrent_activation=recurrent_activation, use_bias=use_bias,
                        kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer,
                        kernel_regularizer=kernel_regularizer,
                        recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint,
                        bias_constraint=bias_constraint, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, reset_after=reset_after,
                        seed=seed),
                   _split_kwargs(kwargs))
