"""The communicator interface every collective engine implements (MPI, NCCL, the local one).

A communicator joins the `size` processes of a job; `rank` is this process's place in it.
Strategies and the Keras hooks talk only to this interface, so a new engine (NCCL through CuPy
for GPU arrays, see `comm_nccl.py`) plugs in by implementing these methods on its own arrays:

- `allreduce(arrays, op)`: element-wise SUM / MEAN / MAX / MIN of each array over all
  processes; returns new arrays (same shapes and dtypes) in the same order.
- `allreduce_start(array, op)`: the same on one flat buffer, started now; returns a handle
  whose `wait()` gives the result. Gradient buckets overlap through it.
- `broadcast(arrays, root)`: overwrites `arrays` (in place) with the root's values.
- `allgather(array)`: the list of every process's array (first axes may differ).
- `allgather_object(obj)` / `broadcast_object(obj, root)`: small picklable Python values.
- `barrier()`.
"""
import numpy as np

SUM, MEAN, MAX, MIN = "sum", "mean", "max", "min"


class Communicator:
    """The collective operations a strategy needs (see the module docstring)."""
    name = "base"
    rank = 0
    size = 1

    def allreduce(self, arrays, op=SUM):
        raise NotImplementedError

    def allreduce_start(self, array, op=SUM):
        raise NotImplementedError

    def broadcast(self, arrays, root=0):
        raise NotImplementedError

    def allgather(self, array):
        raise NotImplementedError

    def allgather_object(self, obj):
        raise NotImplementedError

    def broadcast_object(self, obj, root=0):
        raise NotImplementedError

    def barrier(self):
        raise NotImplementedError

    def close(self):
        pass


class _Done:
    """A finished handle (for engines that completed the work at start)."""

    def __init__(self, value):
        self._result = value

    def wait(self, timeout=None):
        return self._result

    def done(self):
        return True


class LocalCommunicator(Communicator):
    """One process: every collective is the identity (the default strategy's engine)."""
    name = "local"

    def allreduce(self, arrays, op=SUM):
        return [np.array(a, copy=True) for a in arrays]

    def allreduce_start(self, array, op=SUM):
        return _Done(np.array(array, copy=True))

    def broadcast(self, arrays, root=0):
        return arrays

    def allgather(self, array):
        return [np.asarray(array)]

    def allgather_object(self, obj):
        return [obj]

    def broadcast_object(self, obj, root=0):
        return obj

    def barrier(self):
        pass
