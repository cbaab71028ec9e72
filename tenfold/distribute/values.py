"""Values that have one component per local replica (`tf.distribute.DistributedValues`).

A `DistributedValues` is a tuple of its components (TensorFlow's are composite tensors): so a
`tf.function` takes one as an argument, or returns one, by its components, without retracing
for each new object. The helpers here treat it as one leaf, never as a nested structure.
"""
from tenfold.util import nest


class DistributedValues(tuple):
    """One value per replica on this worker; `.values` is the tuple of them."""

    def __new__(cls, values):
        return super().__new__(cls, tuple(values))

    @property
    def values(self):
        return tuple(self)

    def __repr__(self):
        inner = ",\n".join(f"  {i}: {v!r}" for i, v in enumerate(self))
        return f"{type(self).__name__}:{{\n{inner}\n}}"

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


class PerReplica(DistributedValues):
    """Different values on different replicas (what `strategy.run` returns)."""


class Mirrored(DistributedValues):
    """The same value on every replica."""


def _is_container(x):
    return nest.is_nested(x) and not isinstance(x, DistributedValues)


def map_leaves(fn, structure):
    """`fn` over the leaves of `structure`, DistributedValues being leaves."""
    if not _is_container(structure):
        return fn(structure)
    if isinstance(structure, dict):
        return type(structure)((k, map_leaves(fn, v)) for k, v in structure.items())
    items = [map_leaves(fn, c) for c in structure]
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*items)
    return type(structure)(items)


def leaves(structure):
    out = []
    map_leaves(out.append, structure)
    return out


def local_results(value):
    """`strategy.experimental_local_results`: the tuple of per-replica components."""
    if isinstance(value, DistributedValues):
        return value.values
    flat = leaves(value)
    if any(isinstance(v, DistributedValues) for v in flat):
        n = max(len(v) for v in flat if isinstance(v, DistributedValues))
        return tuple(select_replica(i, value) for i in range(n))
    return (value,)


def select_replica(i, value):
    """Component `i` of a (possibly nested) distributed value; plain values pass through."""
    return map_leaves(lambda v: v[i] if isinstance(v, DistributedValues) else v, value)


def regroup(per_replica_results, always_wrap=False):
    """Per-replica results (a list, one nested structure each) -> one structure of PerReplica
    leaves (a plain structure when there is one replica). A leaf that is the same object on
    every replica stays itself (unless `always_wrap`)."""
    if len(per_replica_results) == 1:
        return per_replica_results[0]
    first = per_replica_results[0]
    flats = [leaves(r) for r in per_replica_results]
    if any(len(f) != len(flats[0]) for f in flats):
        raise ValueError("tf.distribute: the replicas returned different structures: "
                         + "; ".join(f"replica {i}: {type(r).__name__} of {len(f)} values"
                                     for i, (r, f) in enumerate(zip(per_replica_results,
                                                                    flats))))
    grouped = []
    for parts in zip(*flats):
        if all(p is parts[0] for p in parts) and (not always_wrap or parts[0] is None):
            grouped.append(parts[0])
        else:
            grouped.append(PerReplica(parts))
    it = iter(grouped)
    return map_leaves(lambda _: next(it), first)
