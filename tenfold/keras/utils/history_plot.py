"""`tenfold.keras.utils.plot_history(history)`: the training curves of `fit`, one panel per
metric with its validation curve beside it (tenfold's own helper; Keras has none). Needs
matplotlib (`pip install tenfold[plots]`).

    history = model.fit(x, y, validation_split=0.1, epochs=10)
    keras.utils.plot_history(history)                  # shows the figure
    keras.utils.plot_history(history, to_file="curves.png")
"""


def _series(history):
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError("plot_history expects the History returned by fit() (or its "
                         f".history dict of lists), got {type(history).__name__}"
                         + (" with no epochs recorded" if isinstance(logs, dict) else "") + ".")
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    return logs, names


def plot_history(history, metrics=None, to_file=None, show=None, figsize=None):
    """Draws each metric of a `History` (loss first) against the epoch, training and
    validation on the same panel. Returns the matplotlib Figure. With `to_file` the figure is
    saved there (the format from the extension); `show` (default: when no file is given)
    calls `plt.show()`."""
    logs, names = _series(history)
    if metrics is not None:
        unknown = [m for m in metrics if m not in logs and f"val_{m}" not in logs]
        if unknown:
            raise ValueError(f"plot_history: no {unknown} in the history; it has "
                             f"{sorted(logs)}.")
        names = list(metrics)
    order = list(names)
    names = sorted(order, key=lambda n: (n != "loss", order.index(n)))
    try:
        import matplotlib
        if to_file is not None and show is not True:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot_history needs matplotlib: pip install matplotlib (or "
                          "pip install 'tenfold[plots]'). The numbers are in "
                          "history.history.") from None
    fig, axes = plt.subplots(1, len(names), squeeze=False,
                             figsize=figsize or (4.5 * len(names), 3.5))
    epochs_of = getattr(history, "epoch", None)
    for ax, name in zip(axes[0], names):
        for key, label, style in ((name, "training", "-o"), (f"val_{name}", "validation",
                                                              "--s")):
            values = logs.get(key)
            if values is None:
                continue
            xs = ([e + 1 for e in epochs_of] if epochs_of and len(epochs_of) == len(values)
                  else list(range(1, len(values) + 1)))
            ax.plot(xs, [float(v) for v in values], style, label=label, markersize=3)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if to_file is not None:
        fig.savefig(str(to_file))
    if show or (show is None and to_file is None):
        plt.show()
    return fig
