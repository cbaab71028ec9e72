"""`tf.summary.experimental`: the default step."""
from tenfold.summary._writer import get_step, set_step, summary_scope, write_raw_pb  # noqa: F401
