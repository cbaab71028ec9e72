"""Exception classes, as `tf.errors` names them."""


class OpError(Exception):
    """Base of the errors an op raises (TensorFlow's `tf.errors.OpError`)."""

    def __init__(self, message, node_def=None, op=None, error_code=None):
        super().__init__(message)
        self.message = message
        self.node_def = node_def
        self.op = op
        self.error_code = error_code


class InvalidArgumentError(OpError, ValueError):
    """An op got an argument it cannot work with: wrong shape, dtype, axis or index."""


class OutOfRangeError(OpError, IndexError):
    """An iterator or index ran past its end."""


class ResourceExhaustedError(OpError, MemoryError):
    pass


class NotFoundError(OpError, FileNotFoundError):
    pass


class FailedPreconditionError(OpError, RuntimeError):
    pass


class UnimplementedError(OpError, NotImplementedError):
    pass


class DataLossError(OpError, IOError):
    """A file was truncated or corrupted."""
