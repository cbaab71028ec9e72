"""Every name DESIGN.md lists for the low level exists, namespaces load lazily, and
`import tenfold` stays light."""
import subprocess
import sys

import pytest

import tenfold as tf

TOP = """constant convert_to_tensor Variable zeros ones zeros_like ones_like fill range linspace
eye one_hot cast shape rank size reshape expand_dims squeeze transpose concat stack unstack split
tile pad gather gather_nd scatter_nd where boolean_mask reverse broadcast_to argmax argmin sort
argsort cumsum add subtract multiply divide floordiv mod pow negative abs sign sqrt square exp log
tanh sigmoid maximum minimum clip_by_value round floor ceil equal not_equal less less_equal greater
greater_equal logical_and logical_or logical_not matmul tensordot einsum reduce_sum reduce_mean
reduce_max reduce_min reduce_prod reduce_any reduce_all reduce_logsumexp norm stop_gradient
GradientTape custom_gradient device float16 bfloat16 float32 float64 int8 int16 int32 int64 uint8
bool meshgrid repeat roll clip_by_norm clip_by_global_norm map_fn vectorized_map scan foldl print
Assert no_op group ensure_shape numpy_function py_function searchsorted TensorShape DType
as_dtype is_tensor newaxis Module TensorArray IndexedSlices SparseTensor executing_eagerly
name_scope identity unique sequence_mask tensor_scatter_nd_update UnconnectedGradients
get_static_value init_scope control_dependencies histogram_fixed_width function TensorSpec cond
while_loop""".split()

NAMESPACES = {
    "math": """top_k reduce_variance reduce_std log1p expm1 rsqrt softplus erf in_top_k
        l2_normalize segment_sum unsorted_segment_sum confusion_matrix bincount is_nan
        reduce_euclidean_norm count_nonzero cumulative_logsumexp divide_no_nan xlogy lgamma
        sigmoid log_sigmoid softsign argmax polyval""",
    "nn": """relu relu6 elu selu gelu silu swish leaky_relu softmax log_softmax dropout moments
        batch_normalization softmax_cross_entropy_with_logits
        sparse_softmax_cross_entropy_with_logits sigmoid_cross_entropy_with_logits l2_loss
        bias_add l2_normalize embedding_lookup""",
    "linalg": """matmul inv det cholesky norm solve qr svd eigh diag diag_part trace band_part
        matrix_transpose triangular_solve slogdet logdet set_diag matvec global_norm expm""",
    "random": """set_seed normal uniform truncated_normal shuffle categorical Generator
        stateless_normal stateless_uniform stateless_truncated_normal""",
    "config": """list_physical_devices list_logical_devices run_functions_eagerly
        functions_run_eagerly set_visible_devices""",
    "image": "resize flip_left_right flip_up_down per_image_standardization ResizeMethod",
    "debugging": "assert_equal assert_near check_numerics assert_rank Assert assert_shapes",
    "bitwise": "bitwise_and bitwise_or bitwise_xor invert left_shift right_shift",
    "strings": "length join upper lower to_number as_string",
    "errors": "InvalidArgumentError OpError OutOfRangeError",
    "test": "TestCase is_gpu_available",
    "io": "read_file write_file gfile serialize_tensor parse_tensor",
    "sparse": "SparseTensor to_dense from_dense",
    "dtypes": "float32 cast as_dtype DType",
    "experimental": "numpy",
    "compat": "v1 as_bytes as_text",
    "autograph": "experimental",
    "signal": "fft rfft hann_window frame",
}


@pytest.mark.parametrize("name", TOP)
def test_top_level_name(name):
    assert hasattr(tf, name), f"tf.{name} is missing"


@pytest.mark.parametrize("ns", sorted(NAMESPACES))
def test_namespace_names(ns):
    mod = getattr(tf, ns)
    missing = [n for n in NAMESPACES[ns].split() if not hasattr(mod, n)]
    assert not missing, f"tf.{ns} lacks {missing}"


def test_config_experimental_and_autograph():
    for n in ["list_physical_devices", "set_memory_growth", "get_memory_growth"]:
        assert hasattr(tf.config.experimental, n)
    f = tf.autograph.experimental.do_not_convert(lambda x: x + 1)
    assert f(1) == 2
    assert tf.compat.v2 is tf
    with pytest.raises(RuntimeError, match="graph-mode"):
        tf.compat.v1.placeholder(tf.float32)
    with pytest.raises(RuntimeError, match="GradientTape"):
        tf.gradients(None, None)


def test_nn_exposes_conv_ops_when_present():
    import importlib.util
    if importlib.util.find_spec("tenfold.ops.conv_ops") is None:
        pytest.skip("conv_ops not written yet")
    from tenfold.ops import conv_ops
    public = [n for n in getattr(conv_ops, "__all__", dir(conv_ops)) if not n.startswith("_")]
    assert any(hasattr(tf.nn, n) for n in public)


def test_import_is_light():
    code = ("import sys, tenfold; heavy = [m for m in ('ml_dtypes', 'scipy', 'tenfold.keras', "
            "'tenfold.api.linalg', 'tenfold.data', 'numpy.random') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"import tenfold loaded {out}"


def test_every_primitive_is_declared_once_and_loadable():
    from tenfold.ops import registry
    reg = registry.load_all()
    assert len(reg) > 100
    for name, prim in reg.items():
        assert prim.name == name
