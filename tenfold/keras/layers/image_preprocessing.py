"""Image preprocessing and augmentation layers (Keras 3's names, arguments and inference
behaviour): Resizing, CenterCrop, RandomCrop, RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomContrast, RandomBrightness.

The random layers transform only when `training` is true (their `call` defaults to
`training=True`, as in Keras, so `layer(images)` augments while `model.predict` does not). Their
random draws come from a NumPy generator seeded by `seed` and run through `numpy_function`, so
they draw afresh on every batch inside `fit`'s compiled step too. Random numbers differ from
TensorFlow's (as any two random generators do); inference outputs are identical.
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.layers.layer import Layer


def _data_format(df):
    from tenfold.keras import backend
    return df or backend.image_data_format()


def _hw_axes(ndim, df):
    return (ndim - 3, ndim - 2) if df == "channels_last" else (ndim - 2, ndim - 1)


def _as_range(factor, name, symmetric=True):
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"`{name}` should be a float or a tuple of two floats. Received: "
                             f"{name}={factor}")
        lo, hi = float(factor[0]), float(factor[1])
    else:
        lo, hi = (-abs(float(factor)), abs(float(factor))) if symmetric else \
            (0.0, float(factor))
    if lo > hi:
        raise ValueError(f"`{name}` lower bound must not exceed the upper bound. Received: "
                         f"{name}={factor}")
    return lo, hi


def _smart_resize(x, height, width, df):
    """Keras's `smart_resize`: the largest centred window with the target aspect ratio,
    resized to (height, width)."""
    from tenfold.keras.ops.image import resize
    nd = len(x.shape)
    ha, wa = _hw_axes(nd, df)
    h, w = int(x.shape[ha]), int(x.shape[wa])
    crop_h = max(min(h, int(float(w * height) / width)), 1)
    crop_w = max(min(w, int(float(h * width) / height)), 1)
    top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
    idx = [slice(None)] * nd
    idx[ha] = slice(top, top + crop_h)
    idx[wa] = slice(left, left + crop_w)
    return resize(x[tuple(idx)], (height, width), data_format=df)


class Resizing(Layer):
    """Resizes images to (height, width) (bilinear by default; half-pixel centres)."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = antialias
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        from tenfold.keras.ops.image import resize
        if self.crop_to_aspect_ratio:
            return _smart_resize(inputs, self.height, self.width, self.data_format)
        return resize(inputs, (self.height, self.width), interpolation=self.interpolation,
                      pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                      fill_value=self.fill_value, data_format=self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias,
                "data_format": self.data_format}


