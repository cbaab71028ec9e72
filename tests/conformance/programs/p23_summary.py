"""model.summary(): the table's rows (layer name and type, output shape, params, connected
to), the totals, for Sequential, functional (multi-input, shared layers), nested and
subclassed models; also print_fn receiving the text, and expand_nested."""
from _common import init_weights


def parse(text):
    """The table as rows of cells (a cell wrapped over several lines joined back into one),
    and the totals. tenfold adds a per-layer "FLOPs" column and FLOPs / memory lines by
    default (a documented extension; `show_flops=False` turns it off): they are left out
    here, everything Keras prints is compared."""
    rows, totals, header, drop, current = [], [], [], None, None

    def flush():
        if current is not None:
            rows.append(" | ".join(" ".join(" ".join(parts).split()) for parts in current))

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("┃"):
            cells = [c.strip() for c in s.strip("┃").split("┃")]
            if "FLOPs" in cells:
                drop = cells.index("FLOPs")
            header.append(" | ".join(c for i, c in enumerate(cells) if i != drop))
        elif s.startswith("│"):
            cells = [c.strip() for c in s.strip("│").split("│")]
            if drop is not None:
                cells = cells[:drop] + cells[drop + 1:]
            if current is None:
                current = [[c] for c in cells]
            else:
                for parts, c in zip(current, cells):
                    parts.append(c)
        elif s.startswith("├") or s.startswith("└"):
            flush()
            current = None
        elif "params:" in s or s.startswith("Model:"):
            totals.append(" ".join(s.split()))
    return {"header": header or ["(none)"], "rows": rows or ["(none)"], "totals": totals}


def program(tf, keras, np):
    L = keras.layers
    res = {}

    def capture(model, key, **kw):
        chunks = []
        model.summary(print_fn=lambda s, *a, **k: chunks.append(s), **kw)
        parsed = parse("\n".join(chunks))
        for k, v in parsed.items():
            res[f"{key}/{k}"] = v

    seq = keras.Sequential([keras.Input((16,)), L.Dense(32, activation="relu"),
                            L.Dropout(0.2), L.BatchNormalization(), L.Dense(10)], name="seq")
    capture(seq, "sequential")

    inp_a = keras.Input((8,), name="in_a")
    inp_b = keras.Input((4, 8), name="in_b")
    shared = L.Dense(6, name="shared")
    fa = shared(inp_a)
    fb = L.Flatten(name="flat")(shared(inp_b))
    h = L.Concatenate(name="cat")([fa, fb])
    out1 = L.Dense(1, name="out1")(h)
    out2 = L.Dense(3, activation="softmax", name="out2")(h)
    func = keras.Model([inp_a, inp_b], [out1, out2], name="func")
    capture(func, "functional")

    inner = keras.Sequential([keras.Input((8,)), L.Dense(4, name="inner_dense")], name="inner")
    i = keras.Input((8,), name="outer_in")
    outer = keras.Model(i, L.Dense(2, name="outer_dense")(inner(i)), name="outer")
    capture(outer, "nested")
    capture(outer, "nested_expanded", expand_nested=True)

    conv = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(8, 3, activation="relu"),
                             L.MaxPooling2D(), L.Flatten(), L.Dense(10)], name="convnet")
    conv.layers[0].trainable = False
    capture(conv, "conv_frozen")

    rnn = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(100, 8),
                            L.LSTM(6, return_sequences=True), L.Bidirectional(L.GRU(4)),
                            L.Dense(1)], name="rnn")
    capture(rnn, "rnn")

    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.d1 = L.Dense(5, name="first")
            self.d2 = L.Dense(2, name="second")

        def call(self, x):
            return self.d2(self.d1(x))

    sub = Sub()
    sub(np.zeros((1, 3), "float32"))
    capture(sub, "subclassed")

    seq.compile(optimizer="adam", loss="mse")
    seq.fit(np.zeros((4, 16), "float32"), np.zeros((4, 10), "float32"), verbose=0)
    capture(seq, "sequential_trained")   # now shows optimizer params
    return res
