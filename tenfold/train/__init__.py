"""`tf.train`: checkpoints (`Checkpoint`, `CheckpointManager`, `latest_checkpoint`).

    ckpt = tf.train.Checkpoint(step=tf.Variable(0), model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(ckpt, "ckpts", max_to_keep=3)
    ckpt.restore(manager.latest_checkpoint)       # None on the first run: nothing restored
    ...
    manager.save()
"""
from tenfold.train.checkpoint import (  # noqa: F401
    Checkpoint, CheckpointLoadStatus, list_variables, load_variable, load_checkpoint)
from tenfold.train.checkpoint_management import (  # noqa: F401
    CheckpointManager, CheckpointState, latest_checkpoint, get_checkpoint_state,
    checkpoint_exists, update_checkpoint_state)
from tenfold.train._format import CheckpointFormatError  # noqa: F401


class CheckpointOptions:
    """Accepted for compatibility (`tf.train.CheckpointOptions`); options have no effect."""

    def __init__(self, experimental_io_device=None, experimental_enable_async_checkpoint=False,
                 experimental_write_callbacks=None, enable_async=False,
                 experimental_sharding_callback=None, experimental_skip_slot_variables=False):
        self.experimental_io_device = experimental_io_device
        self.enable_async = enable_async or experimental_enable_async_checkpoint


def checkpoints_iterator(checkpoint_dir, min_interval_secs=0, timeout=None, timeout_fn=None):
    """Yields each new latest checkpoint of a folder as it appears (polling)."""
    import time
    last = None
    while True:
        start = time.time()
        while True:
            path = latest_checkpoint(checkpoint_dir)
            if path is not None and path != last:
                break
            if timeout is not None and time.time() - start > timeout:
                if timeout_fn is None or timeout_fn():
                    return
                start = time.time()
            time.sleep(max(min_interval_secs, 0.1))
        last = path
        yield path


# tf.train.Example and its parts: protobuf classes, loaded on first use (need protobuf).
_EXAMPLE_PROTOS = ("Example", "SequenceExample", "Features", "Feature", "FeatureList",
                   "FeatureLists", "BytesList", "FloatList", "Int64List")


def __getattr__(name):
    if name in _EXAMPLE_PROTOS:
        from tenfold.train import example_proto
        return getattr(example_proto, name)
    raise AttributeError(f"module 'tenfold.train' has no attribute {name!r}")
