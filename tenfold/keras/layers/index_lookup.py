"""Vocabulary lookups (Keras 3's StringLookup and IntegerLookup) and Hashing.

Indices are laid out as Keras lays them out: the mask token (if any) at 0, then
`num_oov_indices` out-of-vocabulary indices, then the vocabulary. `adapt()` keeps the most
frequent tokens (ties: the later token in sort order first, as Keras orders them). Out-of-
vocabulary tokens go to the OOV index; with several OOV indices, strings are spread by
TensorFlow's FarmHash Fingerprint64 (`tf.strings.to_hash_bucket_fast`, from the `pyfarmhash`
package) and integers by `floormod`, so indices are the ones Keras on TensorFlow gives.

The lookup itself is one graph op (`tenfold.ops.string_ops.table_find`) whose table is the
layer's host code (NumPy and a dict), read when the op runs: the layers work eagerly, inside
`tf.function`, in `Dataset.map` and in compiled Keras models on string tensors, and a graph
traced before `adapt()` sees the adapted vocabulary, as TensorFlow's table resources do
(outputs carry no gradient). A vocabulary adapted from data is saved in `.keras` files as
Keras saves it (`assets/<layer path>/vocabulary.txt`).
"""
import os

import numpy as np

from tenfold.framework.tensor import convert_to_tensor
from tenfold.keras.layers.layer import Layer
from tenfold.ops.string_ops import table_find
from tenfold.keras.layers.encoding import encode_categorical

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _host(x):
    """Input values as a NumPy array (strings as Python str)."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "OSU":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.ravel()]
        arr = np.array(flat, dtype=object).reshape(arr.shape)
    return arr


def fingerprint64(strings):
    """TensorFlow's Fingerprint64 (FarmHash) of each string, as uint64."""
    try:
        import farmhash
    except ImportError:
        raise ImportError(
            "Hashing strings (Hashing layers, lookups with num_oov_indices > 1) needs the "
            "`pyfarmhash` package, which gives TensorFlow's FarmHash Fingerprint64: "
            "pip install pyfarmhash (or tenfold[text]).") from None
    return np.array([farmhash.fingerprint64(s.encode("utf-8") if isinstance(s, str) else s)
                     for s in strings], dtype=np.uint64)


# Keras still accepts the Keras 2 spellings of two modes and stores the new name.
_DEPRECATED_MODES = {"binary": "multi_hot", "tf-idf": "tf_idf"}


def canonical_mode(output_mode):
    return _DEPRECATED_MODES.get(output_mode, output_mode)


def _check_mode(layer, output_mode):
    if output_mode not in _MODES:
        raise ValueError(f"{type(layer).__name__} layer \"{layer.name}\": unknown output_mode "
                         f"{output_mode!r}; expected one of {', '.join(_MODES)}.")


def _unsupported(layer, what):
    raise NotImplementedError(f"{type(layer).__name__} layer \"{layer.name}\": {what} is not "
                              "supported by tenfold; use dense outputs (the default).")


