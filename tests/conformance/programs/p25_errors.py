"""Error cases: both frameworks must raise (or both accept), and tenfold must raise a
ValueError/TypeError/InvalidArgumentError whose message helps (messages are shown by the
report). Each key ending in `error` holds what `error_of` saw."""
from _common import error_of


def program(tf, keras, np):
    L = keras.layers
    res = {}
    x = np.zeros((4, 784), "float32")
    imgs = np.zeros((4, 28, 28), "float32")
    y = np.zeros((4, 10), "float32")

    def mlp():
        return keras.Sequential([keras.Input((784,)), L.Dense(10)])

    res["unflattened_images/error"] = error_of(lambda: mlp().predict(imgs, verbose=0))
    res["wrong_features/error"] = error_of(lambda: mlp()(np.zeros((4, 100), "float32")))
    res["fit_before_compile/error"] = error_of(lambda: mlp().fit(x, y, verbose=0))
    res["evaluate_before_compile/error"] = error_of(lambda: mlp().evaluate(x, y, verbose=0))
    res["predict_before_compile/error"] = error_of(lambda: mlp().predict(x, verbose=0))

    def compile_with(**kw):
        m = mlp()
        m.compile(**kw)
        m.fit(x, y, verbose=0)
    res["unknown_loss/error"] = error_of(lambda: compile_with(optimizer="sgd", loss="mse2"))
    res["unknown_optimizer/error"] = error_of(lambda: compile_with(optimizer="adamx",
                                                                   loss="mse"))
    res["unknown_metric/error"] = error_of(lambda: compile_with(optimizer="sgd", loss="mse",
                                                               metrics=["acuracy"]))
    res["unknown_activation/error"] = error_of(lambda: L.Dense(3, activation="reluu"))
    res["unknown_initializer/error"] = error_of(lambda: L.Dense(3, kernel_initializer="glorot"))
    res["sequential_non_layer/error"] = error_of(lambda: keras.Sequential([keras.Input((3,)),
                                                                           "dense"]))
    res["concat_mismatch/error"] = error_of(
        lambda: L.Concatenate()([keras.Input((3, 4)), keras.Input((5, 6))]))
    res["add_mismatch/error"] = error_of(lambda: L.Add()([keras.Input((3,)), keras.Input((4,))]))
    res["set_weights_count/error"] = error_of(lambda: mlp().set_weights([np.zeros((784, 10))]))
    res["set_weights_shape/error"] = error_of(
        lambda: mlp().set_weights([np.zeros((10, 784)), np.zeros((10,))]))

    def fit_mismatch():
        m = mlp()
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x, np.zeros((5, 10), "float32"), verbose=0)
    res["xy_length_mismatch/error"] = error_of(fit_mismatch)
    res["conv_on_2d/error"] = error_of(lambda: L.Conv2D(2, 3)(np.zeros((2, 8, 8), "float32")))
    res["reshape_bad/error"] = error_of(lambda: L.Reshape((7, 7))(np.zeros((2, 50), "float32")))
    res["tf_reshape_bad/error"] = error_of(lambda: tf.reshape(tf.zeros((2, 3)), (4, 2)))
    res["tf_matmul_bad/error"] = error_of(lambda: tf.matmul(tf.zeros((2, 3)), tf.zeros((2, 3))))
    res["tf_add_bad/error"] = error_of(lambda: tf.zeros((2, 3)) + tf.zeros((4,)))
    res["tf_dtype_mix/error"] = error_of(lambda: tf.constant([1, 2]) + tf.constant([1.0, 2.0]))

    def wrong_loss_key():
        i = keras.Input((3,), name="i")
        m = keras.Model(i, {"out": L.Dense(1, name="out")(i)})
        m.compile(optimizer="sgd", loss={"wrong": "mse"})
        m.fit(np.zeros((2, 3)), {"out": np.zeros((2, 1))}, verbose=0)
    res["wrong_loss_key/error"] = error_of(wrong_loss_key)

    def two_inputs_one_given():
        a, b = keras.Input((3,)), keras.Input((3,))
        m = keras.Model([a, b], L.Add()([a, b]))
        m.predict(np.zeros((2, 3)), verbose=0)
    res["missing_input/error"] = error_of(two_inputs_one_given)

    def val_split_dataset():
        m = mlp()
        m.compile(optimizer="sgd", loss="mse")
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
        m.fit(ds, validation_split=0.5, verbose=0)
    res["validation_split_dataset/error"] = error_of(val_split_dataset)

    def loss_shape_mismatch():
        m = mlp()
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x, np.zeros((4, 3), "float32"), verbose=0)
    res["loss_shape_mismatch/error"] = error_of(loss_shape_mismatch)

    def forgot_super():
        class Bad(L.Layer):
            def __init__(self):
                self.units = 3

            def call(self, x):
                return x
        Bad()(np.zeros((1, 2), "float32"))
    res["forgot_super_init/error"] = error_of(forgot_super)
    res["input_shape_int/error"] = error_of(lambda: keras.Input(shape=10))
    res["dense_units_zero/error"] = error_of(lambda: L.Dense(0))
    res["dense_units_float/error"] = error_of(lambda: L.Dense(2.5))
    res["dropout_rate_bad/error"] = error_of(lambda: L.Dropout(1.5))
    res["count_params_unbuilt/error"] = error_of(lambda: L.Dense(2).count_params())
    res["summary_unbuilt/error"] = error_of(
        lambda: keras.Sequential([L.Dense(2)]).summary(print_fn=lambda *a, **k: None))
    res["lstm_2d/error"] = error_of(lambda: L.LSTM(2)(np.zeros((2, 3), "float32")))
    res["to_categorical_ok/error"] = error_of(lambda: keras.utils.to_categorical([0, 2], 3))
    res["model_bad_input/error"] = error_of(lambda: keras.Model(np.zeros(3), L.Dense(2)))
    return res
