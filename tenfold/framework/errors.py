"""Exception classes, as `tf.errors` names them.

Constructed either as `InvalidArgumentError(message)` (ours) or with TensorFlow's order
`InvalidArgumentError(node_def, op, message)`.
"""

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class OpError(Exception):
    """Base of the errors an op raises (TensorFlow's `tf.errors.OpError`)."""

    _code = UNKNOWN

    def __init__(self, *args, **kwargs):
        node_def = kwargs.pop("node_def", None)
        op = kwargs.pop("op", None)
        message = kwargs.pop("message", None)
        error_code = kwargs.pop("error_code", None)
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if len(args) >= 3:  # TensorFlow's order: (node_def, op, message, *error_code)
            node_def, op, message = args[:3]
            if len(args) > 3:
                error_code = args[3]
        elif len(args) == 2:
            message, node_def = args
        elif len(args) == 1:
            message = args[0]
        message = "" if message is None else str(message)
        super().__init__(message)
        self.message = message
        self.node_def = node_def
        self.op = op
        self.error_code = self._code if error_code is None else error_code
        self.experimental_payloads = {}

    def __str__(self):
        return self.message

    def __reduce__(self):
        return type(self), (self.node_def, self.op, self.message, self.error_code)


def _make(name, code, *bases, doc=""):
    cls = type(name, (OpError,) + bases, {"_code": code, "__doc__": doc or name})
    cls.__module__ = __name__
    return cls


InvalidArgumentError = _make(
    "InvalidArgumentError", INVALID_ARGUMENT, ValueError,
    doc="An op got an argument it cannot work with: wrong shape, dtype, axis or index.")
OutOfRangeError = _make("OutOfRangeError", OUT_OF_RANGE, IndexError,
                        doc="An iterator or index ran past its end.")
ResourceExhaustedError = _make("ResourceExhaustedError", RESOURCE_EXHAUSTED, MemoryError)
NotFoundError = _make("NotFoundError", NOT_FOUND, FileNotFoundError)
FailedPreconditionError = _make("FailedPreconditionError", FAILED_PRECONDITION, RuntimeError)
UnimplementedError = _make("UnimplementedError", UNIMPLEMENTED, NotImplementedError)
DataLossError = _make("DataLossError", DATA_LOSS, IOError,
                      doc="A file was truncated or corrupted.")
CancelledError = _make("CancelledError", CANCELLED)
UnknownError = _make("UnknownError", UNKNOWN)
DeadlineExceededError = _make("DeadlineExceededError", DEADLINE_EXCEEDED)
AlreadyExistsError = _make("AlreadyExistsError", ALREADY_EXISTS)
PermissionDeniedError = _make("PermissionDeniedError", PERMISSION_DENIED, PermissionError)
UnauthenticatedError = _make("UnauthenticatedError", UNAUTHENTICATED)
AbortedError = _make("AbortedError", ABORTED)
InternalError = _make("InternalError", INTERNAL, RuntimeError)
UnavailableError = _make("UnavailableError", UNAVAILABLE)


class OperatorNotAllowedInGraphError(TypeError):
    """A traced tensor was used as a Python value (bool, int, .numpy()) inside tf.function."""


def out_of_device_memory(op_name, inputs_text, device_name, err):
    """The ResourceExhaustedError for an op whose device allocation failed (CuPy's
    OutOfMemoryError, a MemoryError): the op, its inputs' shapes, the bytes asked for and
    what to do, instead of the array library's own traceback."""
    import re
    m = re.search(r"allocating ([\d,]+) bytes", str(err))
    asked = f"{int(m.group(1).replace(',', '')):,} bytes" if m else "memory"
    m = re.search(r"allocated so far: ([\d,]+) bytes", str(err))
    held = f" ({int(m.group(1).replace(',', '')):,} bytes already in use)" if m else ""
    return ResourceExhaustedError(
        f"OOM when allocating {asked} for {op_name} on {device_name}{held}; inputs: "
        f"{inputs_text}. Use a smaller batch size (or a smaller model); with "
        f"tf.config.experimental.set_memory_growth(gpu, True) memory is taken as needed, and "
        f"a LogicalDeviceConfiguration memory_limit caps what tenfold may use.")