class _IndexLookup(Layer):
    _kind = "string"

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                 idf_weights, invert, output_mode, pad_to_max_tokens, sparse, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        output_mode = canonical_mode(output_mode)
        _check_mode(self, output_mode)
        if sparse:
            _unsupported(self, "sparse=True")
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{cls} layer \"{self.name}\": if set, max_tokens must be greater "
                             f"than 1, got max_tokens={max_tokens}.")
        if num_oov_indices < 0:
            raise ValueError(f"{cls} layer \"{self.name}\": num_oov_indices must be >= 0, got "
                             f"{num_oov_indices}.")
        if invert and output_mode != "int":
            raise ValueError(f"{cls} layer \"{self.name}\": invert=True needs output_mode='int'"
                             f", got output_mode={output_mode!r}.")
        if output_mode == "tf_idf" and idf_weights is None and vocabulary is not None:
            raise ValueError(f"{cls} layer \"{self.name}\": output_mode='tf_idf' with a fixed "
                             "vocabulary needs idf_weights (one per vocabulary token).")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{cls} layer \"{self.name}\": idf_weights is only used with "
                             f"output_mode='tf_idf', got output_mode={output_mode!r}.")
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = False
        self.input_vocabulary = vocabulary
        self.input_idf_weights = idf_weights
        self._vocab = []            # the tokens after the special ones
        self._idf = None            # idf weight per index (tf_idf)
        self._index = {}
        self._counts = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------ vocabulary
    def _special(self):
        out = [] if self.mask_token is None else [self.mask_token]
        return out + [self.oov_token] * self.num_oov_indices

    def _token(self, v):
        return str(v) if self._kind == "string" else int(v)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        cls = type(self).__name__
        if isinstance(vocabulary, (str, os.PathLike)) and self._kind == "string" or \
                isinstance(vocabulary, os.PathLike):
            path = os.fspath(vocabulary)
            if not os.path.exists(path):
                raise ValueError(f"{cls} layer \"{self.name}\": vocabulary file {path!r} does "
                                 "not exist.")
            with open(path, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f]
        tokens = [self._token(v) for v in _host(vocabulary).ravel()]
        special = self._special()
        # a vocabulary may start with the special tokens (as get_vocabulary() returns it)
        if special and tokens[:len(special)] == special:
            tokens = tokens[len(special):]
        for s in (self.mask_token, self.oov_token):
            if s is not None and s in tokens:
                raise ValueError(f"{cls} layer \"{self.name}\": the vocabulary holds the "
                                 f"reserved token {s!r} (mask or OOV) after the special "
                                 "tokens. Remove it from the vocabulary.")
        if len(set(tokens)) != len(tokens):
            dup = sorted({t for t in tokens if tokens.count(t) > 1}, key=str)[:5]
            raise ValueError(f"{cls} layer \"{self.name}\": the vocabulary has repeated "
                             f"tokens: {dup}.")
        if self.max_tokens is not None and len(tokens) + len(special) > self.max_tokens:
            raise ValueError(f"{cls} layer \"{self.name}\": a vocabulary of {len(tokens)} "
                             f"tokens plus {len(special)} special ones exceeds max_tokens="
                             f"{self.max_tokens}.")
        idf = None
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{cls} layer \"{self.name}\": output_mode='tf_idf' needs "
                                 "idf_weights with the vocabulary.")
            w = np.asarray(_host(idf_weights), dtype=np.float64).ravel()
            if len(w) != len(tokens):
                raise ValueError(f"{cls} layer \"{self.name}\": {len(w)} idf_weights for "
                                 f"{len(tokens)} vocabulary tokens; give one per token.")
            idf = self._idf_table(w)
        self._vocab = tokens
        self._idf = idf
        self._reindex()

    def _idf_table(self, token_idf):
        """Idf per output index: the mask 0, each OOV index the mean of the tokens' (Keras)."""
        oov = float(np.mean(token_idf)) if len(token_idf) else 0.0
        head = ([0.0] if self.mask_token is not None else []) + [oov] * self.num_oov_indices
        return np.concatenate([np.array(head), token_idf]).astype(np.float32)

    def _reindex(self):
        start = len(self._special())
        self._index = {t: start + i for i, t in enumerate(self._vocab)}

    def get_vocabulary(self, include_special_tokens=True):
        return (self._special() if include_special_tokens else []) + list(self._vocab)

    def vocabulary_size(self):
        return len(self._special()) + len(self._vocab)

    # ------------------------------------------------------------------ adapt
    def adapt(self, data, batch_size=None, steps=None):
        """Builds the vocabulary from `data` (array, tensor, list or tf.data.Dataset)."""
        counts, docs, n_docs = {}, {}, 0
        for batch in _batches(data, steps):
            rows = self._tokens_of(batch)
            for row in rows:
                n_docs += 1
                for t in row:
                    counts[t] = counts.get(t, 0) + 1
                for t in set(row):
                    docs[t] = docs.get(t, 0) + 1
        for s in (self.mask_token, self.oov_token):
            counts.pop(s, None)
            docs.pop(s, None)
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens is not None:
            tokens = tokens[:max(0, self.max_tokens - len(self._special()))]
        self._vocab = tokens
        self._reindex()
        if self.output_mode == "tf_idf":
            df = np.array([docs[t] for t in tokens], dtype=np.float64)
            self._idf = self._idf_table(np.log1p(n_docs / (1.0 + df)))
        self.input_vocabulary = None
        self.built = True

    def _tokens_of(self, batch):
        """Rows of tokens (one row per sample) from an adapt batch."""
        rows = getattr(batch, "rows", None)
        if rows is not None:   # already tokenized (TextVectorization)
            return [[self._token(t) for t in row] for row in rows]
        arr = _host(batch)
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        return [[self._token(v) for v in row.ravel()] for row in arr]

    # ------------------------------------------------------------------ call
    def _convert_inputs(self, x):
        return x   # strings and integer ids: no float casting

    def _lookup(self, arr):
        """Token array -> index array (int64)."""
        flat = arr.ravel()
        index = self._index
        start_oov = 0 if self.mask_token is None else 1
        out = np.empty(flat.shape, np.int64)
        oov_pos = []
        for k, v in enumerate(flat):
            t = self._token(v)
            if self.mask_token is not None and t == self.mask_token:
                out[k] = 0
                continue
            i = index.get(t)
            if i is None:
                oov_pos.append(k)
            else:
                out[k] = i
        if oov_pos:
            n = self.num_oov_indices
            if n == 0:
                out[oov_pos] = -1
            elif n == 1:
                out[oov_pos] = start_oov
            elif self._kind == "string":
                h = fingerprint64([self._token(flat[k]) for k in oov_pos])
                out[oov_pos] = (h % np.uint64(n)).astype(np.int64) + start_oov
            else:
                vals = np.array([int(flat[k]) for k in oov_pos], dtype=np.int64)
                out[oov_pos] = np.mod(vals, n) + start_oov
        return out.reshape(arr.shape)

    def _inverse(self, arr):
        table = self.get_vocabulary()
        idx = np.asarray(arr, dtype=np.int64)
        bad = (idx < 0) | (idx >= len(table))
        fill = self.oov_token
        flat = [fill if b else table[i] for i, b in zip(idx.ravel(), bad.ravel())]
        if self._kind == "string":
            return np.array([s.encode("utf-8") for s in flat], dtype=object).reshape(idx.shape)
        return np.array(flat, dtype=np.int64).reshape(idx.shape)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        if self.invert:
            return table_find(x, table=self._inverse_table)
        return self._encode(table_find(x, table=self._lookup_table))

    # the tables of the lookup graph op (run on the input's array when the op runs)
    def _lookup_table(self, arr):
        return self._lookup(_host(arr))

    def _inverse_table(self, arr):
        return self._inverse(arr)

    def _depth(self):
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return self.max_tokens
        return self.vocabulary_size()

    def _encode(self, ids):
        """Indices (a tensor) in the output mode."""
        mode = self.output_mode
        if mode == "int":
            return ids
        depth = self._depth()
        if mode == "tf_idf":
            counts = encode_categorical(ids, "count", depth, "float32")
            idf = np.zeros(depth, np.float32)
            table = self._idf if self._idf is not None else np.zeros(0, np.float32)
            idf[:min(depth, len(table))] = table[:depth]
            from tenfold.ops import math_ops
            return math_ops.multiply(counts, convert_to_tensor(idf))
        return encode_categorical(ids, mode, depth, "int64")

    # ------------------------------------------------------------------ saving
    def save_assets(self, dir_path):
        if self.input_vocabulary is not None:
            return   # the vocabulary is in the config
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(t) for t in self.get_vocabulary()))

    def load_assets(self, dir_path):
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            tokens = f.read().split("\n")
        if self._kind != "string":
            tokens = [int(t) for t in tokens]
        idf = None
        if self.output_mode == "tf_idf" and self._idf is not None:
            idf = self._idf[len(self._special()):]
        special = self._special()
        if special and tokens[:len(special)] == special:
            tokens = tokens[len(special):]
        self._vocab = tokens
        self._reindex()
        if idf is not None:
            self._idf = self._idf_table(np.asarray(idf, np.float64))

    def save_own_variables(self, store):
        # Keras's key (model.weights.h5: <layer>/vars/idf_weights)
        if self.output_mode == "tf_idf" and self._idf is not None:
            store["idf_weights"] = np.asarray(self._idf, np.float32)

    def load_own_variables(self, store):
        if self.output_mode == "tf_idf" and "idf_weights" in store:
            self._idf = np.asarray(store["idf_weights"], np.float32)

    def _lookup_config(self):
        vocab = self.input_vocabulary
        if vocab is not None and not isinstance(vocab, (str, os.PathLike)):
            vocab = [self._token(v) for v in _host(vocab).ravel()]
        idf = self.input_idf_weights
        if idf is not None:
            idf = [float(v) for v in np.asarray(_host(idf), np.float64).ravel()]
        return {"invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": vocab, "idf_weights": idf,
                "vocabulary_size": self.vocabulary_size()}


