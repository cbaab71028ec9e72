"""`tf.distribute`: data-parallel training on several replicas, processes and machines.

    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # start: mpirun -n 4 python train.py
    with strategy.scope():
        model = make_model(); model.compile(...)
    model.fit(x, y, batch_size=64 * strategy.num_replicas_in_sync)

The engine is MPI through mpi4py (`pip install tenfold[distributed]`); see docs/distribute.md.
"""
import types as _types

from tenfold.distribute.strategy import (  # noqa: F401
    Strategy, MirroredStrategy, MultiWorkerMirroredStrategy, ReplicaContext, StrategyExtended,
    get_strategy, has_strategy, in_cross_replica_context, get_replica_context,
    experimental_set_strategy)
from tenfold.distribute.options import (  # noqa: F401
    ReduceOp, InputOptions, InputReplicationMode, CommunicationOptions,
    CommunicationImplementation)
from tenfold.distribute.input import (  # noqa: F401
    InputContext, DistributedDataset, DistributedIterator)
from tenfold.distribute.values import DistributedValues  # noqa: F401
from tenfold.distribute import cluster as _cluster



class OneDeviceStrategy(MirroredStrategy):
    """`tf.distribute.OneDeviceStrategy`: everything on one device, one replica."""

    def __init__(self, device):
        super().__init__(devices=[device])


cluster_resolver = _types.SimpleNamespace(
    TFConfigClusterResolver=_cluster.TFConfigClusterResolver,
    SlurmClusterResolver=_cluster.SlurmClusterResolver)


def _value_context():
    from tenfold.distribute.input import ValueContext
    return ValueContext


experimental = _types.SimpleNamespace(
    CommunicationOptions=CommunicationOptions,
    CommunicationImplementation=CommunicationImplementation,
    CollectiveCommunication=CommunicationImplementation,
    MultiWorkerMirroredStrategy=MultiWorkerMirroredStrategy,
    ValueContext=_value_context())
