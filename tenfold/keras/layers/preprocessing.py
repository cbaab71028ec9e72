"""Preprocessing layers: Rescaling, Normalization (with `adapt`)."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.layers.layer import Layer
from tenfold.ops import array_ops as a
from tenfold.ops import math_ops as m
from tenfold.util.tensor_meta import npd
from tenfold.framework.host import from_host, to_host


def _plain(v):
    if isinstance(v, Tensor):
        v = to_host(v)[()]
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


class Rescaling(Layer):
    """x * scale + offset (e.g. `Rescaling(1 / 255)` for pixel values)."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _plain(scale)
        self.offset = _plain(offset)

    def call(self, inputs):
        x = inputs
        cdt = self.compute_dtype
        if x.dtype.name != cdt:
            x = m.cast(x, cdt)
        scale = to_host(self.scale).astype(npd(x))  # config numbers (or arrays)
        offset = to_host(self.offset).astype(npd(x))
        if scale.ndim:
            from tenfold.keras import backend
            if backend.image_data_format() == "channels_first":
                scale = scale.reshape(scale.shape + (1,) * (3 - scale.ndim))
        return m.add(m.multiply(x, from_host(scale)), from_host(offset))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config


class Normalization(Layer):
    """(x - mean) / sqrt(variance) per feature along `axis`, with mean and variance given or
    learned from data by `adapt(data)`. Weights (when adapted): mean, variance, count."""

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean = _plain(mean)
        self.input_variance = _plain(variance)
        self.invert = invert
        self._build_input_shape = None
        self.mean = None
        self.variance = None
        if (mean is not None) != (variance is not None):
            raise ValueError("Normalization: pass both `mean` and `variance`, or neither (and "
                             f"call adapt()); got mean={mean}, variance={variance}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(f"Normalization: mean and variance must have the same shape, got "
                             f"{np.shape(mean)} and {np.shape(variance)}")

    def build(self, input_shape):
        if input_shape is None:
            return
        nd = len(input_shape)
        if any(ax < -nd or ax >= nd for ax in self.axis):
            raise ValueError(f"Normalization layer \"{self.name}\": axis={self.axis} is out of "
                             f"range for inputs of shape {tuple(input_shape)}.")
        self._build_input_shape = tuple(input_shape)
        self._keep_axis = tuple(sorted(ax % nd for ax in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"Normalization layer \"{self.name}\": the kept axes {self.axis} "
                                 f"must have known sizes, got input shape "
                                 f"{tuple(input_shape)}.")
        self._reduce_axis = tuple(d for d in range(nd) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1
                                 for d in range(nd)]
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance",
                                                  shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int32",
                                         initializer="zeros", trainable=False)
            self.built = True
            self.finalize_state()
        else:
            mean = np.asarray(self.input_mean, dtype=np.float64)
            var = np.asarray(self.input_variance, dtype=np.float64)
            if mean.ndim:
                exp = [1] * nd
                for i in range(1, mean.ndim + 1):
                    exp[self._keep_axis[-i]] = mean.shape[-i]
                mean, var = mean.reshape(exp), var.reshape(exp)
            mean = np.broadcast_to(mean, self._broadcast_shape)
            var = np.broadcast_to(var, self._broadcast_shape)
            cdt = np.dtype(self.compute_dtype)
            self.mean = from_host(np.array(mean, dtype=cdt))
            self.variance = from_host(np.array(var, dtype=cdt))
            self.built = True

    def finalize_state(self):
        if self.input_mean is not None or not self.built:
            return
        cdt = np.dtype(self.compute_dtype)
        self.mean = from_host(to_host(self.adapt_mean).reshape(self._broadcast_shape)
                                 .astype(cdt))
        self.variance = from_host(to_host(self.adapt_variance)
                                     .reshape(self._broadcast_shape).astype(cdt))

    def set_weights(self, weights):
        super().set_weights(weights)
        self.finalize_state()

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the mean and variance of `data` (an array, a tensor, a Dataset or an
        iterable of batches) along the axes that are not kept."""
        if isinstance(data, Tensor):
            data = to_host(data)
        if isinstance(data, np.ndarray):
            batches, shape = None, data.shape
        else:
            it = iter(data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data)
            first = next(it, None)
            if first is None:
                raise ValueError("Normalization.adapt() received no data (an empty iterable).")
            if isinstance(first, (tuple, list)):
                first = first[0]
            first = np.asarray(to_host(first) if isinstance(first, Tensor) else first)
            shape = first.shape

            def gen():
                yield first
                for b in it:
                    if isinstance(b, (tuple, list)):
                        b = b[0]
                    yield np.asarray(to_host(b) if isinstance(b, Tensor) else b)
            batches = gen()
        if not self.built:
            self.build(shape)
        else:
            for d in self._keep_axis:
                if shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"Normalization layer \"{self.name}\" was built for input "
                                     f"shape {self._build_input_shape} but adapt() got data of "
                                     f"shape {tuple(shape)}.")
        if batches is None:
            x = data.astype(np.float64)
            mean = x.mean(axis=self._reduce_axis)
            var = x.var(axis=self._reduce_axis)
        else:
            mean = np.zeros(self._mean_and_var_shape)
            var = np.zeros(self._mean_and_var_shape)
            total = 0
            for b in batches:
                b = b.astype(np.float64)
                bm, bv = b.mean(axis=self._reduce_axis), b.var(axis=self._reduce_axis)
                n = int(np.prod([b.shape[d] for d in self._reduce_axis])) \
                    if self._reduce_axis else 1
                total += n
                w = n / total
                new_mean = mean * (1 - w) + bm * w
                var = (var + (mean - new_mean) ** 2) * (1 - w) + (bv + (bm - new_mean) ** 2) * w
                mean = new_mean
        self.adapt_mean.assign(np.asarray(mean, dtype=npd(self.adapt_mean)))
        self.adapt_variance.assign(np.asarray(var, dtype=npd(self.adapt_variance)))
        self.finalize_state()

    def call(self, inputs):
        if self.mean is None:
            raise ValueError(f"Normalization layer \"{self.name}\" has no statistics yet: call "
                             "`adapt(data)` or pass `mean=` and `variance=` first.")
        x = inputs
        cdt = self.compute_dtype
        if x.dtype.name != cdt:
            x = m.cast(x, cdt)
        from tenfold.keras import backend
        std = m.maximum(m.sqrt(self.variance), backend.epsilon())
        if self.invert:
            return m.add(self.mean, m.multiply(x, std))
        return m.divide(m.subtract(x, self.mean), std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert, "mean": self.input_mean,
                       "variance": self.input_variance})
        return config

    def get_build_config(self):
        if self._build_input_shape is not None:
            return {"input_shape": self._build_input_shape}
        return None

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            self.build(config["input_shape"])


_ = a
