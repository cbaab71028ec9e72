"""The NCCL engine (comm_nccl.py) against an instrumented stand-in of `cupy.cuda.nccl`
(tenfold/testing/fake_nccl.py): two ranks, each a thread with its own communicator, joined by a
stand-in MPI communicator. The tests check what the engine asks NCCL for. Real NCCL on a GPU is
not run here (no GPU): bench/gpu_check.sh runs tools/nccl_smoke.py on a GPU machine."""
import threading

import numpy as np
import pytest

import tenfold as tf
from tenfold.testing import fake_nccl


class FakeMPI:
    """The object collectives of MPICommunicator, between threads."""

    def __init__(self, shared, rank, size):
        self.rank, self.size, self.timeout = rank, size, 30.0
        self._shared = shared

    def _exchange(self, obj):
        s = self._shared
        s["slots"][self.rank] = obj
        s["barrier"].wait()
        out = [s["slots"][r] for r in range(self.size)]
        s["barrier"].wait()
        return out

    def broadcast_object(self, obj, root=0):
        return self._exchange(obj)[root]

    def allgather_object(self, obj):
        return self._exchange(obj)

    def allgather(self, array):
        return [np.asarray(a) for a in self._exchange(np.asarray(array))]

    def barrier(self):
        self._exchange(None)


