"""The NCCL engine for GPU arrays, through CuPy's NCCL binding (`cupy.cuda.nccl`).

UNTESTED: this machine has no GPU and tenfold has no CuPy backend yet. It implements the
`Communicator` interface on CuPy arrays so that, once the GPU backend exists, a
`MultiWorkerMirroredStrategy(communication_options=CommunicationOptions(
implementation=CommunicationImplementation.NCCL))` reduces gradients on the device. The NCCL
unique id is exchanged over MPI (one process per GPU, started by mpirun / srun); object
collectives and barriers go through that MPI communicator.
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
                 np.dtype("int64"): nccl.NCCL_INT64, np.dtype("uint8"): nccl.NCCL_UINT8}
        dt = np.dtype(dtype)
        if dt not in table:
            raise TypeError(f"NCCL all-reduce: dtype {dt} is not supported (use float16, "
                            "float32, float64, int32, int64 or uint8).")
        return table[dt]

    def _op(self, op):
        n = self._nccl
        return {SUM: n.NCCL_SUM, MEAN: n.NCCL_SUM, MAX: n.NCCL_MAX, MIN: n.NCCL_MIN}[op]

    def allreduce_start(self, array, op=SUM):
        cp = self._cp
        send = cp.ascontiguousarray(cp.asarray(array))
        recv = cp.empty_like(send)
        self._comm.allReduce(send.data.ptr, recv.data.ptr, send.size, self._dtype(send.dtype),
                             self._op(op), self._stream.ptr)
        size = self.size
        stream = self._stream

        class _H:
            def wait(self, timeout=None):
                stream.synchronize()
                return recv / size if op == MEAN else recv

            def done(self):
                return stream.done
        return _H()

    def allreduce(self, arrays, op=SUM):
        handles = [self.allreduce_start(a, op) for a in arrays]
        return [h.wait() for h in handles]

    def broadcast(self, arrays, root=0):
        for a in arrays:
            self._comm.bcast(a.data.ptr, a.size, self._dtype(a.dtype), root, self._stream.ptr)
        self._stream.synchronize()
        return arrays

    def allgather(self, array):  # variable first axes: through the host, over MPI
        host = self._cp.asnumpy(array)
        return [self._cp.asarray(a) for a in self._mpi.allgather(host)]

    def allgather_object(self, obj):
        return self._mpi.allgather_object(obj)

    def broadcast_object(self, obj, root=0):
        return self._mpi.broadcast_object(obj, root)

    def barrier(self):
        self._stream.synchronize()
        self._mpi.barrier()
