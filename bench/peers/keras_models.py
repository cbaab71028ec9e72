"""The benchmark models as Keras code, one definition for every Keras framework.

Each builder takes the `keras` module in use (`tenfold.keras`, TensorFlow's `tf.keras` or
Keras 3 on JAX) and, where the keras.io original uses TensorFlow's low level (the DCGAN's
GradientTapes), the `tf` module as well (`tenfold` or `tensorflow`); only the import differs
between frameworks. No framework is imported here.

    mlp, convnet     the seed's MNIST MLP and keras.io's simple MNIST convnet (also used by
                     bench/peers/keras_bench.py for bench_train.py)
    resnet20         keras.io's CIFAR-10 ResNet v1, depth 20 (conv + BN + ReLU, strided convs,
                     1x1 projections, residual adds), 32x32x3
    mobilenet        a MobileNet-style depthwise-separable stack on 64x64x3
    lstm, gru        Embedding(20000, 128) -> LSTM/GRU(128) -> Dense(1), length 80
    transformer      keras.io's Transformer-block text classifier (token + position embedding,
                     MultiHeadAttention 2 heads key_dim 32, FFN 32), length 64, vocab 20000
    dcgan            keras.io's GAN with a custom train_step (two GradientTapes): strided Conv2D
                     discriminator, Conv2DTranspose generator, LeakyReLU, 28x28x1
    siamese          keras.io's Siamese network with a contrastive loss (5x5 tanh convolutions,
                     average pooling), two 28x28x1 inputs
"""
import os

import numpy as np

VOCAB, SEQ_LEN, RNN_UNITS, RNN_EMBED = 20000, 80, 128, 128
TR_LEN, TR_EMBED, TR_HEADS, TR_FF = 64, 32, 2, 32
LATENT = 128

# batch size and input description of each model (random data unless noted)
BATCH = {"mlp": 128, "convnet": 128, "resnet20": 64, "mobilenet": 32, "lstm": 64, "gru": 64,
         "transformer": 64, "dcgan": 64, "siamese": 16}


