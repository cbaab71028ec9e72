__version__ = "3.15.1"  # the Keras API version tenfold.keras follows


def version():
    return __version__