def on_ranks(fn, size=2):
    """Runs fn(rank, FakeMPI) on `size` threads; returns their results (re-raises errors)."""
    shared = {"slots": {}, "barrier": threading.Barrier(size, timeout=30)}
    results, errors = [None] * size, []

    def body(r):
        try:
            results[r] = fn(r, FakeMPI(shared, r, size))
        except BaseException as e:  # reported below
            errors.append(e)
            shared["barrier"].abort()
    threads = [threading.Thread(target=body, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a rank hung"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def world(monkeypatch):
    return fake_nccl.install(monkeypatch, device_count=2)


def _comm(rank, mpi):
    from tenfold.distribute.comm_nccl import NCCLCommunicator
    return NCCLCommunicator(mpi)


def test_communicator_set_up_from_the_unique_id_broadcast_over_mpi(world):
    comms = on_ranks(_comm)
    assert len(world.named("get_unique_id")) == 1  # rank 0 only
    uid = world.named("get_unique_id")[0]["uid"]
    made = sorted(world.named("NcclCommunicator"), key=lambda kw: kw["rank"])
    assert made == [{"ndev": 2, "uid": uid, "rank": 0}, {"ndev": 2, "uid": uid, "rank": 1}]
    assert sorted(kw["device"] for kw in world.named("Device.use")) == [0, 1]  # rank % GPUs
    assert [c.rank for c in comms] == [0, 1] and all(c.size == 2 for c in comms)


@pytest.mark.parametrize("dtype,code", [("float32", "NCCL_FLOAT32"), ("float64", "NCCL_FLOAT64"),
                                        ("float16", "NCCL_FLOAT16"), ("int64", "NCCL_INT64"),
                                        ("int32", "NCCL_INT32")])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_all_reduce_asks_for_the_dtype_count_op_and_stream(world, dtype, code, op):
    def fn(rank, mpi):
        c = _comm(rank, mpi)
        x = np.arange(6, dtype=dtype).reshape(2, 3) + rank * 10
        out = c.allreduce([x], op)[0]
        return c, x, out
    res = on_ranks(fn)
    want = sum(x for _, x, _ in res)
    if op == "mean":
        want = (want / 2).astype(dtype)
    for c, x, out in res:
        assert isinstance(out, np.ndarray) and out.dtype == x.dtype and out.shape == x.shape
        np.testing.assert_allclose(out, want)
    calls = world.named("allReduce")
    assert len(calls) == 2
    for kw in calls:
        c = res[kw["rank"]][0]
        assert kw["count"] == 6
        assert kw["datatype"] == getattr(fake_nccl, code)
        assert kw["op"] == fake_nccl.NCCL_SUM  # MEAN: a sum, divided after
        assert kw["stream"] == c._stream.ptr
        assert kw["send"] != kw["recv"]


def test_results_are_read_only_after_the_stream_is_synchronised(world):
    def fn(rank, mpi):
        c = _comm(rank, mpi)
        h = c.allreduce_start(np.ones(4, np.float32), "sum")
        pending = not h.done()
        out = h.wait()
        return pending, h.done(), out
    for pending, done, out in on_ranks(fn):
        assert pending and done
        np.testing.assert_array_equal(out, [2.0] * 4)
    for tid in {t for t, n, _ in world.calls if n == "allReduce"}:
        names = [n for t, n, _ in world.calls if t == tid]
        assert names.index("stream.synchronize", names.index("allReduce")) > \
            names.index("allReduce")


def test_min_max_broadcast_and_unsupported_dtypes(world):
    def fn(rank, mpi):
        c = _comm(rank, mpi)
        lo = c.allreduce([np.array([rank + 1], np.int64)], "min")[0]
        hi = c.allreduce([np.array([rank + 1.0], np.float32)], "max")[0]
        arr = np.full(3, float(rank), np.float32)
        c.broadcast([arr], root=1)
        with pytest.raises(TypeError, match="NCCL collective: dtype complex64"):
            c.allreduce_start(np.zeros(2, np.complex64), "sum")
        return lo, hi, arr
    for lo, hi, arr in on_ranks(fn):
        assert lo.tolist() == [1] and hi.tolist() == [2.0]
        np.testing.assert_array_equal(arr, [1.0] * 3)
    ops = [kw["op"] for kw in world.named("allReduce")]
    assert sorted(ops) == sorted([fake_nccl.NCCL_MIN] * 2 + [fake_nccl.NCCL_MAX] * 2)
    assert {kw["root"] for kw in world.named("bcast")} == {1}


def test_gradient_buckets_of_a_strategy_go_through_nccl(world):
    """The strategy's gradient reducer on the NCCL communicator: buckets of at most
    bytes_per_pack, each one allReduce of float32 with the bucket's element count."""
    from tenfold.distribute.strategy import Strategy
    opts = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=32)
    shapes = [(3, 4), (4,), (4, 2), (2,)]

    def fn(rank, mpi):
        s = Strategy(["/job:worker/replica:0/task:%d/device:GPU:0" % rank], _comm(rank, mpi),
                     opts)
        variables = [tf.Variable(np.zeros(sh, np.float32), name=f"v{i}")
                     for i, sh in enumerate(shapes)]
        grads = [tf.constant(np.full(sh, rank + 1.0, np.float32)) for sh in shapes]
        return [g.numpy() for g in s._aggregate_gradients(grads, variables)]
    for out in on_ranks(fn):
        for g, sh in zip(out, shapes):
            np.testing.assert_array_equal(g, np.full(sh, 3.0))
    calls = [kw for kw in world.named("allReduce") if kw["rank"] == 0]
    assert all(kw["datatype"] == fake_nccl.NCCL_FLOAT32 for kw in calls)
    assert sum(kw["count"] for kw in calls) == sum(int(np.prod(sh)) for sh in shapes)
    assert len(calls) >= 3 and max(kw["count"] for kw in calls) * 4 <= 48  # small buckets


def test_nccl_selected_through_communication_options(world, monkeypatch):
    """CommunicationImplementation.NCCL makes the world communicator an NCCLCommunicator
    over the MPI one (a stand-in MPI of one rank here)."""
    from tenfold.distribute import cluster, comm_mpi
    monkeypatch.setattr(cluster, "_WORLD", None)
    shared = {"slots": {}, "barrier": threading.Barrier(1)}
    monkeypatch.setattr(comm_mpi, "MPICommunicator",
                        lambda timeout=None: FakeMPI(shared, 0, 1))
    opts = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.NCCL)
    try:
        s = tf.distribute.MultiWorkerMirroredStrategy(communication_options=opts)
        assert type(s.extended.communicator).__name__ == "NCCLCommunicator"
        assert len(world.named("NcclCommunicator")) == 1
    finally:
        cluster._WORLD = None


def test_without_cupy_the_error_says_what_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "cupy", None)
    from tenfold.distribute.comm_nccl import NCCLCommunicator, nccl_available
    assert not nccl_available()
    with pytest.raises(ImportError, match="needs CuPy with NCCL"):
        NCCLCommunicator(FakeMPI({}, 0, 1))