class CenterCrop(Layer):
    """The central (height, width) window; smaller images are resized as Keras's
    `smart_resize` does."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        x = inputs
        nd = len(x.shape)
        ha, wa = _hw_axes(nd, self.data_format)
        h, w = int(x.shape[ha]), int(x.shape[wa])
        dh, dw = h - self.height, w - self.width
        if dh >= 0 and dw >= 0:
            idx = [slice(None)] * nd
            idx[ha] = slice(dh // 2, dh // 2 + self.height)
            idx[wa] = slice(dw // 2, dw // 2 + self.width)
            return x[tuple(idx)]
        return _smart_resize(x, self.height, self.width, self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}


class _RandomLayer(Layer):
    """Base of the augmentation layers: `_augment(array, rng)` runs on NumPy when training."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.data_format = _data_format(data_format)
        self._rng = np.random.RandomState(seed)

    def call(self, inputs, training=True):
        if not training:
            return self._infer(inputs)
        from tenfold.ops.functional_ops import numpy_function
        x = inputs
        dt = x.dtype.name if isinstance(x, Tensor) else self.compute_dtype
        out = numpy_function(lambda arr: self._augment_batch(np.asarray(arr)), [x], dt)
        return out

    def _infer(self, inputs):
        return inputs

    def _augment_batch(self, arr):
        batched = arr.ndim == 4
        imgs = arr if batched else arr[None]
        if self.data_format == "channels_first":
            imgs = np.moveaxis(imgs, 1, -1)
        out = self._augment(imgs.astype(np.float32), self._rng)
        if self.data_format == "channels_first":
            out = np.moveaxis(out, -1, 1)
        out = out if batched else out[0]
        return out.astype(arr.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(_RandomLayer):
    """Flips each image left-right and/or up-down with probability 1/2."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode "
                             f"argument {mode}")
        self.mode = mode

    def _augment(self, imgs, rng):
        out = imgs.copy()
        n = len(imgs)
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = rng.rand(n) < 0.5
            out[flip] = out[flip][:, :, ::-1]
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = rng.rand(n) < 0.5
            out[flip] = out[flip][:, ::-1]
        return out

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _sample(img, ys, xs, interpolation, fill_mode, fill_value):
    """img (H, W, C) sampled at float coordinates (ys, xs) of shape (H', W')."""
    h, w = img.shape[:2]

    def fix(c, n):
        if fill_mode == "reflect":
            if n == 1:
                return np.zeros_like(c)
            period = 2 * n
            c = np.mod(c + 0.5, period) - 0.5
            return np.where(c > n - 0.5, period - 1 - c, c)
        if fill_mode == "wrap":
            return np.mod(c + 0.5, n) - 0.5
        if fill_mode == "nearest":
            return np.clip(c, 0, n - 1)
        return c  # constant: handled by the validity mask

    yy, xx = fix(ys, h), fix(xs, w)
    if interpolation == "nearest":
        yi, xi = np.round(yy).astype(np.int64), np.round(xx).astype(np.int64)
        ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        out = img[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return np.where(ok[..., None], out, fill_value)
    y0, x0 = np.floor(yy), np.floor(xx)
    out = np.zeros(ys.shape + img.shape[2:], np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            yi, xi = (y0 + dy).astype(np.int64), (x0 + dx).astype(np.int64)
            wgt = (1 - np.abs(yy - (y0 + dy))) * (1 - np.abs(xx - (x0 + dx)))
            ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            val = img[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
            val = np.where(ok[..., None], val, fill_value)
            out += wgt[..., None] * val
    return out


class _AffineLayer(_RandomLayer):
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if fill_mode not in ("reflect", "wrap", "constant", "nearest"):
            raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one "
                                      "`{'reflect', 'wrap', 'constant', 'nearest'}`.")
        if interpolation not in ("nearest", "bilinear"):
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of "
                                      "one `{'nearest', 'bilinear'}`.")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def _augment(self, imgs, rng):
        n, h, w = imgs.shape[:3]
        yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                             indexing="ij")
        out = np.empty_like(imgs)
        for i in range(n):
            sy, sx = self._source(yy, xx, h, w, rng)
            out[i] = _sample(imgs[i], sy, sx, self.interpolation, self.fill_mode,
                             self.fill_value)
        return out

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomRotation(_AffineLayer):
    """Rotates by a random angle in `factor * 2pi` (a float f means [-f, f])."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.factor = factor
        self.value_range = value_range
        self._lo, self._hi = _as_range(factor, "factor")

    def _source(self, yy, xx, h, w, rng):
        ang = rng.uniform(self._lo, self._hi) * 2.0 * np.pi
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        c, s = np.cos(ang), np.sin(ang)
        dy, dx = yy - cy, xx - cx
        return cy + s * dx + c * dy, cx + c * dx - s * dy

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomZoom(_AffineLayer):
    """Zooms by a random factor: a positive `height_factor` zooms out, negative zooms in;
    `width_factor=None` keeps the aspect ratio."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _as_range(height_factor, "height_factor")
        self._w = None if width_factor is None else _as_range(width_factor, "width_factor")

    def _source(self, yy, xx, h, w, rng):
        zy = 1.0 + rng.uniform(*self._h)
        zx = zy if self._w is None else 1.0 + rng.uniform(*self._w)
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        return cy + (yy - cy) * zy, cx + (xx - cx) * zx

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineLayer):
    """Shifts by random fractions of the height and width."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _as_range(height_factor, "height_factor")
        self._w = _as_range(width_factor, "width_factor")

    def _source(self, yy, xx, h, w, rng):
        ty = rng.uniform(*self._h) * h
        tx = rng.uniform(*self._w) * w
        return yy - ty, xx - tx

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomContrast(_RandomLayer):
    """Scales each image's deviation from its per-channel mean by a random factor in
    [1 - lower, 1 + upper], clipped to `value_range`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self.value_range = value_range
        lower, upper = (factor, factor) if not isinstance(factor, (tuple, list)) else factor
        self._lo, self._hi = 1.0 - float(lower), 1.0 + float(upper)
        if self._lo < 0:
            raise ValueError(f"`factor` should be between 0 and 1. Received: factor={factor}")

    def _augment(self, imgs, rng):
        f = rng.uniform(self._lo, self._hi, size=(len(imgs), 1, 1, 1)).astype(np.float32)
        mean = imgs.mean(axis=(1, 2), keepdims=True)
        return np.clip((imgs - mean) * f + mean, *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomBrightness(_RandomLayer):
    """Adds a random delta, `factor` times the width of `value_range`, clipped to it."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self.value_range = value_range
        self._lo, self._hi = _as_range(factor, "factor")

    def _augment(self, imgs, rng):
        span = self.value_range[1] - self.value_range[0]
        d = rng.uniform(self._lo, self._hi, size=(len(imgs), 1, 1, 1)).astype(np.float32)
        return np.clip(imgs + d * span, *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomCrop(_RandomLayer):
    """A random (height, width) window in training (one per batch, as Keras); at inference,
    and for images too small, Keras's centred `smart_resize`."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, inputs, training=True):
        nd = len(inputs.shape)
        ha, wa = _hw_axes(nd, self.data_format)
        h, w = int(inputs.shape[ha]), int(inputs.shape[wa])
        if training and h > self.height and w > self.width:
            from tenfold.ops.functional_ops import numpy_function

            def crop(arr):
                top = self._rng.randint(0, h - self.height + 1)
                left = self._rng.randint(0, w - self.width + 1)
                idx = [slice(None)] * arr.ndim
                idx[ha] = slice(top, top + self.height)
                idx[wa] = slice(left, left + self.width)
                return arr[tuple(idx)]
            return numpy_function(crop, [inputs], inputs.dtype.name)
        return _smart_resize(inputs, self.height, self.width, self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
