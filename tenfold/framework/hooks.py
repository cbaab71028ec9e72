"""What the framework layer calls in higher layers, installed by them when they load.

Tensor and Variable methods that run ops (`convert_to_tensor` of a Variable, auto-packing a
list of tensors, `Variable.scatter_*`) need the op catalogue, which sits above the framework.
Rather than importing upward, the framework calls the module recorded here: `tenfold.ops`
sets `hooks.array_ops` and `hooks.read_variable` as it is imported (always before any such
method can run: `import tenfold` loads the ops).
"""
array_ops = None      # tenfold.ops.array_ops
math_ops = None       # tenfold.ops.math_ops
read_variable = None  # tenfold.ops._convert.read_variable
check_alloc = None    # tenfold.ops._checks.check_alloc
