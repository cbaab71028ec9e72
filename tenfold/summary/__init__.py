"""`tf.summary`: TensorBoard event files, written with the `tensorboard` package's own writer
and protocol buffers (the files TensorBoard itself reads).

    writer = tf.summary.create_file_writer("logs/run1")
    with writer.as_default(step=0):
        tf.summary.scalar("loss", 0.25)
        tf.summary.histogram("weights", w, step=0)

Needs the optional `tensorboard` package (`pip install tenfold[tensorboard]`); it is imported
when the first writer is created, not when tenfold is.
"""
from tenfold.summary._writer import (  # noqa: F401
    SummaryWriter, create_file_writer, create_noop_writer, flush, record_if,
    should_record_summaries, scalar, histogram, image, text, audio, write, graph, trace_on,
    trace_off, trace_export, _default_writer)
from tenfold.summary import experimental  # noqa: F401
