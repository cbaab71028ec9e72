"""`keras.callbacks.TensorBoard`: training curves, weight histograms and the model graph, in
event files TensorBoard reads (`tensorboard --logdir logs`).

Writes as Keras 3 does: `log_dir/train` and `log_dir/validation` runs; tags `epoch_loss`,
`epoch_<metric>`, `epoch_learning_rate` (per epoch), `batch_<metric>` (with `update_freq`),
`<weight path>/histogram` (with `histogram_freq`), and the model's Keras config for the graph
dashboard (`write_graph`).
"""
import os
import time
import warnings

import numpy as np

from tenfold.keras.callbacks.callback import Callback
from tenfold.framework.host import to_host


class TensorBoard(Callback):
    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None, **kwargs):
        super().__init__()
        kwargs.pop("write_grads", None)
        kwargs.pop("batch_size", None)
        if kwargs:
            raise TypeError(f"TensorBoard got unexpected arguments: {sorted(kwargs)}")
        from tenfold import summary
        from tenfold.summary import _writer
        _writer._tb()  # fail now, with the install hint, if tensorboard is missing
        self._summary = summary
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        if self.update_freq != "epoch" and not isinstance(self.update_freq, int):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or an integer; got "
                             f"{update_freq!r}")
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        if profile_batch:
            warnings.warn("TensorBoard: profiling (profile_batch) is not supported by tenfold "
                          "and is ignored.", stacklevel=2)
        self._writers = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._epoch_start_time = None
        self._previous_epoch_iterations = 0
        self._batch_start_time = None
        self._graph_written = False

    # ------------------------------------------------------------------ writers
    def set_model(self, model):
        super().set_model(model)
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._close_writers()
        self._writers = {}
        self._graph_written = False

    @property
    def _train_writer(self):
        if "train" not in self._writers:
            self._writers["train"] = self._summary.create_file_writer(self._train_dir)
        return self._writers["train"]

    @property
    def _val_writer(self):
        if "val" not in self._writers:
            self._writers["val"] = self._summary.create_file_writer(self._val_dir)
        return self._writers["val"]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        if self.write_graph and not self._graph_written:
            self._write_model_graph()
            self._graph_written = True

    def on_train_end(self, logs=None):
        self._close_writers()
        self._writers = {}

    def on_test_end(self, logs=None):
        opt = getattr(self.model, "optimizer", None)
        if logs and opt is not None and hasattr(opt, "iterations"):
            step = int(_num(opt.iterations))
            with self._val_writer.as_default():
                for name, value in logs.items():
                    if _is_scalar(value):
                        self._summary.scalar(f"evaluation_{name}_vs_iterations", _num(value),
                                             step=step)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        step = self._global_train_batch
        if step % self.update_freq != 0:
            return
        with self._train_writer.as_default(step=step):
            if self.write_steps_per_second and self._batch_start_time is not None:
                dt = max(time.time() - self._batch_start_time, 1e-9)
                self._summary.scalar("batch_steps_per_second", 1.0 / dt, step=step)
            for name, value in (logs or {}).items():
                if _is_scalar(value):
                    self._summary.scalar(f"batch_{name}", _num(value), step=step)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            opt = getattr(self.model, "optimizer", None)
            self._previous_epoch_iterations = float(_num(opt.iterations)) if opt is not None \
                else 0.0
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    # ------------------------------------------------------------------ writing
    def _learning_rates(self, logs):
        opt = getattr(self.model, "optimizer", None)
        if hasattr(opt, "inner_optimizer"):
            opt = opt.inner_optimizer
        if opt is None:
            return logs
        if hasattr(opt, "optimizers"):
            for o in opt.optimizers:
                logs[f"learning_rate_{o.name}"] = float(_num(o.learning_rate))
        elif hasattr(opt, "learning_rate"):
            try:
                logs["learning_rate"] = float(_num(opt.learning_rate))
            except (TypeError, ValueError):
                pass
        return logs

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train = self._learning_rates(train)
        if self.write_steps_per_second and self._epoch_start_time is not None:
            opt = getattr(self.model, "optimizer", None)
            its = float(_num(opt.iterations)) if opt is not None else 0.0
            dt = max(time.time() - self._epoch_start_time, 1e-9)
            train["steps_per_second"] = (its - self._previous_epoch_iterations) / dt
        if train:
            with self._train_writer.as_default():
                for name, value in train.items():
                    if _is_scalar(value):
                        self._summary.scalar(f"epoch_{name}", _num(value), step=epoch)
        if val:
            with self._val_writer.as_default():
                for name, value in val.items():
                    if _is_scalar(value):
                        self._summary.scalar(f"epoch_{name}", _num(value), step=epoch)

    def _log_weights(self, epoch):
        with self._train_writer.as_default():
            for layer in self.model.layers:
                for w in layer.weights:
                    name = getattr(w, "path", None) or w.name
                    name = name.replace(":", "_")
                    value = to_host(w)
                    self._summary.histogram(f"{name}/histogram", value, step=epoch)
                    if self.write_images:
                        img = _weight_image(value)
                        if img is not None:
                            self._summary.image(f"{name}/image", img, step=epoch)

    def _write_model_graph(self):
        """The model's Keras config (TensorBoard's graph dashboard draws it), as Keras 3
        writes it, plus a GraphDef of its layers."""
        model = self.model
        with self._train_writer.as_default():
            try:
                config = model.to_json()
            except Exception:   # a subclassed model without get_config: no conceptual graph
                config = None
            if config is not None:
                keras_model_summary("keras", config, step=0)
            graph_def = _layer_graph_def(model)
            if graph_def is not None:
                self._summary.graph(graph_def)


