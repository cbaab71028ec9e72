"""tf.nn activations."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    x = tf.constant(np.linspace(-4, 4, 17).astype(np.float32).reshape(1, 17))
    x3 = tf.constant(np.random.RandomState(4).randn(2, 3, 4).astype(np.float32))
    return {
        "relu": lambda: tf.nn.relu(x),
        "relu6": lambda: tf.nn.relu6(x * 2),
        "elu": lambda: tf.nn.elu(x),
        "selu": lambda: tf.nn.selu(x),
        "gelu": lambda: tf.nn.gelu(x),
        "gelu_approx": lambda: tf.nn.gelu(x, approximate=True),
        "silu": lambda: tf.nn.silu(x),
        "swish": lambda: tf.nn.swish(x),
        "leaky": lambda: tf.nn.leaky_relu(x),
        "leaky_alpha": lambda: tf.nn.leaky_relu(x, alpha=0.3),
        "sigmoid": lambda: tf.sigmoid(x),
        "math_sigmoid": lambda: tf.math.sigmoid(x),
        "tanh": lambda: tf.tanh(x),
        "softsign": lambda: tf.nn.softsign(x),
        "softplus": lambda: tf.nn.softplus(x),
        "softmax": lambda: tf.nn.softmax(x3),
        "softmax_axis": lambda: tf.nn.softmax(x3, axis=1),
        "log_softmax": lambda: tf.nn.log_softmax(x3),
        "log_softmax_axis0": lambda: tf.nn.log_softmax(x3, axis=0),
        "softmax_big": lambda: tf.nn.softmax(tf.constant([1000.0, 0.0, -1000.0])),
        "l2_loss": lambda: tf.nn.l2_loss(x3),
        "bias_add": lambda: tf.nn.bias_add(x3, tf.constant([1.0, 2.0, 3.0, 4.0])),
        "dropout_rate0_shape": lambda: tf.nn.dropout(x3, rate=0.5).shape.as_list(),
        "dropout_scale": lambda: tf.reduce_max(tf.nn.dropout(tf.ones([1000]), rate=0.75)),
        "error_dropout_rate": lambda: tf.nn.dropout(x3, rate=1.5),
    }
