"""What an array backend supplies: the contract every backend (NumPy, CuPy, the CI stand-in)
implements, and nothing more.

- `xp`: its NumPy-compatible array namespace; kernels are written against it.
- array creation and host transfer: `from_host(ndarray)` puts a host array on the device,
  `to_host(array)` brings one back (the only ways across; implicit conversion may refuse).
- `kernels`: the operations the namespace lacks (convolution and its two adjoints,
  depthwise convolution, pooling and pooling gradients, scatter-add), as an object with
  the functions of `tenfold.backend.kernels` (same names and arguments).
- its devices' names, as TensorFlow prints them.

A backend is registered with `tenfold.backend.register(backend)`; tensors then know their
device from the type of their array, and `tf.device('/<DEVICE_TYPE>:0')` creates tensors on it.
"""


class Backend:
    """Base class: subclasses set the class attributes and implement the transfers."""

    name = "?"             # short name ('numpy', 'cupy', 'standin')
    device_type = "?"      # TensorFlow's device type ('CPU', 'GPU', ...)
    xp = None              # the array namespace
    array_types = ()       # the array classes this backend owns
    kernels = None         # the kernels the namespace lacks (see module docstring)
    device_count = 1
    listed = True          # shown by tf.config.list_physical_devices (hardware, not a test fake)

    def device_name(self, index=0):
        return f"/job:localhost/replica:0/task:0/device:{self.device_type}:{index}"

    def owns(self, array):
        return isinstance(array, self.array_types)

    def from_host(self, array):
        """A device array holding the host NumPy array's values."""
        raise NotImplementedError

    def to_host(self, array):
        """A host NumPy array holding the device array's values."""
        raise NotImplementedError

    def asarray(self, value, dtype=None):
        """A device array from a host value (NumPy array, Python number, nested list)."""
        import numpy as np
        return self.from_host(np.asarray(value, dtype=dtype))

    def scalar(self, value, dtype):
        """A 0-d device array (gradient rules' constants: ones, zeros, epsilons)."""
        import numpy as np
        return self.from_host(np.asarray(value, dtype=dtype))

    def __repr__(self):
        return f"<backend {self.name} ({self.device_type})>"
