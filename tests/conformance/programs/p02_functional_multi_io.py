"""Functional API with several inputs and outputs, dict losses, loss_weights and per-output
metrics (keras.io "The Functional API": the ticket-triage model)."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(2)
    n = 96
    title = r.randint(1, 50, size=(n, 6))
    body = r.randint(1, 50, size=(n, 12))
    tags = r.randint(0, 2, size=(n, 4)).astype("float32")
    priority = r.rand(n, 1).astype("float32")
    dept = r.randint(0, 3, size=(n,))

    title_in = keras.Input(shape=(None,), name="title")
    body_in = keras.Input(shape=(None,), name="body")
    tags_in = keras.Input(shape=(4,), name="tags")
    t = keras.layers.Embedding(50, 8, name="emb_title")(title_in)
    b = keras.layers.Embedding(50, 8, name="emb_body")(body_in)
    t = keras.layers.GlobalAveragePooling1D(name="pool_title")(t)
    b = keras.layers.GlobalAveragePooling1D(name="pool_body")(b)
    h = keras.layers.concatenate([t, b, tags_in], name="concat")
    h = keras.layers.Dense(16, activation="relu", name="trunk")(h)
    pr = keras.layers.Dense(1, name="priority")(h)
    de = keras.layers.Dense(3, name="department")(h)
    model = keras.Model(inputs=[title_in, body_in, tags_in],
                        outputs={"priority": pr, "department": de}, name="triage")
    init_weights(model, 3)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),  # linear in g: see p28
        loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
              "department": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"priority": ["mae"], "department": ["accuracy"]},
    )
    xs = {"title": title, "body": body, "tags": tags}
    ys = {"priority": priority, "department": dept}
    hist = model.fit(xs, ys, epochs=3, batch_size=32, shuffle=False, verbose=0,
                     validation_data=(xs, ys))
    ev = model.evaluate(xs, ys, verbose=0, return_dict=True)
    pred = model.predict(xs, verbose=0)
    return {
        **history_dict(hist),
        **weights_dict(model),
        "evaluate": ev,
        "pred_keys": sorted(pred),
        "pred/priority": pred["priority"],
        "pred/department": pred["department"],
        "input_names": [i.name for i in model.inputs],
        "output_names": list(model.output_names),
        "layer_names": [l.name for l in model.layers],
        "layer_types": [type(l).__name__ for l in model.layers],
    }
