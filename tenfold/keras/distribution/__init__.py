"""`keras.distribution`: Keras 3's data-parallel API, run by tenfold's tf.distribute.

    devices = keras.distribution.list_devices()        # ["cpu:0", "cpu:1"] under mpirun -n 2
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    model = make_model(); model.compile(...); model.fit(x, y, batch_size=64)   # global batch

`DataParallel` over the devices of several processes (started by `mpirun` / `srun`) is a
`MultiWorkerMirroredStrategy`; over devices of one process a `MirroredStrategy`. Models
compiled while a distribution is set train with it. Model parallelism (`ModelParallel`,
`LayoutMap`) is not supported: tenfold replicates every variable.
"""
import contextlib
import math

import numpy as np

DEFAULT_BATCH_DIM_NAME = "batch"
_CURRENT = [None]


def _world():
    from tenfold.distribute import cluster
    return cluster.world_communicator()


def list_devices(device_type=None):
    """The devices for distributed computation, "type:id" (global: every worker's)."""
    kind = (device_type or "cpu").lower()
    if kind not in ("cpu", "gpu", "tpu"):
        raise ValueError(f"list_devices: device_type must be 'cpu', 'gpu' or 'tpu'; received "
                         f"{device_type!r}.")
    if kind != "cpu":
        return []  # no accelerator backend is available to tenfold here
    return [f"cpu:{i}" for i in range(_world().size)]


def get_device_count(device_type=None):
    return len(list_devices(device_type))


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Joins this process to the job (MPI). With `num_processes` / `process_id` given they
    are checked against the launcher's."""
    comm = _world()
    if num_processes is not None and int(num_processes) != comm.size:
        raise ValueError(f"keras.distribution.initialize: num_processes={num_processes} but "
                         f"the MPI launcher started {comm.size} process(es); start with "
                         f"`mpirun -n {num_processes}`.")
    if process_id is not None and int(process_id) != comm.rank:
        raise ValueError(f"keras.distribution.initialize: process_id={process_id} but this is "
                         f"MPI rank {comm.rank}.")


class DeviceMesh:
    """A named grid of devices (`keras.distribution.DeviceMesh`)."""

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(f"Shape and axis_names cannot be empty. Received: shape={shape}, "
                             f"axis_names={axis_names}")
        if len(shape) != len(axis_names):
            raise ValueError(f"Shape and axis_names should have same size. Received: "
                             f"shape={shape}, axis_names={axis_names}")
        devices = np.array(list_devices() if devices is None else devices)
        if math.prod(shape) != devices.size:
            raise ValueError(f"Shape does not match the number of devices. Received: "
                             f"shape={shape}; devices.shape={devices.shape}")
        self._shape = tuple(shape)
        self._axis_names = list(axis_names)
        self._devices = np.reshape(devices, shape)

    shape = property(lambda self: self._shape)
    axis_names = property(lambda self: self._axis_names)
    devices = property(lambda self: self._devices)


class TensorLayout:
    def __init__(self, axes, device_mesh=None):
        self.axes = tuple(axes)
        self.device_mesh = device_mesh


class Distribution:
    """Base of the distributions: a device mesh and the tf.distribute strategy running it."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self.auto_shard_dataset = auto_shard_dataset
        self._strategy = None

    device_mesh = property(lambda self: self._device_mesh)
    batch_dim_name = property(lambda self: self._batch_dim_name)

    @contextlib.contextmanager
    def scope(self):
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)


class DataParallel(Distribution):
    """Data parallelism: the global batch split over the devices, variables replicated."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(f"Expect `mesh` to be an instance of `DeviceMesh`. Received: "
                                 f"mesh={device_mesh} (of type {type(device_mesh)})")
            mesh = device_mesh
        else:
            devs = list(devices) if devices else list_devices()
            mesh = DeviceMesh((len(devs),), [DEFAULT_BATCH_DIM_NAME], devs)
        super().__init__(mesh, mesh.axis_names[0], auto_shard_dataset)
        self._strategy = self._make_strategy()

    @property
    def num_model_replicas(self):
        return self.device_mesh.devices.size

    def _make_strategy(self):
        from tenfold import distribute
        n = self.num_model_replicas
        world = _world().size
        if world > 1:
            if n % world:
                raise ValueError(f"DataParallel: {n} devices but {world} worker processes; "
                                 "each worker process runs the same number of replicas, so "
                                 "pass a multiple of the worker count (keras.distribution."
                                 "list_devices() gives one device per worker).")
            local = n // world  # several per worker: N processes x M replicas
            return distribute.MultiWorkerMirroredStrategy(
                local_devices=[f"/cpu:{i}" for i in range(local)] if local > 1 else None)
        return distribute.MirroredStrategy(
            [f"/cpu:{i}" for i in range(n)] if n > 1 else None)

    def get_data_layout(self, data_shape):
        axes = [None] * len(data_shape)
        axes[0] = self.batch_dim_name
        return TensorLayout(axes, self.device_mesh)

    def get_variable_layout(self, variable):
        return TensorLayout([None] * len(variable.shape), self.device_mesh)

    def get_tensor_layout(self, path):
        return None


class ModelParallel(Distribution):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("keras.distribution.ModelParallel is not supported by "
                                  "tenfold: it replicates every variable (use DataParallel).")


def distribution():
    """The distribution set by `set_distribution`, or None."""
    return _CURRENT[0]


def set_distribution(value):
    """Sets the distribution models compiled from now on train with (None clears it)."""
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(f"Expect `value` to be a `keras.distribution.Distribution` (such as "
                         f"DataParallel); received {value!r}.")
    from tenfold.distribute import strategy as _st
    _CURRENT[0] = value
    _st.experimental_set_strategy(None if value is None else value._strategy)
