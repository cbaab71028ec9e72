"""Who this worker is: from the MPI launcher (mpirun / mpiexec / srun), checked against
`TF_CONFIG` where TensorFlow users set it, and Slurm's variables.

`TF_CONFIG` (`{"cluster": {"worker": [...], "chief": [...]}, "task": {"type": "worker",
"index": 1}}`) describes the cluster; the MPI launcher starts the processes. When both are
present they must agree (number of workers, this task's index = MPI rank, the chief counted as
rank 0). `TF_CONFIG` naming several workers in a process not started by a launcher is an
error that says how to start it.
"""
import json
import os

from tenfold.distribute import comm_mpi


def tf_config():
    """The parsed `TF_CONFIG`, or None. A malformed one is an error naming the variable."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {raw[:200]!r}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'; got {raw!r}")
    return cfg


def _tf_config_world(cfg):
    """(number of workers, this task's index among them, this task's type) from TF_CONFIG."""
    cluster = cfg.get("cluster") or {}
    chief = list(cluster.get("chief") or [])
    workers = list(cluster.get("worker") or [])
    task = cfg.get("task") or {}
    ttype, index = task.get("type", "worker"), int(task.get("index", 0))
    if ttype not in ("chief", "worker"):
        raise ValueError(f"TF_CONFIG task type {ttype!r}: tenfold's strategies run 'chief' and "
                         "'worker' tasks (parameter servers and evaluators are not supported).")
    rank = index if ttype == "chief" else len(chief) + index
    return len(chief) + len(workers), rank, ttype


class TFConfigClusterResolver:
    """`tf.distribute.cluster_resolver.TFConfigClusterResolver`: reads `TF_CONFIG`."""

    def __init__(self, task_type=None, task_id=None, rpc_layer=None, environment=None):
        cfg = tf_config() or {}
        task = cfg.get("task") or {}
        self.task_type = task_type or task.get("type")
        self.task_id = task_id if task_id is not None else task.get("index")
        self.rpc_layer = rpc_layer or cfg.get("rpc_layer")
        self.environment = environment or cfg.get("environment", "")
        self._cluster = cfg.get("cluster") or {}

    def cluster_spec(self):
        return ClusterSpec(self._cluster)

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
        return {}

    def master(self, task_type=None, task_id=None, rpc_layer=None):
        return ""


class SlurmClusterResolver(TFConfigClusterResolver):
    """`tf.distribute.cluster_resolver.SlurmClusterResolver`: one worker per Slurm task
    (`srun`): the rank is SLURM_PROCID, the count SLURM_NTASKS."""

    def __init__(self, jobs=None, port_base=8888, gpus_per_node=None, gpus_per_task=None,
                 tasks_per_node=None, auto_set_gpu=True, rpc_layer="grpc"):
        self.task_type = "worker"
        self.task_id = int(os.environ.get("SLURM_PROCID", 0))
        self.rpc_layer = rpc_layer
        self.environment = ""
        n = int(os.environ.get("SLURM_NTASKS", 1))
        host = os.environ.get("SLURMD_NODENAME", "localhost")
        self._cluster = {"worker": [f"{host}:{port_base + i}" for i in range(n)]}


class ClusterSpec:
    """`tf.train.ClusterSpec`, enough to read a cluster's jobs and tasks."""

    def __init__(self, cluster):
        self._cluster = {k: list(v) for k, v in dict(cluster or {}).items()}

    def as_dict(self):
        return {k: list(v) for k, v in self._cluster.items()}

    @property
    def jobs(self):
        return list(self._cluster)

    def num_tasks(self, job_name):
        return len(self._cluster.get(job_name, []))

    def task_address(self, job_name, task_index):
        return self._cluster[job_name][task_index]

    def __bool__(self):
        return bool(self._cluster)


def check_tf_config(rank, size):
    """Raises when TF_CONFIG disagrees with the launcher's world (see the module doc)."""
    cfg = tf_config()
    if cfg is None or not cfg.get("cluster"):
        return
    n, want_rank, ttype = _tf_config_world(cfg)
    if size == 1 and n > 1:
        raise RuntimeError(
            f"TF_CONFIG describes {n} workers but this process was not started by an MPI "
            f"launcher. tenfold runs the workers on MPI: start them with `mpirun -n {n} python "
            "your_script.py` (or `srun -n N`); each worker's TF_CONFIG task index must be its "
            "rank (or leave TF_CONFIG unset).")
    if n != size or want_rank != rank:
        raise RuntimeError(
            f"TF_CONFIG says {n} worker(s) and this task is {ttype} index "
            f"{(cfg.get('task') or {}).get('index', 0)} (worker #{want_rank}), but the MPI "
            f"launcher started {size} process(es) and this is rank {rank}. Make them agree: "
            f"`mpirun -n {n}` and the task index of each worker equal to its rank.")


def world_communicator(timeout=None, implementation="auto"):
    """The communicator joining every worker of this job (cached per process)."""
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    if comm_mpi.launched_by_mpi() or implementation in ("ring", "nccl"):
        mpi = comm_mpi.MPICommunicator(timeout=timeout)
        comm = mpi
        if implementation == "nccl":
            from tenfold.distribute.comm_nccl import NCCLCommunicator
            comm = NCCLCommunicator(mpi)
    else:
        from tenfold.distribute.comm_base import LocalCommunicator
        comm = LocalCommunicator()
    _WORLD = comm
    return comm


_WORLD = None
