"""Shared logic of callbacks that watch a logged quantity (EarlyStopping, ReduceLROnPlateau)."""
import operator
import warnings

from tenfold.keras.callbacks.callback import Callback

_UP = ("acc", "accuracy", "auc", "precision", "recall", "f1", "iou", "top_k", "r2")


class MonitorCallback(Callback):
    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            if name == "loss" or name.endswith("_loss"):
                self.monitor_op = operator.lt
            model = self.model
            if self.monitor_op is None and model is not None:
                for m in _all_metrics(model):
                    if getattr(m, "name", None) == name or name.endswith("_" + str(
                            getattr(m, "name", ""))):
                        direction = getattr(m, "_direction", None)
                        if direction == "up":
                            self.monitor_op = operator.gt
                        elif direction == "down":
                            self.monitor_op = operator.lt
            if self.monitor_op is None and any(name == u or name.endswith("_" + u) or
                                               name.startswith(u) for u in _UP):
                self.monitor_op = operator.gt
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "tenfold can't tell whether that metric should be maximized or "
                    "minimized. Pass `mode='max'` to monitor its highest value, or "
                    "`mode='min'` for its lowest.")
        if self.monitor_op is operator.lt:
            self.min_delta *= -1

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))


def _all_metrics(model):
    out = []
    try:
        metrics = model.metrics
    except Exception:  # noqa: BLE001 - a model without compile
        return out
    for m in metrics:
        sub = getattr(m, "metrics", None)
        if isinstance(sub, list):
            out.extend(sub)
        else:
            out.append(m)
    return out
