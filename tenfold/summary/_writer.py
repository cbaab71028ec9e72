"""Summary writers, the default writer/step state, and the summary functions."""
import atexit
import contextlib
import os
import struct
import threading
import time
import warnings
import weakref
import zlib

import numpy as np
from tenfold.framework.host import to_host


def _tb():
    """The tensorboard modules we write with (imported on first use)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError:
        raise ImportError("tf.summary needs the `tensorboard` package to write event files. "
                          "Install it with `pip install tensorboard` (or "
                          "`pip install tenfold[tensorboard]`).") from None
    return event_pb2, summary_pb2, EventFileWriter, tensor_util


class _State(threading.local):
    def __init__(self):
        self.writer = None
        self.step = None
        self.record = []          # stack of bools / callables (record_if)
        self.scope = []


_state = _State()
_open_writers = weakref.WeakSet()


def _to_py_step(step):
    if step is None:
        return None
    if hasattr(step, "numpy"):
        step = to_host(step)  # the step goes to the event file
    try:
        return int(np.asarray(step))
    except (TypeError, ValueError):
        raise ValueError(f"A summary step must be an integer (or an integer tensor/variable); "
                         f"got {step!r}") from None


def get_step():
    """The default step (`tf.summary.experimental.get_step`), or None."""
    return _state.step


def set_step(step):
    """Sets the default step used when summary calls pass no `step` (a Variable is read at
    each call, so incrementing it advances the step)."""
    _state.step = step


class SummaryWriter:
    """Writes summaries to an event file in a log folder (`tf.summary.create_file_writer`)."""

    def __init__(self, logdir, max_queue=None, flush_millis=None, filename_suffix=None):
        event_pb2, _, EventFileWriter, _ = _tb()
        self._logdir = os.fspath(logdir)
        os.makedirs(self._logdir, exist_ok=True)
        self._writer = EventFileWriter(
            self._logdir, max_queue_size=10 if max_queue is None else int(max_queue),
            flush_secs=(120 if flush_millis is None else flush_millis / 1000.0),
            filename_suffix=".v2" if filename_suffix is None else filename_suffix)
        self._closed = False
        self._tags_with_metadata = set()
        self._lock = threading.Lock()
        _open_writers.add(self)

    @property
    def logdir(self):
        return self._logdir

    def set_as_default(self, step=None):
        """Makes this writer the default for summary calls (and `step` the default step)."""
        _state.writer = self
        if step is not None:
            _state.step = step

    @contextlib.contextmanager
    def as_default(self, step=None):
        """`with writer.as_default(step=...):` summary calls inside write here."""
        prev_writer, prev_step = _state.writer, _state.step
        _state.writer = self
        if step is not None:
            _state.step = step
        try:
            yield self
        finally:
            self.flush()
            _state.writer = prev_writer
            if step is not None:
                _state.step = prev_step

    def init(self):
        pass

    def flush(self):
        if not self._closed:
            self._writer.flush()

    def close(self):
        if not self._closed:
            self._closed = True
            self._writer.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ writing
    def _write_summary(self, summary, step):
        event_pb2 = _tb()[0]
        if self._closed:
            raise RuntimeError(f"The summary writer for {self._logdir} is closed.")
        with self._lock:
            for v in summary.value:
                if v.tag in self._tags_with_metadata:
                    v.ClearField("metadata")
                else:
                    self._tags_with_metadata.add(v.tag)
            ev = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
            self._writer.add_event(ev)

    def _write_event(self, event):
        if not self._closed:
            self._writer.add_event(event)


class _NoopWriter(SummaryWriter):
    def __init__(self):
        self._logdir = None
        self._closed = False

    def _write_summary(self, summary, step):
        pass

    def _write_event(self, event):
        pass

    def flush(self):
        pass

    def close(self):
        pass


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None,
                       name=None, experimental_trackable=False, experimental_mesh=None):
    """A SummaryWriter writing an event file into `logdir` (created if needed)."""
    if logdir is None:
        return create_noop_writer()
    return SummaryWriter(logdir, max_queue, flush_millis, filename_suffix)


def create_noop_writer():
    """A writer that writes nothing (`tf.summary.create_noop_writer`)."""
    return _NoopWriter()


def _default_writer():
    return _state.writer


@atexit.register
def _close_all():
    for w in list(_open_writers):
        try:
            w.close()
        except Exception:
            pass


def flush(writer=None, name=None):
    """Flushes `writer` (default: the default writer)."""
    w = writer if writer is not None else _state.writer
    if w is not None:
        w.flush()


@contextlib.contextmanager
def record_if(condition):
    """Summaries inside the block are written only when `condition` (a bool or a callable
    returning one) is true."""
    _state.record.append(condition)
    try:
        yield
    finally:
        _state.record.pop()


def _recording():
    for cond in _state.record:
        value = cond() if callable(cond) else cond
        if hasattr(value, "numpy"):
            value = to_host(value)
        if not bool(value):
            return False
    return True


def should_record_summaries():
    """True when a default writer is set and every enclosing `record_if` allows it."""
    return _state.writer is not None and not isinstance(_state.writer, _NoopWriter) and \
        _recording()


@contextlib.contextmanager
def summary_scope(name, default_name=None, values=None):
    """Prefixes tags inside the block with `name/` (yields (tag, scope))."""
    name = name or default_name
    _state.scope.append(name)
    try:
        tag = "/".join(_state.scope)
        yield tag, tag + "/"
    finally:
        _state.scope.pop()


def _tag(name):
    return "/".join(_state.scope + [name]) if _state.scope else name


def _resolve_step(step):
    if step is None:
        step = _state.step
    if step is None:
        raise ValueError("No step set. Pass `step=` to the summary call, or set a default with "
                         "tf.summary.experimental.set_step(step) or writer.as_default(step=...).")
    return _to_py_step(step)


def _numpy(data):
    return to_host(data)  # summary data goes to the event file


def _emit(make_summary, step):
    if not should_record_summaries():
        return False
    step = _resolve_step(step)
    _state.writer._write_summary(make_summary(), step)
    return True


def scalar(name, data, step=None, description=None):
    """Writes a scalar; returns True if written (False when there is no default writer)."""
    def make():
        from tensorboard.plugins.scalar import metadata
        _, summary_pb2, _, tensor_util = _tb()
        arr = _numpy(data)
        if arr.shape != ():
            raise ValueError(f"tf.summary.scalar('{name}') expects a scalar; got shape "
                             f"{arr.shape}")
        s = summary_pb2.Summary()
        s.value.add(tag=_tag(name), metadata=metadata.create_summary_metadata(
            display_name=None, description=description),
            tensor=tensor_util.make_tensor_proto(arr.astype(np.float32)))
        return s
    return _emit(make, step)


def histogram(name, data, step=None, buckets=None, description=None):
    """Writes a histogram of `data` (30 buckets unless `buckets` says otherwise)."""
    def make():
        from tensorboard.plugins.histogram import metadata
        _, summary_pb2, _, tensor_util = _tb()
        arr = _numpy(data).astype(np.float64).ravel()
        n = 30 if buckets is None else int(buckets)
        table = _histogram_buckets(arr, n)
        s = summary_pb2.Summary()
        s.value.add(tag=_tag(name), metadata=metadata.create_summary_metadata(
            display_name=None, description=description),
            tensor=tensor_util.make_tensor_proto(table, dtype=np.float64))
        return s
    return _emit(make, step)


def _histogram_buckets(data, n):
    """(n, 3) rows [left edge, right edge, count], as TensorBoard's histogram summary makes."""
    if n <= 0:
        return np.zeros((0, 3))
    if data.size == 0:
        return np.zeros((n, 3))
    lo, hi = float(np.min(data)), float(np.max(data))
    if hi == lo:
        counts = np.zeros(n)
        counts[-1] = data.size
        return np.stack([np.full(n, lo), np.full(n, hi), counts], axis=1)
    width = (hi - lo) / n
    idx = np.minimum(np.floor((data - lo) / width).astype(np.int64), n - 1)
    counts = np.bincount(idx, minlength=n).astype(np.float64)
    edges = np.linspace(lo, hi, n + 1)
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def image(name, data, step=None, max_outputs=3, description=None):
    """Writes images: `data` is [k, h, w, c] (c = 1, 3 or 4), floats in [0, 1] or uint8."""
    def make():
        from tensorboard.plugins.image import metadata
        _, summary_pb2, _, tensor_util = _tb()
        arr = _numpy(data)
        if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
            raise ValueError(f"tf.summary.image('{name}') expects a [k, h, w, c] tensor with c "
                             f"in (1, 3, 4); got shape {arr.shape}")
        arr = _to_uint8(arr)[:max_outputs]
        h, w = arr.shape[1], arr.shape[2]
        items = [str(w).encode(), str(h).encode()] + [encode_png(im) for im in arr]
        s = summary_pb2.Summary()
        s.value.add(tag=_tag(name), metadata=metadata.create_summary_metadata(
            display_name=None, description=description),
            tensor=tensor_util.make_tensor_proto(np.array(items, dtype=object)))
        return s
    return _emit(make, step)


