"""Versions (their own module, so any layer can read them without importing `tenfold` itself).

`__version__` is the TensorFlow API version tenfold mirrors, so that code checking it
(`tf.__version__ >= "2."`, `version.parse(tf.__version__)`) takes TensorFlow 2.21's branch;
tenfold's own release (the one pip shows) is `__tenfold_version__`. See docs/guide.md.
"""
__version__ = "2.21.0"
__tenfold_version__ = "0.1.0"
