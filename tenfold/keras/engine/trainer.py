"""The training loop: `compile`, `fit`, `evaluate`, `predict` and the `*_on_batch` methods.

One training step is one Python function, `train_step(data)`, that takes a batch
`(x,)` / `(x, y)` / `(x, y, sample_weight)` of Tensors and returns the logs dict. The loop
gets the function it calls from `make_train_function()` (and `make_test_function()`,
`make_predict_function()`): they return the plain step functions here, and are the hook where
`tenfold.function` compiles the step when `run_eagerly` is False. Per batch, the loop does
only: slice the batch, call the step function, call the callbacks that listen per batch.
"""
import inspect
import sys
import warnings

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.keras.engine import data_adapter as da
from tenfold.keras.engine import nan_guard
from tenfold.keras.engine import beginner_hints
from tenfold.keras.engine.compile_utils import CompileLoss, CompileMetrics
from tenfold.util import nest
from tenfold.util.tensor_meta import npd
from tenfold.framework.host import to_host
from tenfold.graph import executor as _executor


def _keeps_update_running(model, adapter, cbs):
    """Whether fit's loop may let a step's optimizer update (its C work on the pool) run on
    past the step, into the loop's own code between steps (graph/executor.keeping_started):
    where nothing there reads the weights: batches sliced from arrays (no user code makes
    them) and no per-batch callback other than the progress bar."""
    from tenfold.keras.callbacks.progbar_logger import ProgbarLogger
    dist = _dist()
    if type(adapter) is not da.ArrayAdapter or not hasattr(cbs, "_who") or \
            dist is not None and dist.strategy_of(model) is not None:
        return False
    for hook in ("on_batch_begin", "on_batch_end", "on_train_batch_begin",
                 "on_train_batch_end"):
        if any(type(cb) is not ProgbarLogger for cb in cbs._who(hook)):
            return False
    return True


def _dist():
    """tf.distribute's Keras hooks (tenfold/distribute/keras_hooks.py), or None when
    tenfold.distribute was never imported (then no strategy can be in use)."""
    if "tenfold.distribute.strategy" not in sys.modules:
        return None
    from tenfold.distribute import keras_hooks
    return keras_hooks


def _callbacks_module():
    from tenfold.keras import callbacks
    return callbacks


class _CallableLossName(str):
    """`model.loss` when compiled with a loss *name*: still the string, and callable as the
    resolved loss (`model.loss(y_true, y_pred)`, as tf.keras code writes it)."""

    def __new__(cls, name, model):
        s = super().__new__(cls, name)
        s._model = model
        return s

    def __call__(self, y_true, y_pred, sample_weight=None):
        from tenfold.keras.engine.compile_utils import get_loss
        fn = getattr(self, "_fn", None)
        if fn is None:
            fn = get_loss(str(self), None, None)  # reduced, as a Loss object
            self._fn = fn
        return fn(y_true, y_pred, sample_weight)


def _batch_size_of(x):
    for t in nest.flatten(x):
        if t is not None and hasattr(t, "shape") and len(t.shape):
            return int(t.shape[0])
    return None


def _to_numpy(t):
    return to_host(t)  # predictions / logs leave the model here