def mlp(keras):
    """The seed's MNIST MLP: 784-512-10 relu/softmax, RMSprop."""
    model = keras.Sequential([
        keras.layers.Dense(512, activation="relu", input_shape=(28 * 28,)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def convnet(keras):
    """keras.io's simple MNIST convnet, Adam."""
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def resnet20(keras):
    """keras.io's CIFAR-10 ResNet v1 with depth 20 (3 stages x 3 blocks, 16/32/64 filters)."""
    layers = keras.layers

    def conv_bn(x, filters, kernel_size=3, strides=1, activation="relu", batch_norm=True):
        x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                          kernel_initializer="he_normal")(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        if activation is not None:
            x = layers.Activation(activation)(x)
        return x

    inputs = keras.Input(shape=(32, 32, 3))
    x = conv_bn(inputs, 16)
    filters = 16
    for stage in range(3):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(x, filters, strides=strides)
            y = conv_bn(y, filters, activation=None)
            if strides != 1:  # projection shortcut
                x = conv_bn(x, filters, kernel_size=1, strides=strides, activation=None,
                            batch_norm=False)
            x = layers.Activation("relu")(layers.add([x, y]))
        filters *= 2
    x = layers.AveragePooling2D(pool_size=8)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def mobilenet(keras):
    """A MobileNet-style stack: a strided 3x3 conv, then depthwise 3x3 + pointwise 1x1 blocks
    (each followed by BN + ReLU), global pooling, a 10-way classifier."""
    layers = keras.layers
    inputs = keras.Input(shape=(64, 64, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for filters, strides in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)):
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def recurrent(keras, kind):
    """Embedding(20000, 128) -> LSTM(128) or GRU(128) -> Dense(1, sigmoid), Adam."""
    layer = keras.layers.LSTM(RNN_UNITS) if kind == "lstm" else keras.layers.GRU(RNN_UNITS)
    model = keras.Sequential([keras.Input(shape=(SEQ_LEN,), dtype="int32"),
                              keras.layers.Embedding(VOCAB, RNN_EMBED), layer,
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def transformer(keras):
    """keras.io's "Text classification with Transformer": token + position embedding, one
    Transformer block (MultiHeadAttention, FFN, LayerNormalization, Dropout), pooling, MLP."""
    layers, ops = keras.layers, keras.ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"),
                                         layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.dropout1(self.att(inputs, inputs))
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.dropout2(self.ffn(out1))
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            positions = self.pos_emb(ops.arange(start=0, stop=ops.shape(x)[-1], step=1))
            return self.token_emb(x) + positions

    inputs = layers.Input(shape=(TR_LEN,))
    x = TokenAndPositionEmbedding(TR_LEN, VOCAB, TR_EMBED)(inputs)
    x = TransformerBlock(TR_EMBED, TR_HEADS, TR_FF)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def gan_parts(keras):
    """The discriminator and generator of keras.io's GAN ("Customizing what happens in
    fit()"): 28x28x1 images, a 128-d latent space."""
    layers = keras.layers
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ], name="discriminator")
    generator = keras.Sequential([
        keras.Input(shape=(LATENT,)),
        layers.Dense(7 * 7 * 128),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
    ], name="generator")
    return discriminator, generator


def dcgan(keras, tf):
    """keras.io's GAN as written for TensorFlow: one custom train_step, two GradientTapes
    (`tf` is tenfold or tensorflow). Keras on JAX has no GradientTape: see dcgan_jax_step."""
    discriminator, generator = gan_parts(keras)

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            batch_size = tf.shape(real_images)[0]
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            generated_images = self.generator(random_latent_vectors)
            combined_images = tf.concat([generated_images, real_images], axis=0)
            labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
            labels += 0.05 * tf.random.uniform(tf.shape(labels))
            with tf.GradientTape() as tape:
                predictions = self.discriminator(combined_images)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            misleading_labels = tf.zeros((batch_size, 1))
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(random_latent_vectors))
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(),
                    "g_loss": self.g_loss_tracker.result()}

    gan = GAN(discriminator, generator, LATENT)
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    return gan


def dcgan_jax_step(keras):
    """The same GAN step written the JAX way (stateless_call, jax.value_and_grad, one jitted
    function), as Keras 3's JAX guides do; returns (state, step(state, images, key))."""
    import jax
    import jax.numpy as jnp
    discriminator, generator = gan_parts(keras)
    d_opt = keras.optimizers.Adam(learning_rate=0.0003)
    g_opt = keras.optimizers.Adam(learning_rate=0.0003)
    d_opt.build(discriminator.trainable_variables)
    g_opt.build(generator.trainable_variables)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def values(vs):
        return [v.value for v in vs]

    state = (values(discriminator.trainable_variables),
             values(discriminator.non_trainable_variables), values(d_opt.variables),
             values(generator.trainable_variables), values(generator.non_trainable_variables),
             values(g_opt.variables))

    def d_loss(d_tv, d_ntv, images, labels):
        pred, d_ntv = discriminator.stateless_call(d_tv, d_ntv, images)
        return loss_fn(labels, pred), d_ntv

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, z):
        fake, g_ntv = generator.stateless_call(g_tv, g_ntv, z)
        pred, _ = discriminator.stateless_call(d_tv, d_ntv, fake)
        return loss_fn(jnp.zeros((z.shape[0], 1)), pred), g_ntv

    @jax.jit
    def step(state, real, key):
        d_tv, d_ntv, d_ov, g_tv, g_ntv, g_ov = state
        n = real.shape[0]
        k1, k2, k3 = jax.random.split(key, 3)
        fake, _ = generator.stateless_call(g_tv, g_ntv, jax.random.normal(k1, (n, LATENT)))
        images = jnp.concatenate([fake, real], axis=0)
        labels = jnp.concatenate([jnp.ones((n, 1)), jnp.zeros((n, 1))], axis=0)
        labels = labels + 0.05 * jax.random.uniform(k2, labels.shape)
        (dl, d_ntv), grads = jax.value_and_grad(d_loss, has_aux=True)(d_tv, d_ntv, images,
                                                                      labels)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)
        (gl, g_ntv), grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_tv, g_ntv, d_tv, d_ntv, jax.random.normal(k3, (n, LATENT)))
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return (d_tv, d_ntv, d_ov, g_tv, g_ntv, g_ov), dl, gl

    return state, step


