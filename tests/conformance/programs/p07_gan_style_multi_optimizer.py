"""A custom train_step with two optimizers and two sub-models (the GAN pattern from
"Customizing fit()"), on deterministic inputs instead of random latent noise."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    latent_dim = 4
    disc = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8),
                             keras.layers.LeakyReLU(negative_slope=0.2),
                             keras.layers.Dense(1)], name="discriminator")
    gen = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(6, activation="tanh")], name="generator")

    class GAN(keras.Model):
        def __init__(self, discriminator, generator):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def train_step(self, data):
            real, z = data
            batch = tf.shape(real)[0]
            fake = self.generator(z)
            combined = tf.concat([fake, real], axis=0)
            labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            misleading = tf.zeros((batch, 1))
            with tf.GradientTape() as tape:
                g_loss = self.loss_fn(misleading, self.discriminator(self.generator(z)))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(),
                    "g_loss": self.g_loss_tracker.result()}

    r = rng(13)
    real = np.tanh(r.randn(64, 6)).astype("float32")
    z = r.randn(64, latent_dim).astype("float32")
    init_weights(disc, 14)
    init_weights(gen, 15)
    gan = GAN(disc, gen)
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.003),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.003),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    hist = gan.fit(real, z, epochs=3, batch_size=16, shuffle=False, verbose=0)
    res = {**history_dict(hist), **weights_dict(disc, "disc"), **weights_dict(gen, "gen")}
    res["d_iterations"] = int(gan.d_optimizer.iterations.numpy())
    res["n_gan_weights"] = len(gan.weights)
    return res
