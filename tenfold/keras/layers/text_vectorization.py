"""`TextVectorization` (Keras 3's): standardize -> split -> n-grams -> vocabulary lookup, with
`adapt()` building the vocabulary (and idf weights) from text. The built-in standardize /
split, the n-grams and the lookup are one graph op (`table_find`, running the layer's NumPy
and `re` code when the op runs), so the layer works eagerly, in `tf.function`, in
`Dataset.map` and in compiled models on string tensors; callable `standardize` / `split`
run as the tenfold ops they are made of, before that op (strings in, integer ids or
bag-of-words vectors out)."""
import re

import numpy as np

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.keras.layers.layer import Layer
from tenfold.ops.string_ops import table_find
from tenfold.keras.layers.index_lookup import StringLookup, _batches, _host, canonical_mode

# Keras's default punctuation (",-." is a range: comma, hyphen, period)
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


class TextVectorization(Layer):
    """Text to integer sequences or bag-of-words vectors.

    >>> tv = TextVectorization(output_sequence_length=4); tv.adapt(["the cat", "the dog"])
    >>> tv(["the bird"])   # [[2, 1, 0, 0]]: 'the', OOV, then padding
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        cls = f"TextVectorization layer \"{self.name}\""
        output_mode = canonical_mode(output_mode)
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"{cls}: standardize must be None, a callable or one of "
                             f"{', '.join(_STANDARDIZE)}; got {standardize!r}.")
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(f"{cls}: split must be None, a callable, 'whitespace' or "
                             f"'character'; got {split!r}.")
        if ngrams is not None and not (isinstance(ngrams, int) and ngrams > 0 or
                                       isinstance(ngrams, (list, tuple)) and
                                       all(isinstance(n, int) and n > 0 for n in ngrams)):
            raise ValueError(f"{cls}: ngrams must be None, a positive int or a tuple of "
                             f"positive ints; got {ngrams!r}.")
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(f"{cls}: output_sequence_length is only used with "
                             f"output_mode='int', got output_mode={output_mode!r}.")
        if sparse or ragged:
            raise NotImplementedError(f"{cls}: sparse and ragged outputs are not supported by "
                                      "tenfold; outputs are dense (padded with 0).")
        if encoding not in ("utf-8", "utf8", None):
            raise NotImplementedError(f"{cls}: encoding {encoding!r} is not supported.")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self._ngram_sizes = None if ngrams is None else (
            tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else tuple(ngrams))
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = pad_to_max_tokens
        self.sparse = False
        self.ragged = False
        self.encoding = "utf-8"
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            mask_token="" if output_mode == "int" else None, output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens, name=f"{self.name}_lookup")

    # ------------------------------------------------------------------ text -> tokens
    def _standardize(self, text):
        """The built-in standardization of one string (a callable one runs on the batch
        tensor, in `_token_rows`)."""
        s = self.standardize
        if s is None or callable(s):
            return text
        if s in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if s in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        return text

    def _split(self, text):
        """The built-in split of one string (a callable one runs on the batch tensor)."""
        s = self.split
        if s is None or callable(s):
            return [text]
        if s == "whitespace":
            return text.split()
        return list(text)  # "character"

    def _ngrams(self, tokens):
        if self._ngram_sizes is None:
            return tokens
        out = []
        for n in self._ngram_sizes:
            out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return out

    def _rows(self, inputs):
        """Rows of tokens (n-grams included) of a batch of strings, computed eagerly (adapt)."""
        x, table, args = self._token_rows(convert_to_tensor(inputs))
        return table(*[a.numpy() for a in args])

    def _token_rows(self, x):
        """(strings, rows function, its tensor arguments): callable standardize / split run
        here as tenfold ops on the batch; the rows function turns their arrays into token
        rows (the built-in steps and the n-grams) when called."""
        x = self._batch_of_strings(x)
        if callable(self.standardize):
            x = self.standardize(x)
        if callable(self.split):
            parts = self.split(x)
            values = getattr(parts, "flat_values", None)
            if values is not None:   # a RaggedTensor: one row of tokens per string
                return x, self._rows_of_ragged_tokens, (values, parts.row_splits)
            return x, self._rows_of_token_matrix, (parts,)
        return x, self._rows_of_text, (x,)

    def _rows_of_text(self, arr):
        return [self._ngrams(self._split(self._standardize(t))) for t in _host(arr).ravel()]

    def _rows_of_ragged_tokens(self, values, row_splits):
        tokens = [str(t) for t in _host(values).ravel()]
        return [self._ngrams(tokens[a:b]) for a, b in zip(row_splits[:-1], row_splits[1:])]

    def _rows_of_token_matrix(self, arr):
        arr = _host(arr)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        return [self._ngrams([str(t) for t in row]) for row in arr]

    # ------------------------------------------------------------------ adapt / vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        rows = []
        for batch in _batches(data, steps):
            rows.extend(self._rows(batch))
        lookup = self._lookup_layer
        lookup.adapt(_RowsOfTokens(rows))
        self.built = True

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------ call
    def _convert_inputs(self, x):
        return x

    def call(self, inputs):
        _, rows, args = self._token_rows(convert_to_tensor(inputs))
        ids = table_find(*args, table=lambda *arrays: self._ids_of_rows(rows(*arrays)))
        if self.output_mode == "int":
            return ids
        return self._lookup_layer._encode(ids)

    def _batch_of_strings(self, x):
        """(batch,) or (batch, 1) strings -> (batch,); a scalar -> (1,) (static shapes)."""
        from tenfold.ops import array_ops
        shape = tuple(x.shape)
        if len(shape) == 2 and shape[1] == 1:
            return array_ops.reshape(x, (-1,))
        if len(shape) == 0:
            return array_ops.reshape(x, (1,))
        if len(shape) != 1:
            raise ValueError(f"TextVectorization layer \"{self.name}\" expects a batch of "
                             f"strings, shape (batch,) or (batch, 1); got shape {shape}.")
        return x

    # the table of the lookup graph op: token rows in (when the op runs), index array out
    def _ids_of_rows(self, rows):
        lookup = self._lookup_layer
        if self.output_mode == "int":
            length = self.output_sequence_length
            if length is None:
                length = max((len(r) for r in rows), default=0)
            ids = np.zeros((len(rows), length), np.int64)
            for k, row in enumerate(rows):
                row = row[:length]
                if row:
                    ids[k, :len(row)] = lookup._lookup(np.array(row, dtype=object))
            return ids
        width = max((len(r) for r in rows), default=0)
        # rows padded with an index no encoding counts (-1 is outside every depth)
        ids = np.full((len(rows), max(width, 1)), -1, np.int64)
        for k, row in enumerate(rows):
            if row:
                ids[k, :len(row)] = lookup._lookup(np.array(row, dtype=object))
        return ids

    # ------------------------------------------------------------------ saving
    def save_assets(self, dir_path):
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path):
        self._lookup_layer.load_assets(dir_path)

    def save_own_variables(self, store):
        pass   # the idf weights are the lookup layer's (saved at its own path, as Keras)

    def load_own_variables(self, store):
        pass

    def get_config(self):
        config = super().get_config()
        lc = self._lookup_layer._lookup_config()
        config.update({
            "max_tokens": self.max_tokens,
            "standardize": self.standardize if not callable(self.standardize) else None,
            "split": self.split if not callable(self.split) else None,
            "ngrams": self.ngrams, "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": False, "ragged": False,
            "vocabulary": lc["vocabulary"], "idf_weights": lc["idf_weights"],
            "encoding": self.encoding, "vocabulary_size": self.vocabulary_size()})
        return config


class _RowsOfTokens:
    """Adapt input for the lookup: already tokenized rows (one document each)."""

    def __init__(self, rows):
        self.rows = rows
        self.element_spec = None

    def __iter__(self):
        yield self