def keras_model_summary(name, config_json, step=None):
    """Writes a model's JSON config with the `graph_keras_model` plugin tag."""
    from tenfold import summary
    from tensorboard.compat.proto import summary_pb2
    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = "graph_keras_model"
    md.plugin_data.content = b"1"
    return summary.write(name, np.array(config_json.encode("utf-8"), dtype=object), step=step,
                         metadata=md)


def _layer_graph_def(model):
    """A GraphDef with one node per layer, edges from the functional graph (or the layer order
    of a Sequential model)."""
    try:
        from tensorboard.compat.proto import graph_pb2
    except ImportError:
        return None
    layers = getattr(model, "layers", None)
    if not layers:
        return None
    g = graph_pb2.GraphDef()
    names = set()
    prev = None
    for layer in layers:
        node = g.node.add()
        node.name = layer.name
        node.op = type(layer).__name__
        names.add(layer.name)
        inputs = []
        for n in getattr(layer, "_inbound_nodes", [])[:1]:
            for x in getattr(n, "input_tensors", []):
                hist = getattr(x, "_keras_history", None)
                if hist is not None and hist[0].name in names:
                    inputs.append(hist[0].name)
        if not inputs and prev is not None and type(model).__name__ == "Sequential":
            inputs = [prev]
        node.input.extend(inputs)
        prev = layer.name
    return g


def _weight_image(w):
    if w.ndim == 1:
        img = w.reshape(1, -1)
    elif w.ndim == 2:
        img = w.T if w.shape[0] > w.shape[1] else w
    elif w.ndim == 4:
        k = w.reshape(w.shape[0], w.shape[1], -1)
        img = np.concatenate(list(np.moveaxis(k, -1, 0)), axis=1)
    else:
        return None
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return img[None, :, :, None].astype(np.float32)


def _num(v):
    if hasattr(v, "numpy"):
        v = to_host(v)[()]
    return np.asarray(v).item() if np.ndim(v) == 0 else v


def _is_scalar(v):
    try:
        a = to_host(v)
    except Exception:
        return False
    return a.ndim == 0 and a.dtype.kind in "biuf"
