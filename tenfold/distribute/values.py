"""Values that have one component per local replica (`tf.distribute.DistributedValues`)."""
from tenfold.util import nest


class DistributedValues:
    """One value per replica on this worker; `.values` is the tuple of them."""

    def __init__(self, values):
        self._values = tuple(values)

    @property
    def values(self):
        return self._values

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        inner = ",\n".join(f"  {i}: {v!r}" for i, v in enumerate(self._values))
        return f"{type(self).__name__}:{{\n{inner}\n}}"


class PerReplica(DistributedValues):
    """Different values on different replicas (what `strategy.run` returns)."""


class Mirrored(DistributedValues):
    """The same value on every replica."""


def local_results(value):
    """`strategy.experimental_local_results`: the tuple of per-replica components."""
    if isinstance(value, DistributedValues):
        return value.values
    if nest.is_nested(value):
        flat = nest.flatten(value)
        if any(isinstance(v, DistributedValues) for v in flat):
            n = max(len(v) for v in flat if isinstance(v, DistributedValues))
            return tuple(nest.pack_sequence_as(value, [select_replica(i, v) for v in flat])
                         for i in range(n))
    return (value,)


def select_replica(i, value):
    """Component `i` of a (possibly nested) distributed value; plain values pass through."""
    def pick(v):
        return v.values[i] if isinstance(v, DistributedValues) else v
    return nest.map_structure(pick, value) if nest.is_nested(value) else pick(value)


def regroup(per_replica_results):
    """Per-replica results (a list, one nested structure each) -> one structure of PerReplica
    leaves (a plain structure when there is one replica)."""
    if len(per_replica_results) == 1:
        return per_replica_results[0]
    first = per_replica_results[0]
    if first is None:
        return None
    flats = [nest.flatten(r) for r in per_replica_results]
    leaves = [PerReplica(parts) for parts in zip(*flats)]
    return nest.pack_sequence_as(first, leaves) if nest.is_nested(first) else leaves[0]
