"""A one-GPU smoke test of tenfold's NCCL engine on the real `cupy.cuda.nccl` (run by
bench/gpu_check.sh on a GPU machine; CI checks the same code against a stand-in, see
tests/distribute/test_nccl_calls.py).

One process, one GPU, one NCCL rank: NCCL still runs its all-reduce / broadcast kernels, so
this checks the binding's signatures, the dtype and op constants, the pointers and the stream
handling, and tenfold's gradient buckets on CuPy arrays. Several ranks need several GPUs
(`mpirun -n 2 python tools/nccl_smoke.py` on a 2-GPU machine runs the same checks over MPI).
Prints one line per check and exits 1 if any failed.
"""
import sys
import time
import traceback

import numpy as np

RESULTS = []


def check(name):
    def deco(fn):
        t0 = time.perf_counter()
        try:
            fn()
            RESULTS.append((name, True, ""))
            print(f"PASS {name} ({time.perf_counter() - t0:.2f} s)", flush=True)
        except Exception as e:  # every check reports; the exit code says if any failed
            RESULTS.append((name, False, repr(e)))
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()
        return fn
    return deco


class OneRankMPI:
    """The MPI side for one process when mpi4py is absent (rank 0 of 1)."""
    rank, size, timeout = 0, 1, 60.0

    def broadcast_object(self, obj, root=0):
        return obj

    def allgather_object(self, obj):
        return [obj]

    def allgather(self, array):
        return [np.asarray(array)]

    def barrier(self):
        pass


def mpi_comm():
    try:
        from tenfold.distribute import comm_mpi
        if comm_mpi.launched_by_mpi():
            return comm_mpi.MPICommunicator(timeout=60.0)
    except ImportError:
        pass
    return OneRankMPI()


def main():
    try:
        import cupy
        from cupy.cuda import nccl
    except Exception as e:
        print(f"SKIP: CuPy with NCCL is not importable ({e!r})")
        return 0
    ndev = cupy.cuda.runtime.getDeviceCount()
    print(f"CuPy {cupy.__version__}, {ndev} GPU(s), NCCL version "
          f"{nccl.get_version() if hasattr(nccl, 'get_version') else '?'}", flush=True)
    if ndev == 0:
        print("SKIP: no GPU")
        return 0
    from tenfold.distribute.comm_nccl import NCCLCommunicator
    mpi = mpi_comm()
    size = mpi.size
    comm = {}

    @check("raw cupy.cuda.nccl all-reduce, one rank")
    def _():
        uid = nccl.get_unique_id()
        c = nccl.NcclCommunicator(1, uid, 0)
        x = cupy.arange(10, dtype=cupy.float32)
        y = cupy.empty_like(x)
        s = cupy.cuda.Stream(non_blocking=True)
        c.allReduce(x.data.ptr, y.data.ptr, x.size, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, s.ptr)
        s.synchronize()
        assert cupy.asnumpy(y).tolist() == list(range(10)), cupy.asnumpy(y)

    @check("NCCLCommunicator set-up (unique id over MPI)")
    def _():
        comm["c"] = NCCLCommunicator(mpi)

    c = comm.get("c")
    if c is not None:
        @check("all-reduce SUM / MEAN of device arrays, float32/float64/float16/int32/int64")
        def _():
            for dt in ("float32", "float64", "float16", "int32", "int64"):
                x = cupy.arange(12, dtype=dt).reshape(3, 4) + c.rank
                want = sum(np.arange(12).reshape(3, 4) + r for r in range(size))
                out = c.allreduce([x], "sum")[0]
                assert isinstance(out, cupy.ndarray) and out.dtype == x.dtype, (dt, type(out))
                np.testing.assert_allclose(cupy.asnumpy(out), want)
                if dt.startswith("float"):
                    m = c.allreduce([x], "mean")[0]
                    np.testing.assert_allclose(cupy.asnumpy(m), want / size, rtol=1e-3)

        @check("all-reduce of host arrays comes back on the host")
        def _():
            out = c.allreduce([np.ones(5, np.float32)], "sum")[0]
            assert isinstance(out, np.ndarray) and out.tolist() == [float(size)] * 5

        @check("MIN / MAX, broadcast from rank 0")
        def _():
            lo = c.allreduce([np.array([c.rank + 1], np.int64)], "min")[0]
            assert lo.tolist() == [1]
            a = cupy.full(4, float(c.rank + 7), cupy.float32)
            c.broadcast([a], root=0)
            assert cupy.asnumpy(a).tolist() == [7.0] * 4

        @check("large all-reduce (64 MiB float32) and its time")
        def _():
            x = cupy.ones(16 << 20, cupy.float32)
            c.allreduce([x], "sum")
            t0 = time.perf_counter()
            out = c.allreduce([x], "sum")[0]
            dt = time.perf_counter() - t0
            assert float(out[-1]) == float(size)
            print(f"    64 MiB all-reduce over {size} rank(s): {dt * 1e3:.2f} ms")

        @check("strategy gradient buckets on CuPy tensors through NCCL")
        def _():
            import tenfold as tf
            from tenfold.distribute.strategy import Strategy
            opts = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=4096)
            s = Strategy([f"/job:worker/replica:0/task:{c.rank}/device:GPU:0"], c, opts)
            with tf.device("/GPU:0"):
                variables = [tf.Variable(tf.zeros(sh), name=f"v{i}")
                             for i, sh in enumerate([(64, 32), (32,), (32, 10), (10,)])]
                grads = [tf.ones(v.shape) * (c.rank + 1) for v in variables]
            out = s._aggregate_gradients(grads, variables)
            total = sum(r + 1 for r in range(size))
            for g in out:
                assert "GPU" in g.device, g.device
                np.testing.assert_allclose(g.numpy(), total)
            print(f"    buckets: {s._reducer.last_bucket_count}")
    failed = [r for r in RESULTS if not r[1]]
    print(f"nccl_smoke: {len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
