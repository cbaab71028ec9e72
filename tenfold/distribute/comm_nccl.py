"""The NCCL engine for GPU arrays, through CuPy's NCCL binding (`cupy.cuda.nccl`).

NEVER RUN ON A REAL GPU YET: no GPU was available to the development machines. CI runs it
against an instrumented stand-in of `cupy.cuda.nccl` (tests/distribute/test_nccl_calls.py:
the communicator set-up from the MPI-broadcast unique id, the all-reduce's dtype / count / op /
stream, the stream synchronisation before results are read), and `bench/gpu_check.sh` runs a
one-GPU NCCL smoke test (tools/nccl_smoke.py) when a GPU machine is lent.

It implements the `Communicator` interface so that
`MultiWorkerMirroredStrategy(communication_options=CommunicationOptions(
implementation=CommunicationImplementation.NCCL))` reduces gradients on the device: CuPy
arrays stay on the device; host (NumPy) arrays are copied to the device and the results come
back to the host. The NCCL unique id is exchanged over MPI (one process per GPU, started by
mpirun / srun); object collectives and barriers go through that MPI communicator.
"""
import numpy as np

from tenfold.distribute import comm_base
from tenfold.distribute.comm_base import SUM, MEAN, MAX, MIN


def nccl_available():
    try:
        from cupy.cuda import nccl  # noqa: F401 - present only in CuPy builds with NCCL
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


class NCCLCommunicator(comm_base.Communicator):
    """All-reduce / broadcast / all-gather of CuPy arrays with NCCL (see the module doc)."""
    name = "nccl"

    def __init__(self, mpi_comm, device=None):
        try:
            import cupy
            from cupy.cuda import nccl
        except ImportError as e:
            raise ImportError("CommunicationImplementation.NCCL needs CuPy with NCCL: "
                              f"`pip install tenfold[gpu]` ({e})") from None
        self._cp, self._nccl = cupy, nccl
        self._mpi = mpi_comm  # the MPICommunicator: rank, size, ids and objects
        self.rank, self.size = mpi_comm.rank, mpi_comm.size
        self.timeout = mpi_comm.timeout
        ndev = cupy.cuda.runtime.getDeviceCount()
        self._device = cupy.cuda.Device(device if device is not None else self.rank % ndev)
        self._device.use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi_comm.broadcast_object(uid, root=0)
        self._comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._stream = cupy.cuda.Stream(non_blocking=True)

    def _dtype(self, dtype):
        nccl = self._nccl
        table = {np.dtype("float32"): nccl.NCCL_FLOAT32, np.dtype("float64"): nccl.NCCL_FLOAT64,
                 np.dtype("float16"): nccl.NCCL_FLOAT16, np.dtype("int32"): nccl.NCCL_INT32,
                 np.dtype("int64"): nccl.NCCL_INT64, np.dtype("uint8"): nccl.NCCL_UINT8,
                 np.dtype("int8"): nccl.NCCL_INT8}
        dt = np.dtype(dtype)
        if dt not in table:
            raise TypeError(f"NCCL collective: dtype {dt} is not supported (use float16, "
                            "float32, float64, int8, uint8, int32 or int64), e.g. cast it "
                            "first.")
        return table[dt]

    def _op(self, op):
        n = self._nccl
        return {SUM: n.NCCL_SUM, MEAN: n.NCCL_SUM, MAX: n.NCCL_MAX, MIN: n.NCCL_MIN}[op]

    def _on_device(self, array):
        """(contiguous device array, whether the caller gave a host array)."""
        cp = self._cp
        host = isinstance(array, np.ndarray)
        return cp.ascontiguousarray(cp.asarray(array)), host

    def allreduce_start(self, array, op=SUM):
        cp = self._cp
        send, host = self._on_device(array)
        recv = cp.empty_like(send)
        self._comm.allReduce(send.data.ptr, recv.data.ptr, send.size, self._dtype(send.dtype),
                             self._op(op), self._stream.ptr)
        size = self.size
        stream = self._stream

        class _H:
            def wait(self, timeout=None):
                stream.synchronize()  # the result is read only after the stream's work
                out = recv / size if op == MEAN else recv
                if op == MEAN and out.dtype != send.dtype:
                    out = out.astype(send.dtype)
                return cp.asnumpy(out) if host else out

            def done(self):
                return stream.done
        return _H()

    def allreduce(self, arrays, op=SUM):
        handles = [self.allreduce_start(a, op) for a in arrays]
        return [h.wait() for h in handles]

    def broadcast(self, arrays, root=0):
        """Overwrites each array (host or device) with the root's values, in place."""
        moved = [self._on_device(a) for a in arrays]
        for dev, _ in moved:
            self._comm.bcast(dev.data.ptr, dev.size, self._dtype(dev.dtype), root,
                             self._stream.ptr)
        self._stream.synchronize()
        for a, (dev, host) in zip(arrays, moved):
            if host:
                a[...] = self._cp.asnumpy(dev).reshape(a.shape)
            elif dev is not a:
                a[...] = dev.reshape(a.shape)
        return arrays

    def allgather(self, array):  # variable first axes: through the host, over MPI
        if isinstance(array, np.ndarray):
            return self._mpi.allgather(array)
        host = self._cp.asnumpy(array)
        return [self._cp.asarray(a) for a in self._mpi.allgather(host)]

    def allgather_object(self, obj):
        return self._mpi.allgather_object(obj)

    def broadcast_object(self, obj, root=0):
        return self._mpi.broadcast_object(obj, root)

    def barrier(self):
        self._stream.synchronize()
        self._mpi.barrier()