def _batches(data, steps):
    """The batches of adapt data: a dataset's elements, or the whole array at once."""
    if hasattr(data, "as_numpy_iterator") or (hasattr(data, "__iter__") and
                                              hasattr(data, "element_spec")):
        for k, batch in enumerate(data):
            if steps is not None and k >= steps:
                break
            yield batch
        return
    yield data


class StringLookup(_IndexLookup):
    """Maps strings to integer indices (or back, with invert=True), as keras.layers.StringLookup.

    >>> StringLookup(vocabulary=["a", "b"])(tf.constant([["a", "z"]]))   # [[1, 0]]
    """
    _kind = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None,
                 **kwargs):
        kwargs.pop("vocabulary_size", None)
        kwargs.pop("oov_method", None)
        kwargs.pop("salt", None)
        if encoding not in ("utf-8", "utf8", None):
            raise NotImplementedError(f"StringLookup: encoding {encoding!r} is not supported; "
                                      "tenfold reads strings as utf-8.")
        self.encoding = "utf-8"
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse,
                         name=name, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._lookup_config())
        config.update({"encoding": self.encoding, "oov_method": "floormod", "salt": None})
        return config


class IntegerLookup(_IndexLookup):
    """Maps integer ids to contiguous indices (or back), as keras.layers.IntegerLookup."""
    _kind = "int"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 output_mode="int", sparse=False, vocabulary=None, vocabulary_dtype="int64",
                 idf_weights=None, invert=False, pad_to_max_tokens=False, name=None, **kwargs):
        kwargs.pop("vocabulary_size", None)
        kwargs.pop("oov_method", None)
        kwargs.pop("salt", None)
        if vocabulary_dtype not in ("int64", "int32"):
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int64' or 'int32', "
                             f"got {vocabulary_dtype!r}.")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse,
                         name=name, **kwargs)

    def _inverse(self, arr):
        return super()._inverse(arr).astype(self.vocabulary_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(self._lookup_config())
        config.update({"vocabulary_dtype": self.vocabulary_dtype, "oov_method": "floormod",
                       "salt": None})
        return config


class Hashing(Layer):
    """Hashes strings (or integers, as their decimal strings) into `num_bins` bins with
    TensorFlow's FarmHash Fingerprint64, as keras.layers.Hashing (mask_value -> bin 0)."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if output_mode == "int" and not kwargs.get("dtype"):
            kwargs["dtype"] = "int64"   # as Keras: the layer's dtype is its output's
        super().__init__(**kwargs)
        if not isinstance(num_bins, int) or num_bins <= 0:
            raise ValueError(f"Hashing layer \"{self.name}\": num_bins must be a positive "
                             f"integer, got {num_bins!r}.")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Hashing layer \"{self.name}\": unknown output_mode "
                             f"{output_mode!r}; expected int, one_hot, multi_hot or count.")
        if salt is not None:
            raise NotImplementedError(f"Hashing layer \"{self.name}\": salt (TensorFlow's "
                                      "keyed SipHash) is not supported by tenfold; leave "
                                      "salt=None.")
        if sparse:
            _unsupported(self, "sparse=True")
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.salt = None
        self.output_mode = output_mode
        self.sparse = False

    def _convert_inputs(self, x):
        return x

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        if x.dtype.is_floating:
            raise ValueError(f"Hashing layer \"{self.name}\" hashes strings or integers, got "
                             f"float inputs ({x.dtype.name}). Cast ids to int64 first.")
        ids = table_find(x, table=self._hash_table)
        if self.output_mode == "int":
            return ids
        return encode_categorical(ids, self.output_mode, self.num_bins, "float32")

    def _hash_table(self, arr):
        """The bins of an input array (the lookup graph op's table)."""
        arr = _host(arr)
        flat = [v if isinstance(v, str) else str(int(v)) for v in arr.ravel()]
        mask = self.mask_value
        bins = self.num_bins - (1 if mask is not None else 0)
        h = (fingerprint64(flat) % np.uint64(max(bins, 1))).astype(np.int64)
        if mask is not None:
            is_mask = np.array([v == (mask if isinstance(mask, str) else str(int(mask)))
                                for v in flat], bool)
            h = np.where(is_mask, 0, h + 1)
        return h.reshape(arr.shape)

    def get_config(self):
        config = super().get_config()
        config.update({"num_bins": self.num_bins, "salt": self.salt,
                       "mask_value": self.mask_value, "output_mode": self.output_mode,
                       "sparse": self.sparse})
        return config