class Trainer:
    """Mixed into `Model`: the Keras 3 training API."""

    def _init_trainer(self):
        d = self.__dict__
        d.setdefault("compiled", False)
        d.setdefault("optimizer", None)
        d.setdefault("loss", None)
        d.setdefault("_compile_loss", None)
        d.setdefault("_compile_metrics", None)
        d.setdefault("_loss_tracker", None)
        d.setdefault("_run_eagerly", False)
        d.setdefault("_jit_compile", None)
        d.setdefault("steps_per_execution", 1)
        d.setdefault("train_function", None)
        d.setdefault("test_function", None)
        d.setdefault("predict_function", None)
        d.setdefault("stop_training", False)
        d.setdefault("history", None)

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures the model for training (Keras 3's signature and defaults)."""
        from tenfold.keras import optimizers
        self._init_trainer()
        try:
            opt = optimizers.get(optimizer)
        except ValueError as e:
            raise ValueError(f"compile(): could not interpret optimizer={optimizer!r}. {e}") \
                from None
        self.optimizer = opt
        if auto_scale_loss and getattr(self.dtype_policy, "name", None) == "mixed_float16" \
                and opt is not None:
            lso = _loss_scale_optimizer_class()
            if lso is not None and not isinstance(opt, lso):
                self.optimizer = lso(opt, name="loss_scale_optimizer")
        from tenfold.keras.engine import name_checks
        name_checks.check_loss_names(loss)  # typos reported here, not inside fit
        name_checks.check_metric_names(metrics, weighted_metrics)
        output_names = getattr(self, "output_names", None)
        # As Keras 3: compiling again without a loss / metrics keeps the previous ones.
        if loss is not None:
            self._compile_loss = CompileLoss(loss, loss_weights, output_names=output_names)
            if isinstance(loss, str):
                loss = _CallableLossName(loss, self)
            self.loss = loss
        if metrics is not None or weighted_metrics is not None:
            self._compile_metrics = CompileMetrics(metrics, weighted_metrics,
                                                   output_names=output_names)
        if jit_compile == "auto":  # Numba kernels when installed (tenfold/jit)
            from tenfold import jit as _jit
            jit_compile = _jit.installed() and not run_eagerly
        if jit_compile and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                          "Disabling `jit_compile`.", stacklevel=2)
            jit_compile = False
        self._jit_compile = jit_compile
        self._run_eagerly = bool(run_eagerly)
        self.stop_training = False
        self.compiled = True
        if _dist() is not None:  # tf.distribute: train with the strategy in scope
            _dist().record_strategy(self)
        from tenfold.keras import metrics as metrics_module
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.steps_per_execution = int(steps_per_execution or 1)
        self.train_function = None
        self.test_function = None
        self.predict_function = None
        self._compile_config = dict(optimizer=optimizer, loss=self.loss,
                                    loss_weights=loss_weights, metrics=metrics,
                                    weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
                                    steps_per_execution=steps_per_execution,
                                    jit_compile=jit_compile)

    @property
    def run_eagerly(self):
        return self.__dict__.get("_run_eagerly", False)

    @run_eagerly.setter
    def run_eagerly(self, value):
        self.__dict__["_run_eagerly"] = bool(value)
        self.__dict__["train_function"] = None
        self.__dict__["test_function"] = None
        self.__dict__["predict_function"] = None

    @property
    def jit_compile(self):
        return bool(self.__dict__.get("_jit_compile") or False)

    @jit_compile.setter
    def jit_compile(self, value):
        self.__dict__["_jit_compile"] = value

    @property
    def compiled_loss(self):
        """The compiled loss as a callable `(y_true, y_pred, sample_weight=None,
        regularization_losses=None)` (tf.keras's `self.compiled_loss`)."""
        model = self

        def compiled_loss(y, y_pred, sample_weight=None, regularization_losses=None):
            return model.compute_loss(x=None, y=y, y_pred=y_pred, sample_weight=sample_weight)
        return compiled_loss

    @property
    def compiled_metrics(self):
        """tf.keras's `self.compiled_metrics` (deprecated in Keras 3): `update_state(y, y_pred,
        sample_weight)` updates every metric in `model.metrics` as Keras 3 does - `Mean`
        metrics (the loss tracker among them) get `update_state(y_pred, sample_weight)`, so the
        logged "loss" is then the mean prediction, exactly as in TensorFlow."""
        model = self

        class _CompiledMetrics:
            def update_state(self, y, y_pred, sample_weight=None):
                warnings.warn("`model.compiled_metrics()` is deprecated. Instead, use e.g.:\n"
                              "```\nfor metric in self.metrics:\n    metric.update_state(y, "
                              "y_pred)\n```\n", stacklevel=2)
                from tenfold.keras.metrics import Mean
                for metric in model.metrics:
                    if isinstance(metric, Mean):
                        metric.update_state(y_pred, sample_weight=sample_weight)
                    else:
                        metric.update_state(y, y_pred, sample_weight=sample_weight)

            def reset_state(self):
                if model._compile_metrics is not None:
                    model._compile_metrics.reset_state()

            @property
            def metrics(self):
                cm = model._compile_metrics
                return cm.metrics if cm is not None else []
        return _CompiledMetrics()

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self):
        """The loss tracker, the compiled metrics, and metrics tracked on the model/layers."""
        cache = self.__dict__.get("_loop_cache")
        if cache is not None and cache.metrics is not None:
            return cache.metrics
        out = []
        if self.__dict__.get("compiled"):
            if self._loss_tracker is not None:
                out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
            if self._compile_loss is not None:
                out.extend(self._compile_loss.metrics)
        out.extend(_tracked_metrics(self))
        for layer in self._flatten_layers(include_self=False):
            if isinstance(layer, Trainer):
                continue
            out.extend(_tracked_metrics(layer))
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    @property
    def metrics_variables(self):
        out = []
        for m in self.metrics:
            out.extend(getattr(m, "variables", []))
        return out

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        if _dist() is not None:  # tf.distribute: metrics summed over the workers
            out = _dist().global_metrics_result(self)
            if out is not None:
                return out
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    # ------------------------------------------------------------------ loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss plus the model's additional losses (regularizers, add_loss)."""
        losses = []
        if self._compile_loss is not None:
            loss = self._compile_loss(y, y_pred, sample_weight)
            if loss is not None:
                losses.append(loss)
        for extra in self._step_losses():
            losses.append(_aggregate(extra))
        if not losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`, "
                             "e.g. model.compile(optimizer='adam', loss='mse').")
        total = losses[0]
        if len(losses) > 1:
            from tenfold.ops import math_ops
            total = math_ops.add_n(losses)
        if _dist() is not None:  # tf.distribute: / num_replicas_in_sync, as Keras 3
            total = _dist().scale_loss(total)
        return total

    def _compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        fn = self.compute_loss
        has_training = self.__dict__.get("_cl_has_training")
        if has_training is None:
            try:
                has_training = "training" in inspect.signature(fn).parameters
            except (TypeError, ValueError):
                has_training = False
            self.__dict__["_cl_has_training"] = has_training
        if has_training:
            return fn(x, y, y_pred, sample_weight, training=training)
        return fn(x, y, y_pred, sample_weight)

    def _step_losses(self):
        """`self.losses`, without re-walking the layer tree each step during fit/evaluate."""
        cache = self.__dict__.get("_loop_cache")
        if cache is None or cache.loss_plan is None:
            return self.losses
        layers, regs = cache.loss_plan
        out = []
        for layer in layers:
            if layer._losses:
                out.extend(layer._losses)
        for v, reg in regs:
            out.append(reg(v))
        return out

    def _start_loop(self, training):
        """Caches what does not change during one fit/evaluate (as Keras fixes the trainable
        variables at compile time): the trainable weights, the metrics, the loss sources."""
        d = self.__dict__
        d.pop("_loop_cache", None)
        cache = _LoopCache()
        if training:
            cache.weights = list(self.trainable_weights)
        cl = self._compile_loss
        if "metrics" not in _own_attrs(type(self)) and (cl is None or cl.built):
            cache.metrics = list(self.metrics)
        if "losses" not in _own_attrs(type(self)):
            layers = self._flatten_layers()
            regs = []
            for layer in layers:
                for v in layer._own_vars():
                    reg = getattr(v, "regularizer", None)
                    if reg is not None and v.trainable:
                        regs.append((v, reg))
            cache.loss_plan = (layers, regs)
        d["_loop_cache"] = cache

    def _end_loop(self):
        self.__dict__.pop("_loop_cache", None)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # ------------------------------------------------------------------ steps
    def train_step(self, data):
        """One gradient step on one batch; returns the logs (metric results)."""
        from tenfold.autodiff.tape import GradientTape
        x, y, sample_weight = da.unpack_x_y_sample_weight(data)
        opt = self.optimizer
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                      training=True)
            scaled = opt.scale_loss(loss) if opt is not None and hasattr(opt, "scale_loss") \
                else loss
        self._loss_tracker.update_state(_unscaled(loss), sample_weight=_batch_size_of(x))
        cache = self.__dict__.get("_loop_cache")
        weights = cache.weights if cache is not None else None
        if weights is None:
            weights = self.trainable_weights
        if weights:
            grads = tape.gradient(scaled, weights)
            opt.apply_gradients(zip(grads, weights))
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        x, y, sample_weight = da.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=False)
        self._loss_tracker.update_state(_unscaled(loss), sample_weight=_batch_size_of(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        x, _, _ = da.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # The hooks tf.function plugs into: each returns a callable taking ONE batch.
    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        self.train_function = self.train_step
        if not self.run_eagerly:  # compiled with tf.function (tenfold/keras/engine/compiled_steps.py)
            from tenfold.keras.engine.compiled_steps import compile_step
            self.train_function = compile_step(self, self.train_step, "train_function")
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is not None and not force:
            return self.test_function
        self.test_function = self.test_step
        if not self.run_eagerly:  # compiled with tf.function (tenfold/keras/engine/compiled_steps.py)
            from tenfold.keras.engine.compiled_steps import compile_step
            self.test_function = compile_step(self, self.test_step, "test_function")
        return self.test_function

    def make_predict_function(self, force=False):
        if self.predict_function is not None and not force:
            return self.predict_function
        self.predict_function = self.predict_step
        if not self.run_eagerly:  # compiled with tf.function (tenfold/keras/engine/compiled_steps.py)
            from tenfold.keras.engine.compiled_steps import compile_step
            self.predict_function = compile_step(self, self.predict_step, "predict_function")
        return self.predict_function

    # ------------------------------------------------------------------ helpers
    def _assert_compile_called(self, method_name):
        if not self.__dict__.get("compiled"):
            raise ValueError(
                f"You must call `compile()` before calling `{method_name}()`: e.g. "
                "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', "
                "metrics=['accuracy']).")

    def _prepare(self, batch, training):
        """Builds what the first batch decides: the model's layers, the compiled loss and
        metrics (checking targets against outputs), the optimizer's slots."""
        if batch is None:
            return
        x, y, sw = da.unpack_x_y_sample_weight(batch)
        need_model = self._model_needs_build() if hasattr(self, "_model_needs_build") else \
            not self.built
        need_loss = self._compile_loss is not None and not self._compile_loss.built and \
            y is not None
        need_metrics = self._compile_metrics is not None and not self._compile_metrics.built \
            and y is not None
        if need_model or need_loss or need_metrics:
            from tenfold.keras.engine.symbolic import probe_run
            with probe_run() as probe:  # Keras builds from symbolic tensors: leave no trace
                if need_model and hasattr(self, "_build_from_batch"):
                    self._build_from_batch(x)
                probe.keep(self.weights)
                try:
                    y_pred = self(x, training=False)
                except NotImplementedError:
                    y_pred = None  # no call(): a custom train_step drives sub-models itself
                if y_pred is not None and need_loss:
                    self._compile_loss.build(y, y_pred)
                if y_pred is not None and need_metrics:
                    self._compile_metrics.build(y, y_pred)
        opt = self.optimizer
        if training and opt is not None and hasattr(opt, "build") and \
                not getattr(opt, "built", True):
            try:
                opt.build(self.trainable_variables)
            except (TypeError, NotImplementedError):
                pass

    def _get_metrics_result_or_logs(self, logs):
        metric_logs = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(metric_logs):
            return metric_logs
        return logs

    def _flatten_metrics_in_order(self, logs):
        names = []
        for m in self.metrics:
            if isinstance(m, CompileMetrics):
                for sub in m.metrics:
                    names.append(sub.name)
            else:
                names.append(m.name)
        out = [logs[n] for n in names if n in logs]
        out += [logs[k] for k in sorted(logs) if k not in names]
        return out[0] if len(out) == 1 else out

    def _make_callbacks(self, callbacks, verbose, epochs, steps, add_history):
        cbm = _callbacks_module()
        if isinstance(callbacks, cbm.CallbackList):
            cbl = callbacks
        else:
            cbl = cbm.CallbackList(callbacks, add_history=add_history,
                                   add_progbar=verbose != 0, verbose=verbose, epochs=epochs,
                                   steps=steps, model=self)
        if _dist() is not None:  # tf.distribute: worker 0 alone writes; sync at train begin
            cbl = _dist().callbacks_for_worker(self, cbl)
        return cbl

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains the model for a number of epochs; returns a `History`."""
        self._assert_compile_called("fit")
        beginner_hints.check_string_targets(y, "fit")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = da.train_validation_split(
                (x, y, sample_weight), validation_split)
        val = None
        if validation_data is not None:
            val = self._unpack_validation(validation_data)
        adapter = da.get_adapter(x, y, sample_weight, batch_size=batch_size,
                                 steps=steps_per_epoch, shuffle=shuffle,
                                 class_weight=class_weight, what="fit")
        if _dist() is not None:  # tf.distribute: this worker's rows of each global batch
            adapter = _dist().shard_adapter(self, adapter)
        with nan_guard.quiet_numpy():
            self._prepare(adapter.peek(), training=True)
        cbs = self._make_callbacks(callbacks, verbose, epochs, adapter.num_batches, True)
        self.stop_training = False
        train_function = self.make_train_function()
        if _dist() is not None:  # tf.distribute: replica context, global logs
            train_function = _dist().wrap_step(self, train_function)
        self._start_loop(training=True)
        try:
            with nan_guard.quiet_numpy():   # non-finite values are reported by the guard
                return self._fit_loop(adapter, cbs, train_function, epochs, initial_epoch, val,
                                      validation_freq, validation_batch_size, batch_size,
                                      validation_steps)
        finally:
            self._end_loop()

    def _fit_loop(self, adapter, cbs, train_function, epochs, initial_epoch, val,
                  validation_freq, validation_batch_size, batch_size, validation_steps):
        cbs.on_train_begin()
        # BackupAndRestore (saving package) sets `_initial_epoch` in on_train_begin (Keras 3).
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        training_logs = None
        logs = {}
        val_adapter = None
        guard = nan_guard.FitGuard(self, cbs)   # one float check of the loss per batch
        loss_watch = beginner_hints.LossWatch(self)  # warns once if the loss explodes
        keep = _keeps_update_running(self, adapter, cbs)
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            step = -1
            batches = da.DeviceBatches(adapter)
            with _executor.keeping_started(keep):
                for step, data in enumerate(batches):
                    cbs.on_train_batch_begin(step)
                    logs = train_function(data)
                    batches.fetch_ahead()  # the next batch to the device while this step runs
                    guard.check(logs, data, epoch, step)
                    cbs.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
            if step < 0 and getattr(adapter, "ran_out", False):
                self.stop_training = True
                break
            epoch_logs = dict(self._get_metrics_result_or_logs(logs))
            if val is not None and self._should_eval(epoch, validation_freq):
                if val_adapter is None:
                    vx, vy, vsw = val
                    val_adapter = da.get_adapter(vx, vy, vsw,
                                                 batch_size=validation_batch_size or batch_size,
                                                 steps=validation_steps, shuffle=False,
                                                 what="fit(validation_data=...)")
                else:
                    val_adapter.reset()  # as Keras: each validation starts from batch one
                val_logs = self._evaluate_adapter(val_adapter, cbs)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            loss_watch.epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        opt = self.optimizer
        if epochs > initial_epoch and hasattr(opt, "finalize_variable_values"):
            opt.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(logs=training_logs)
        return self.history

    def _unpack_validation(self, validation_data):
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) not in (2, 3):
                raise ValueError("`validation_data` should be a tuple `(x_val, y_val)` or "
                                 "`(x_val, y_val, val_sample_weights)`, or a dataset; received "
                                 f"a {type(validation_data).__name__} of "
                                 f"{len(validation_data)} elements.")
            return da.unpack_x_y_sample_weight(tuple(validation_data))
        return validation_data, None, None

    @staticmethod
    def _should_eval(epoch, validation_freq):
        epoch = epoch + 1
        if isinstance(validation_freq, int):
            return epoch % validation_freq == 0
        if isinstance(validation_freq, (list, tuple, set)):
            return epoch in validation_freq
        raise ValueError("Expected `validation_freq` to be a list or int. Received: "
                         f"validation_freq={validation_freq!r}")

    # ------------------------------------------------------------------ evaluate
    @nan_guard.quiet
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on the data: a scalar, a list, or a dict with return_dict."""
        self._assert_compile_called("evaluate")
        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        adapter = da.get_adapter(x, y, sample_weight, batch_size=batch_size, steps=steps,
                                 shuffle=False, what="evaluate")
        if _dist() is not None:  # tf.distribute: this worker's rows of each global batch
            adapter = _dist().shard_adapter(self, adapter)
        self._prepare(adapter.peek(), training=False)
        cbs = self._make_callbacks(callbacks, verbose, 1, adapter.num_batches, False)
        self._start_loop(training=False)
        try:
            logs = self._evaluate_adapter(adapter, cbs)
        finally:
            self._end_loop()
        if return_dict:
            return logs
        return self._flatten_metrics_in_order(logs)

    def _evaluate_adapter(self, adapter, cbs):
        test_function = self.make_test_function()
        if _dist() is not None:  # tf.distribute: sharded batches, global logs
            adapter = _dist().shard_adapter(self, adapter)
            test_function = _dist().wrap_step(self, test_function)
        self.stop_evaluating = False
        cbs.on_test_begin()
        logs = {}
        self.reset_metrics()
        batches = da.DeviceBatches(adapter)
        for step, data in enumerate(batches):
            cbs.on_test_batch_begin(step)
            logs = test_function(data)
            batches.fetch_ahead()
            cbs.on_test_batch_end(step, logs)
            if self.stop_evaluating:
                break
        from tenfold.keras.utils.progbar import pythonify_logs
        logs = pythonify_logs(self._get_metrics_result_or_logs(logs))
        cbs.on_test_end(logs)
        return logs

    # ------------------------------------------------------------------ predict
    @nan_guard.quiet
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for the inputs, as NumPy arrays concatenated over batches."""
        beginner_hints.check_batch_axis(self, x, "predict")
        adapter = da.get_adapter(x, None, None, batch_size=batch_size, steps=steps,
                                 shuffle=False, what="predict")
        cbs = self._make_callbacks(callbacks, verbose, 1, adapter.num_batches, False)
        predict_function = self.make_predict_function()
        if _dist() is not None:  # tf.distribute: predict a share, gather all in order
            adapter = _dist().shard_adapter(self, adapter)
            predict_function = _dist().wrap_predict(self, predict_function)
        self.stop_predicting = False
        cbs.on_predict_begin()
        outputs = None
        struct = None
        batches = da.DeviceBatches(adapter)
        for step, data in enumerate(batches):
            cbs.on_predict_batch_begin(step)
            batch_out = predict_function(data)
            batches.fetch_ahead()
            if struct is None:
                struct = batch_out
                outputs = [[] for _ in nest.flatten(batch_out)]
            for acc, t in zip(outputs, nest.flatten(batch_out)):
                acc.append(_to_numpy(t))
            cbs.on_predict_batch_end(step, {"outputs": batch_out})
            if self.stop_predicting:
                break
        cbs.on_predict_end()
        if struct is None:
            raise ValueError("Unexpected result of `predict_function` (Empty batch_outputs). "
                             "Please use `Model.compile(..., run_eagerly=True)`, or "
                             "`tf.config.run_functions_eagerly(True)` for more information "
                             "of where went wrong, or file a issue/bug to `tf.keras`. "
                             "The input data had no batches: is it empty?")
        flat = [np.concatenate(parts, axis=0) if parts[0].ndim else np.stack(parts)
                for parts in outputs]
        return nest.pack_sequence_as(struct, flat) if nest.is_nested(struct) else flat[0]

    # ------------------------------------------------------------------ on_batch
    def _single_batch(self, x, y, sample_weight):
        data = da.standardize_batch(da.pack_x_y_sample_weight(
            _as_arrays(x), _as_arrays(y), _as_arrays(sample_weight)))
        return data

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        self._assert_compile_called("train_on_batch")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Arguments `sample_weight` and `class_weight` cannot be "
                                 "specified at the same time.")
            sample_weight = da.class_weight_to_sample_weights(nest.flatten(y)[0], class_weight)
        data = self._single_batch(x, y, sample_weight)
        self._prepare(data, training=True)
        fn = self.make_train_function()
        if _dist() is not None:  # tf.distribute: this worker's rows, global logs
            data, fn = _dist().on_batch(self, data, fn)
        self.reset_metrics()
        from tenfold.keras.utils.progbar import pythonify_logs
        logs = pythonify_logs(fn(data))
        if return_dict:
            return logs
        return self._flatten_metrics_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compile_called("test_on_batch")
        data = self._single_batch(x, y, sample_weight)
        self._prepare(data, training=False)
        fn = self.make_test_function()
        if _dist() is not None:  # tf.distribute: this worker's rows, global logs
            data, fn = _dist().on_batch(self, data, fn)
        self.reset_metrics()
        from tenfold.keras.utils.progbar import pythonify_logs
        logs = pythonify_logs(fn(data))
        if return_dict:
            return logs
        return self._flatten_metrics_in_order(logs)

    def predict_on_batch(self, x):
        fn = self.make_predict_function()
        out = fn(self._single_batch(x, None, None))
        return nest.map_structure(_to_numpy, out) if nest.is_nested(out) else _to_numpy(out)

    # ------------------------------------------------------------------ config
    def get_compile_config(self):
        if self.__dict__.get("compiled") and hasattr(self, "_compile_config"):
            from tenfold.keras.engine.serialization import serialize_compile_config
            return serialize_compile_config(self._compile_config)
        return {}

    def compile_from_config(self, config):
        if type(self).compile is not Trainer.compile:
            warnings.warn("`compile()` was not called as part of model loading because the "
                          "model's `compile()` method is custom. Call `compile()` manually "
                          "after loading.", stacklevel=2)
            return
        from tenfold.keras.engine.serialization import deserialize_compile_config
        self.compile(**deserialize_compile_config(config))
        opt = self.optimizer
        if opt is not None and self.built and hasattr(opt, "build"):
            opt.build(self.trainable_variables)


def _unscaled(loss):
    """The loss as logged: undoes tf.distribute's 1 / num_replicas_in_sync scaling."""
    return loss if _dist() is None else _dist().unscale_loss(loss)


def _as_arrays(v):
    if v is None:
        return None
    if isinstance(v, (Tensor, np.ndarray)):
        return v
    if isinstance(v, dict):
        return {k: _as_arrays(a) for k, a in v.items()}
    if isinstance(v, (list, tuple)) and v and isinstance(v[0], (np.ndarray, Tensor, list,
                                                                 dict)) and \
            not all(isinstance(e, (int, float)) for e in nest.flatten(v)):
        if all(isinstance(e, (np.ndarray, Tensor)) for e in v):
            return list(v)
    return np.asarray(v)


class _LoopCache:
    """What one fit/evaluate reuses every step. Not a list or dict, so attribute tracking
    (which looks into containers for variables and layers) never sees inside it."""
    __slots__ = ("weights", "metrics", "loss_plan")

    def __init__(self):
        self.weights = None
        self.metrics = None
        self.loss_plan = None


def _own_attrs(cls):
    """Attribute names defined by user classes (above tenfold's own classes in the MRO)."""
    out = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("tenfold.keras."):
            break
        out.update(klass.__dict__)
    return out


def _aggregate(loss):
    from tenfold.framework.tensor import convert_to_tensor
    from tenfold.ops import math_ops
    t = loss if isinstance(loss, Tensor) else convert_to_tensor(loss)
    if npd(t).kind != "f":
        from tenfold.keras import backend
        t = math_ops.cast(t, backend.floatx())
    elif npd(t) != np.float32:
        t = math_ops.cast(t, "float32")
    if t.ndim:
        t = math_ops.reduce_sum(t)
    return t


def _metric_class():
    try:
        from tenfold.keras.metrics import Metric
        return Metric
    except (ImportError, AttributeError):
        return None


_SKIP = frozenset({"_loss_tracker", "_compile_metrics", "_compile_loss", "optimizer", "history",
                   "_functional", "loss"})


def _tracked_metrics(obj):
    """Metric objects assigned as attributes (also in lists/dicts), as Keras 3 tracks them."""
    cls = _metric_class()
    if cls is None:
        return []
    out = []
    for k, v in obj.__dict__.items():
        if k in _SKIP:
            continue
        if isinstance(v, cls):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(m for m in v if isinstance(m, cls))
        elif isinstance(v, dict):
            out.extend(m for m in v.values() if isinstance(m, cls))
    return out


def _loss_scale_optimizer_class():
    for mod, name in (("tenfold.keras.optimizers", "LossScaleOptimizer"),
                      ("tenfold.keras.mixed_precision", "LossScaleOptimizer")):
        try:
            m = __import__(mod, fromlist=[name])
            c = getattr(m, name, None)
            if c is not None:
                return c
        except ImportError:
            continue
    return None