def _to_uint8(arr):
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        return np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)


def encode_png(img):
    """PNG bytes of an (h, w, c) uint8 image (c = 1, 3, 4)."""
    h, w, c = img.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload +
                struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def text(name, data, step=None, description=None):
    """Writes a string (or a tensor of strings)."""
    def make():
        from tensorboard.plugins.text import metadata
        _, summary_pb2, _, tensor_util = _tb()
        arr = _numpy(data)
        enc = np.vectorize(lambda x: x if isinstance(x, bytes) else str(x).encode("utf-8"),
                           otypes=[object])(arr) if arr.size else arr.astype(object)
        s = summary_pb2.Summary()
        s.value.add(tag=_tag(name), metadata=metadata.create_summary_metadata(
            display_name=None, description=description),
            tensor=tensor_util.make_tensor_proto(np.asarray(enc, dtype=object)))
        return s
    return _emit(make, step)


def audio(name, data, sample_rate, step=None, max_outputs=3, encoding=None, description=None):
    """Writes audio clips: `data` is [k, t, c] floats in [-1, 1]; encoded as WAV."""
    def make():
        from tensorboard.plugins.audio import metadata
        _, summary_pb2, _, tensor_util = _tb()
        arr = _numpy(data)
        if arr.ndim != 3:
            raise ValueError(f"tf.summary.audio('{name}') expects [k, t, c]; got {arr.shape}")
        rate = int(_numpy(sample_rate))
        clips = [[_wav(clip, rate), b""] for clip in arr[:max_outputs]]
        s = summary_pb2.Summary()
        s.value.add(tag=_tag(name), metadata=metadata.create_summary_metadata(
            display_name=None, description=description, encoding=metadata.Encoding.Value("WAV")),
            tensor=tensor_util.make_tensor_proto(np.array(clips, dtype=object)))
        return s
    return _emit(make, step)


