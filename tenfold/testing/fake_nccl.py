"""An instrumented stand-in for `cupy` and `cupy.cuda.nccl`, so that CI exercises the NCCL
engine (`tenfold/distribute/comm_nccl.py`) without a GPU.

`install(monkeypatch)` puts the fake modules in `sys.modules`. "Device" arrays are NumPy arrays
of a subclass whose `.data.ptr` is their address (as CuPy's); a `FakeNccl` world joins the
ranks of one unique id - ranks are threads of the test, each with its own communicator - and
runs each collective for real on the arrays behind the pointers, once every rank has posted
its call (a barrier, as NCCL's kernels wait for their peers). Every call is recorded with its
arguments (`calls`), so tests check what the engine asked NCCL for: the unique id from rank 0
broadcast over MPI, `NcclCommunicator(size, uid, rank)`, `allReduce(send, recv, count, dtype,
op, stream)` with the dtype and op constants, and the stream synchronised before a result is
read.

What it cannot show: real device memory and kernels, CuPy's refusal of implicit host
conversion (these arrays are NumPy arrays), NCCL's transport and timing. The one-GPU smoke
test in `tools/nccl_smoke.py` (run by bench/gpu_check.sh) covers the real binding.
"""
import itertools
import sys
import threading
import types

import numpy as np

NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_INT64 = 0, 1, 2, 4
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3
_DTYPES = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32,
           NCCL_INT64: np.int64, NCCL_FLOAT16: np.float16, NCCL_FLOAT32: np.float32,
           NCCL_FLOAT64: np.float64}


class _Memory:
    def __init__(self, ptr):
        self.ptr = ptr


class DeviceArray(np.ndarray):
    """A "device" array: NumPy underneath, `.data.ptr` its address (registered)."""

    @property
    def data(self):
        ptr = self.__array_interface__["data"][0]
        _ARRAYS[ptr] = self
        return _Memory(ptr)


_ARRAYS = {}  # ptr -> the DeviceArray last asked for it (kept alive by the caller)


def _device(a):
    return np.ascontiguousarray(a).view(DeviceArray)


class FakeStream:
    _ids = itertools.count(1000)

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.ptr = next(self._ids)
        self.non_blocking = non_blocking
        self.synchronized = 0
        self.pending = 0  # collectives launched on it and not yet synchronised

    def synchronize(self):
        self.synchronized += 1
        self.pending = 0
        WORLD.record("stream.synchronize", stream=self.ptr)

    @property
    def done(self):
        return self.pending == 0


class FakeWorld:
    """Everything the fake records, and the NCCL groups by unique id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []
        self.groups = {}
        self.streams = {}
        self.devices_used = []
        self.device_count = 1

    def record(self, name, **kw):
        with self.lock:
            self.calls.append((threading.get_ident(), name, kw))

    def named(self, name):
        return [kw for _, n, kw in self.calls if n == name]


WORLD = FakeWorld()


class _Group:
    def __init__(self, size):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=30)
        self.posts = {}


class NcclCommunicator:
    """`cupy.cuda.nccl.NcclCommunicator(ndev, commId, rank)`."""

    def __init__(self, ndev, commId, rank):
        if not (0 <= rank < ndev):
            raise ValueError(f"NcclCommunicator: rank {rank} out of range for {ndev} ranks")
        WORLD.record("NcclCommunicator", ndev=ndev, uid=commId, rank=rank)
        with WORLD.lock:
            self._group = WORLD.groups.setdefault(tuple(commId), _Group(ndev))
        if self._group.size != ndev:
            raise ValueError("NcclCommunicator: ranks disagree on the communicator size")
        self._rank = rank

    def _collective(self, name, send_ptr, recv_ptr, count, datatype, combine, stream, **kw):
        WORLD.record(name, send=send_ptr, recv=recv_ptr, count=count, datatype=datatype,
                     stream=stream, rank=self._rank, **kw)
        g = self._group
        send = _ARRAYS[send_ptr].reshape(-1)
        if np.dtype(_DTYPES[datatype]) != send.dtype:
            raise TypeError(f"fake NCCL {name}: datatype {datatype} does not match the "
                            f"buffer's {send.dtype}")
        if count > send.size:
            raise ValueError(f"fake NCCL {name}: count {count} > buffer size {send.size}")
        g.posts[self._rank] = send[:count].copy()
        g.barrier.wait()
        result = combine([g.posts[r] for r in range(g.size)])
        g.barrier.wait()
        _ARRAYS[recv_ptr].reshape(-1)[:count] = result
        s = _stream_of(stream)
        if s is not None:
            s.pending += 1

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        fn = {NCCL_SUM: np.sum, NCCL_PROD: np.prod, NCCL_MAX: np.max, NCCL_MIN: np.min}[op]
        self._collective("allReduce", sendbuf, recvbuf, count, datatype,
                         lambda posts: fn(np.stack(posts), axis=0), stream, op=op)

    def bcast(self, buff, count, datatype, root, stream):
        self._collective("bcast", buff, buff, count, datatype, lambda posts: posts[root],
                         stream, root=root)

    def destroy(self):
        WORLD.record("destroy", rank=self._rank)


def _stream_of(ptr):
    return WORLD.streams.get(ptr)


_uid = itertools.count(1)


def get_unique_id():
    uid = tuple([next(_uid)] + [0] * 15)
    WORLD.record("get_unique_id", uid=uid)
    return uid


class _Device:
    def __init__(self, index=0):
        self.id = index

    def use(self):
        WORLD.record("Device.use", device=self.id)


def _make_stream(*args, **kwargs):
    s = FakeStream(*args, **kwargs)
    WORLD.streams[s.ptr] = s
    return s


def install(monkeypatch, device_count=1):
    """Installs fresh fake `cupy`, `cupy.cuda`, `cupy.cuda.nccl` modules; returns the world."""
    global WORLD
    WORLD = FakeWorld()
    WORLD.device_count = device_count
    nccl = types.ModuleType("cupy.cuda.nccl")
    for name, value in list(globals().items()):
        if name.startswith("NCCL_"):
            setattr(nccl, name, value)
    nccl.NcclCommunicator = NcclCommunicator
    nccl.get_unique_id = get_unique_id
    cuda = types.ModuleType("cupy.cuda")
    cuda.nccl = nccl
    cuda.Device = _Device
    cuda.Stream = _make_stream
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: WORLD.device_count)
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda
    cupy.ndarray = DeviceArray
    cupy.asarray = lambda a, dtype=None: _device(np.asarray(a, dtype=dtype))
    cupy.ascontiguousarray = lambda a: _device(a)
    cupy.empty_like = lambda a: _device(np.empty_like(np.asarray(a)))
    cupy.asnumpy = lambda a: np.array(np.asarray(a).view(np.ndarray))
    cupy.concatenate = lambda arrays: _device(np.concatenate([np.asarray(a) for a in arrays]))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cuda)
    monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", nccl)
    return WORLD
