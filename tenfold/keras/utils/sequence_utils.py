"""`keras.utils.pad_sequences` and `keras.utils.timeseries_dataset_from_array` (Keras 3's
arguments, defaults and results)."""
import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pads (or truncates) a list of sequences to one length: a NumPy array of shape
    `(len(sequences), maxlen) + sample_shape`.

    >>> keras.utils.pad_sequences([[1, 2, 3], [4]], maxlen=3)
    array([[1, 2, 3], [0, 0, 4]], dtype=int32)
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    lengths, sample_shape, found = [], (), False
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError as e:
            raise ValueError("`sequences` must be a list of iterables. Found non-iterable: "
                             f"{x!s}") from e
        if not found and len(x):
            sample_shape = np.asarray(x).shape[1:]
            found = True
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    is_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")
    out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        if truncating == "pre":
            kept = s[-maxlen:] if maxlen else s[:0]
        elif truncating == "post":
            kept = s[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood')
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} "
                             f"is different from expected shape {tuple(sample_shape)}")
        if not len(kept):
            continue
        if padding == "post":
            out[i, :len(kept)] = kept
        elif padding == "pre":
            out[i, -len(kept):] = kept
        else:
            raise ValueError(f'Padding type "{padding}" not understood')
    return out


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """A `tf.data.Dataset` of sliding windows over `data` (and the matching `targets`):
    window `i` is `data[start + p_i + k * sampling_rate]` for k < sequence_length, with
    `p_i = i * sequence_stride`; its target is `targets[start + p_i]`."""
    from tenfold.data import Dataset
    from tenfold.ops import array_ops
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: "
                             f"end_index={end_index}")
    if sampling_rate <= 0 or sampling_rate >= n:
        raise ValueError(f"`sampling_rate` must be higher than 0 and lower than the length of "
                         f"the data. Received: sampling_rate={sampling_rate}, for data of "
                         f"length {n}")
    if sequence_stride <= 0 or sequence_stride >= n:
        raise ValueError(f"`sequence_stride` must be higher than 0 and lower than the length "
                         f"of the data. Received: sequence_stride={sequence_stride}, for data "
                         f"of length {n}")
    start = start_index or 0
    end = end_index or n
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    positions = np.arange(0, max(num_seqs, 0), sequence_stride, dtype="int64")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(positions)
    window = np.arange(sequence_length, dtype="int64") * sampling_rate
    values = np.asarray(data)[start:end]
    tgt = None if targets is None else np.asarray(targets)[start:end]

    def window_of(p):
        return array_ops.gather(values, p + window)

    if tgt is None:
        ds = Dataset.from_tensor_slices(positions).map(window_of)
    else:
        ds = Dataset.from_tensor_slices(positions).map(
            lambda p: (window_of(p), array_ops.gather(tgt, p)))
    if batch_size is not None:
        if shuffle:
            ds = ds.shuffle(buffer_size=batch_size * 8, seed=seed)
        ds = ds.batch(batch_size)
    elif shuffle:
        ds = ds.shuffle(buffer_size=1024, seed=seed)
    return ds
