"""Public namespaces (`tf.math`, `tf.nn`, `tf.linalg`, ...): re-exports only.

`tenfold/__init__.py` loads each module on first attribute access, so `import tenfold` stays
fast; the implementations live in `tenfold.ops`.
"""
