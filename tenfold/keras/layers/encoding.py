"""Categorical encoding layers (Keras 3's arguments and outputs): CategoryEncoding and
Discretization (with `adapt` estimating quantile boundaries the way Keras does)."""
import numpy as np

from tenfold.keras.layers.layer import Layer


def encode_categorical(inputs, output_mode, depth, dtype, count_weights=None):
    """Keras's categorical encoding of integer inputs: "int" (cast), "one_hot", "multi_hot"
    or "count" over `depth` classes. Rank-0/1 inputs are one value per sample."""
    from tenfold.keras import ops
    x = ops.convert_to_tensor(inputs)
    if output_mode == "int":
        return ops.cast(x, dtype)
    if len(x.shape) == 0:
        x = ops.expand_dims(x, -1)
    if output_mode == "one_hot":
        if len(x.shape) > 1 and x.shape[-1] == 1:
            x = ops.reshape(x, tuple(x.shape[:-1]))
        return ops.one_hot(ops.cast(x, "int32"), depth, dtype=dtype)
    if len(x.shape) == 1:
        x = ops.expand_dims(x, -1)
    hot = ops.one_hot(ops.cast(x, "int32"), depth, dtype=dtype)   # (..., n, depth)
    if output_mode == "multi_hot":
        return ops.max(hot, axis=-2)
    if output_mode == "count":
        if count_weights is not None:
            w = ops.cast(ops.convert_to_tensor(count_weights), dtype)
            if len(w.shape) == 1 and len(hot.shape) == 3 and w.shape[0] == hot.shape[1]:
                w = ops.expand_dims(w, -1)
            hot = ops.multiply(hot, ops.expand_dims(w, -1))
        return ops.sum(hot, axis=-2)
    raise ValueError(f"Unknown output_mode: {output_mode}")


class CategoryEncoding(Layer):
    """Encodes integer category ids in [0, num_tokens) as one-hot, multi-hot or count
    vectors."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of "
                             "tokens is not known beforehand, use the IntegerLookup layer "
                             "instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = sparse

    def _convert_inputs(self, x):
        return x  # integer ids stay integers

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError("`count_weights` is not used when `output_mode` is not 'count'. "
                             f"Received `count_weights={count_weights}`.")
        return encode_categorical(inputs, self.output_mode, self.num_tokens, self.dtype,
                                  count_weights)

    def get_config(self):
        # Keras 3.15 writes no "sparse" (its from_config still takes it)
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}


# Keras's streaming quantile summary: sorted sample values with weights, merged and
# compressed by interpolating cumulative weights.
def _summarize(values, epsilon):
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    picked = values[int(step - 1)::int(step)]
    return np.stack([picked, np.ones_like(picked) * step])


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    frac = cum / cum[-1]
    bins = np.interp(percents, frac, summary[0])
    cum_new = np.interp(percents, frac, cum)
    weights = cum_new - np.concatenate(([0.0], cum_new[:-1]))
    return np.stack((bins, weights)).astype("float32")


def _merge(a, b, epsilon):
    both = np.concatenate((a, b), axis=1)
    both = np.take(both, np.argsort(both[0]), axis=1)
    return _compress(both, epsilon)


class Discretization(Layer):
    """Buckets values by `bin_boundaries` (a value equal to a boundary goes to the upper
    bucket), or by `num_bins` quantile boundaries learned with `adapt()`."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of "
                             f"('int', 'one_hot', 'multi_hot', 'count'). Received: "
                             f"output_mode={output_mode}")
        if sparse and output_mode == "int":
            raise ValueError("`sparse=True` may only be used if `output_mode` is 'one_hot', "
                             f"'multi_hot', or 'count'. Received: sparse={sparse} and "
                             f"output_mode={output_mode}")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"`num_bins` must be greater than or equal to 0. Received: "
                             f"`num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Both `num_bins` and `bin_boundaries` should not be set. "
                             f"Received: `num_bins={num_bins}` and "
                             f"`bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = sparse
        self.summary = None if self.bin_boundaries else np.array([[], []], dtype="float32")

    @property
    def output_dtype(self):
        return self.compute_dtype if self.output_mode != "int" else "int32"

    def adapt(self, data, steps=None):
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")
        self.reset_state()
        from tenfold.data import Dataset
        if isinstance(data, Dataset):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        elif hasattr(data, "__iter__") and not isinstance(data, np.ndarray) and \
                not hasattr(data, "numpy"):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            self.update_state(data)
        self.finalize_state()

    def update_state(self, data):
        data = np.array(data).astype("float32")
        self.summary = _merge(_summarize(data, self.epsilon), self.summary, self.epsilon)

    def finalize_state(self):
        if self.num_bins is None:
            return
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is None:
            return
        self.summary = np.array([[], []], dtype="float32")

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at "
                             "construction time or call `adapt(dataset)` before you can start "
                             "using the `Discretization` layer.")
        from tenfold.keras import ops
        idx = ops.digitize(inputs, self.bin_boundaries)
        return encode_categorical(idx, self.output_mode, len(self.bin_boundaries) + 1,
                                  self.output_dtype)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            bounds = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = bounds
            return layer
        return cls(**config)