def _wav(clip, rate):
    pcm = (np.clip(clip, -1, 1) * 32767).astype("<i2")
    channels = pcm.shape[1]
    payload = pcm.tobytes()
    return (b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
            + b"data" + struct.pack("<I", len(payload)) + payload)


def write(tag, tensor, step=None, metadata=None, name=None):
    """Writes a raw tensor summary under `tag` (with optional SummaryMetadata)."""
    def make():
        _, summary_pb2, _, tensor_util = _tb()
        arr = _numpy(tensor() if callable(tensor) else tensor)
        if arr.dtype.kind in "US":
            arr = arr.astype(object)
        s = summary_pb2.Summary()
        md = metadata
        if isinstance(md, (bytes, bytearray)):
            md = summary_pb2.SummaryMetadata.FromString(bytes(md))
        v = s.value.add(tag=_tag(tag), tensor=tensor_util.make_tensor_proto(arr))
        if md is not None:
            v.metadata.CopyFrom(md)
        return s
    return _emit(make, step)


def write_raw_pb(tensor, step=None, name=None):
    """Writes serialized `Summary` protos as they are."""
    if not should_record_summaries():
        return False
    step = _resolve_step(step)
    _, summary_pb2, _, _ = _tb()
    for blob in np.atleast_1d(_numpy(tensor)):
        _state.writer._write_summary(summary_pb2.Summary.FromString(bytes(blob)), step)
    return True


def graph(graph_data):
    """Writes a graph (a GraphDef proto, its serialized bytes, or a traced graph such as
    `concrete_function.graph`) for TensorBoard's Graphs tab."""
    if not should_record_summaries():
        return False
    event_pb2 = _tb()[0]
    if hasattr(graph_data, "as_graph_def"):
        graph_data = graph_data.as_graph_def()
    data = graph_data if isinstance(graph_data, (bytes, bytearray)) else \
        graph_data.SerializeToString()
    _state.writer._write_event(event_pb2.Event(wall_time=time.time(), graph_def=bytes(data)))
    return True


def trace_on(graph=True, profiler=False, profiler_outdir=None):
    """Accepted for compatibility; tenfold writes model graphs from the Keras TensorBoard
    callback instead of tracing."""
    warnings.warn("tf.summary.trace_on: graph tracing is not recorded by tenfold; use the Keras "
                  "TensorBoard callback's write_graph=True for model graphs.", stacklevel=2)


def trace_off():
    pass


def trace_export(name, step=None, profiler_outdir=None):
    return False