def siamese(keras):
    """keras.io's "Image similarity estimation using a Siamese Network with a contrastive
    loss": a shared tanh-conv tower, Euclidean distance, BN, sigmoid; RMSprop."""
    layers, ops = keras.layers, keras.ops

    def euclidean_distance(vects):
        x, y = vects
        sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
        return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))

    def contrastive_loss(y_true, y_pred, margin=1.0):
        square_pred = ops.square(y_pred)
        margin_square = ops.square(ops.maximum(margin - y_pred, 0))
        return ops.mean((1 - y_true) * square_pred + y_true * margin_square)

    inp = layers.Input((28, 28, 1))
    x = layers.BatchNormalization()(inp)
    x = layers.Conv2D(4, (5, 5), activation="tanh")(x)
    x = layers.AveragePooling2D(pool_size=(2, 2))(x)
    x = layers.Conv2D(16, (5, 5), activation="tanh")(x)
    x = layers.AveragePooling2D(pool_size=(2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(10, activation="tanh")(x)
    embedding_network = keras.Model(inp, x)
    input_1, input_2 = layers.Input((28, 28, 1)), layers.Input((28, 28, 1))
    merged = layers.Lambda(euclidean_distance, output_shape=(1,))(
        [embedding_network(input_1), embedding_network(input_2)])
    out = layers.Dense(1, activation="sigmoid")(layers.BatchNormalization()(merged))
    model = keras.Model(inputs=[input_1, input_2], outputs=out)
    model.compile(loss=contrastive_loss, optimizer="RMSprop", metrics=["accuracy"])
    return model


def data(name, n, seed=0):
    """Random inputs and targets for n samples of a model (x may be a list; y None for the
    GAN). The MLP and the convnet take MNIST-shaped inputs here as well, or MNIST's first n
    training images and labels where TENFOLD_BENCH_DATA=mnist (bench_models.py --data
    mnist): the seed's own job, whose pixels are 81% zeros where random ones are none."""
    if name in ("mlp", "convnet") and os.environ.get("TENFOLD_BENCH_DATA") == "mnist":
        return mnist(name, n)
    rng = np.random.default_rng(seed)

    def images(*shape):
        return rng.random((n,) + shape, dtype=np.float32)

    def classes(k, one_hot=False):
        y = rng.integers(0, k, size=(n,))
        return np.eye(k, dtype=np.float32)[y] if one_hot else y.astype("int32")

    if name == "mlp":
        return images(784), classes(10, one_hot=True)
    if name == "convnet":
        return images(28, 28, 1), classes(10, one_hot=True)
    if name == "resnet20":
        return images(32, 32, 3), classes(10)
    if name == "mobilenet":
        return images(64, 64, 3), classes(10)
    if name in ("lstm", "gru"):
        return (rng.integers(1, VOCAB, size=(n, SEQ_LEN)).astype("int32"),
                rng.integers(0, 2, size=(n, 1)).astype("float32"))
    if name == "transformer":
        return rng.integers(1, VOCAB, size=(n, TR_LEN)).astype("int32"), classes(2)
    if name == "dcgan":
        return images(28, 28, 1), None
    if name == "siamese":
        return [images(28, 28, 1), images(28, 28, 1)], \
            rng.integers(0, 2, size=(n, 1)).astype("float32")
    raise ValueError(f"unknown model {name!r}; expected one of {sorted(BATCH)}")


def mnist(name, n):
    """MNIST's first n training images (float32 in [0, 1], flat for the MLP, 28x28x1 for the
    convnet) and one-hot labels, from $TENFOLD_DATASETS (else ../shared/datasets beside the
    repository)."""
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.environ.get("TENFOLD_DATASETS") or os.path.join(here, "..", "..", "..",
                                                                 "shared", "datasets")
    with np.load(os.path.join(folder, "mnist.npz")) as f:
        x, y = f["x_train"], f["y_train"]
    if n > len(x):
        raise ValueError(f"{n} samples asked of MNIST's {len(x)}")
    x = x[:n].astype(np.float32) / 255
    x = x.reshape(n, 784) if name == "mlp" else x.reshape(n, 28, 28, 1)
    return x, np.eye(10, dtype=np.float32)[y[:n]]


def build(name, keras, tf=None):
    """The compiled Keras model `name` (see the module docstring)."""
    if name in ("lstm", "gru"):
        return recurrent(keras, name)
    if name == "dcgan":
        return dcgan(keras, tf)
    builders = {"mlp": mlp, "convnet": convnet, "resnet20": resnet20, "mobilenet": mobilenet,
                "transformer": transformer, "siamese": siamese}
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(BATCH)}")
    return builders[name](keras)
