"""Data tenfold makes itself (no download): generated, learnable datasets for tests, examples
and the offline quick start. Pure NumPy, deterministic for a seed."""
from tenfold.datasets_gen.digits import generate_digits  # noqa: F401
