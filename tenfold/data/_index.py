"""The fast path: pipelines over in-memory arrays run on index arrays, not on elements.

`from_tensor_slices(arrays)` followed by shuffle / repeat / take / skip / shard / cache can
say which rows of its arrays it yields, in order, as a stream of *chunks*: `range` objects
(contiguous or strided rows) or int64 arrays. `batch` then cuts that stream into groups of
`batch_size` rows and gathers each array once per batch (a slice view for contiguous rows,
one fancy-index copy otherwise), so no Python code runs per element.

Shuffling keeps TensorFlow's buffer semantics exactly: a buffer of `buffer_size` elements is
filled first; each step outputs a uniformly chosen buffered element and puts the next input
element in its place; once the input ends the buffer is emptied in random order. In steady
state the buffer is always full, so the slot chosen at each step is independent of the
contents: the draws are made up front and the whole chunk is resolved with one stable sort
(each output is the element last written into its slot). The element-by-element version
below (`shuffle_elements`) draws the same random numbers, so both paths give the same order.
"""
import numpy as np

_DRAW_BLOCK = 256


class IndexPlan:
    """`source`: the element structure of the base arrays (element i = each leaf's row i);
    `stream()`: a fresh iterator of index chunks for one pass."""
    __slots__ = ("source", "stream")

    def __init__(self, source, stream):
        self.source = source
        self.stream = stream


def as_index_array(chunk):
    if isinstance(chunk, range):
        return np.arange(chunk.start, chunk.stop, chunk.step, dtype=np.int64)
    return chunk


def gather(array, chunk):
    """Rows `chunk` of `array`: a view for a range, a copy for an index array."""
    if isinstance(chunk, range):
        if chunk.step == 1:
            return array[chunk.start:chunk.stop]
        stop = chunk.stop if chunk.stop >= 0 else None
        return array[chunk.start:stop:chunk.step]
    return array.take(chunk, axis=0)


def take(stream, count):
    if count == 0:
        return
    for c in stream:
        n = len(c)
        if n >= count:
            yield c[:count]
            return
        count -= n
        yield c


def skip(stream, count):
    for c in stream:
        if count <= 0:
            yield c
            continue
        n = len(c)
        if n <= count:
            count -= n
            continue
        yield c[count:]
        count = 0


def shard(stream, num_shards, index):
    pos = 0
    for c in stream:
        first = (index - pos) % num_shards
        pos += len(c)
        part = c[first::num_shards]
        if len(part):
            yield part


def repeat(make_stream, count):
    """`count` passes (-1: forever); stops early if a pass is empty (as tf.data does)."""
    done = 0
    while count < 0 or done < count:
        empty = True
        for c in make_stream():
            if len(c):
                empty = False
                yield c
        if empty:
            return
        done += 1


def batches(stream, batch_size, drop_remainder):
    """Groups the stream into lists of chunk pieces holding `batch_size` rows in all."""
    pending, need = [], batch_size
    for c in stream:
        pos, n = 0, len(c)
        while pos < n:
            k = min(need, n - pos)
            pending.append(c[pos:pos + k] if (pos or k != n) else c)
            pos += k
            need -= k
            if need == 0:
                yield pending
                pending, need = [], batch_size
    if pending and not drop_remainder:
        yield pending


# ----------------------------------------------------------------------------------------
# Shuffle buffer

def _slots(draws, buffer_size):
    r = (draws * buffer_size).astype(np.int64)
    np.minimum(r, buffer_size - 1, out=r)
    return r


def shuffle_elements(iterator, buffer_size, rng_steady, rng_drain):
    """TensorFlow's shuffle buffer over any element iterator."""
    buf = []
    for e in iterator:
        buf.append(e)
        if len(buf) == buffer_size:
            break
    if len(buf) == buffer_size:
        draws, k = (), 0
        for e in iterator:
            if k == len(draws):
                draws, k = _slots(rng_steady.random(_DRAW_BLOCK), buffer_size).tolist(), 0
            r = draws[k]
            k += 1
            out = buf[r]
            buf[r] = e
            yield out
    for j in rng_drain.permutation(len(buf)).tolist():
        yield buf[j]


def _steady(chunk, slots, rng_steady):
    """Resolves one chunk of steady-state steps at once; updates `slots` in place."""
    m = len(chunk)
    b = len(slots)
    r = _slots(rng_steady.random(m), b)
    if b <= np.iinfo(np.int16).max:
        r = r.astype(np.int16)  # stable sort of 16-bit keys is a radix sort
    order = np.argsort(r, kind="stable")
    rs = r[order]
    co = chunk[order]
    first = np.empty(m, dtype=bool)
    first[0] = True
    np.not_equal(rs[1:], rs[:-1], out=first[1:])
    vals = np.empty(m, dtype=chunk.dtype)
    vals[first] = slots[rs[first]]
    later = ~first
    vals[later] = co[:-1][later[1:]]
    last = np.empty(m, dtype=bool)
    last[-1] = True
    last[:-1] = first[1:]
    slots[rs[last]] = co[last]
    out = np.empty(m, dtype=chunk.dtype)
    out[order] = vals
    return out


def shuffle(stream, buffer_size, rng_steady, rng_drain):
    """`shuffle_elements` for a stream of index chunks, vectorised per chunk."""
    it = iter(stream)
    acc, total = [], 0
    for c in it:
        if len(c):
            acc.append(as_index_array(c))
            total += len(c)
        if total >= buffer_size:
            break
    if total < buffer_size:
        if total:
            allc = np.concatenate(acc) if len(acc) > 1 else acc[0]
            yield allc[rng_drain.permutation(total)]
        return
    allc = np.concatenate(acc) if len(acc) > 1 else acc[0]
    slots = np.array(allc[:buffer_size], dtype=np.int64)
    if total > buffer_size:
        yield _steady(allc[buffer_size:], slots, rng_steady)
    for c in it:
        if len(c):
            yield _steady(as_index_array(c), slots, rng_steady)
    yield slots[rng_drain.permutation(buffer_size)]
