"""`tf.distribute.ReduceOp`, `InputOptions` and `experimental.CommunicationOptions`."""
import enum
import os


class ReduceOp(enum.Enum):
    """How values from the replicas are combined: `SUM` or `MEAN`."""
    SUM = "SUM"
    MEAN = "MEAN"

    @staticmethod
    def from_variable_aggregation(aggregation):
        from tenfold.framework.variable import VariableAggregation
        if aggregation in (VariableAggregation.SUM, "sum"):
            return ReduceOp.SUM
        if aggregation in (VariableAggregation.MEAN, "mean"):
            return ReduceOp.MEAN
        raise ValueError(f"Could not convert from `tf.VariableAggregation` {aggregation!r} to "
                         "`tf.distribute.ReduceOp` type (SUM or MEAN).")


def reduce_op_of(op):
    """ReduceOp from a ReduceOp, or its name ("SUM", "MEAN", any case)."""
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in ("SUM", "MEAN"):
        return ReduceOp[op.upper()]
    raise ValueError(f"reduce_op must be tf.distribute.ReduceOp.SUM or .MEAN (or 'SUM' / "
                     f"'MEAN'); received {op!r}.")


class CommunicationImplementation(enum.Enum):
    """Which engine runs the collectives: AUTO (MPI on CPU arrays), RING (MPI), NCCL (GPU)."""
    AUTO = "AUTO"
    RING = "RING"
    NCCL = "NCCL"


# Gradients are all-reduced in packs of about this many bytes. 2 MiB: on Open MPI's shared
# memory transport larger messages switch protocol and were ~40x slower per byte on the
# shared test machine (bench/bench_distribute.py's table).
DEFAULT_BUCKET_BYTES = 2 << 20
DEFAULT_TIMEOUT_S = 300.0


class CommunicationOptions:
    """`tf.distribute.experimental.CommunicationOptions`.

    bytes_per_pack: the gradient bucket size in bytes (0: TENFOLD_ALLREDUCE_BUCKET_BYTES or
        2 MiB). Gradients are packed into buckets of about this size, last layers first, and
        each bucket's all-reduce starts while the next one is packed.
    timeout_seconds: how long a worker waits for the others at a collective before raising
        an error naming the lost rank (None: TENFOLD_DISTRIBUTE_TIMEOUT or 300 s).
    implementation: a `CommunicationImplementation`.
    """

    def __init__(self, bytes_per_pack=0, timeout_seconds=None,
                 implementation=CommunicationImplementation.AUTO):
        if not isinstance(bytes_per_pack, int) or bytes_per_pack < 0:
            raise ValueError(f"CommunicationOptions: bytes_per_pack must be a non-negative "
                             f"integer (0 for the default); received {bytes_per_pack!r}.")
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise ValueError(f"CommunicationOptions: timeout_seconds must be positive or None; "
                             f"received {timeout_seconds!r}.")
        if isinstance(implementation, str):
            implementation = CommunicationImplementation[implementation.upper()]
        self.bytes_per_pack = bytes_per_pack
        self.timeout_seconds = timeout_seconds
        self.implementation = implementation

    def bucket_bytes(self):
        if self.bytes_per_pack:
            return self.bytes_per_pack
        return int(os.environ.get("TENFOLD_ALLREDUCE_BUCKET_BYTES", DEFAULT_BUCKET_BYTES))

    def timeout(self):
        if self.timeout_seconds is not None:
            return float(self.timeout_seconds)
        return float(os.environ.get("TENFOLD_DISTRIBUTE_TIMEOUT", DEFAULT_TIMEOUT_S))


class InputReplicationMode(enum.Enum):
    PER_WORKER = "PER_WORKER"
    PER_REPLICA = "PER_REPLICA"


class InputOptions:
    """`tf.distribute.InputOptions` (the placement fields are accepted and ignored on CPU)."""

    def __init__(self, experimental_fetch_to_device=None,
                 experimental_replication_mode=InputReplicationMode.PER_WORKER,
                 experimental_place_dataset_on_device=False,
                 experimental_per_replica_buffer_size=1):
        self.experimental_fetch_to_device = experimental_fetch_to_device
        self.experimental_replication_mode = experimental_replication_mode
        self.experimental_place_dataset_on_device = experimental_place_dataset_on_device
        self.experimental_per_replica_buffer_size = experimental_per_replica_buffer_size
