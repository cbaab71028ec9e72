"""`keras.utils.Progbar`: the progress bar of `fit` (`469/469 ━━━━ 2s 4ms/step - loss: 0.27`).

On a terminal (or in a notebook) the line is redrawn in place, with an ETA while running. When
stdout is not a terminal (a log file, CI) only the finished line of each epoch is printed, so
logs stay one line per epoch. verbose=2 prints one plain line per epoch.
"""
import math
import os
import sys
import time

import numpy as np


def print_msg(message, line_break=True):
    if line_break:
        sys.stdout.write(message + "\n")
    else:
        sys.stdout.write(message)
    sys.stdout.flush()


def _is_interactive():
    out = sys.stdout
    try:
        if hasattr(out, "isatty") and out.isatty():
            return True
    except ValueError:  # closed stream
        return False
    return "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


def _to_float(v):
    if isinstance(v, (int, float)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        try:
            return np.asarray(v).tolist()
        except Exception:  # noqa: BLE001 - leave it as it is
            return v


def pythonify_logs(logs):
    """Log values as Python numbers, nested dicts flattened, keys sorted (as Keras)."""
    out = {}
    if not logs:
        return out
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            out.update(pythonify_logs(value))
        else:
            out[key] = _to_float(value)
    return out


class Progbar:
    """Displays a progress bar. `update(current, values)` with `values` a list of
    `(name, value)`; `add(n, values)` advances by n."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be "
                             "provided.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics = set(stateful_metrics)
            self.stateless_metrics = None
        elif stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set()
            self.stateless_metrics = None
        self._dynamic_display = _is_interactive()
        self._seen_so_far = 0
        self._averages = {}
        self._order_of_keys = []
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _is_stateless(self, k):
        if self.stateful_metrics is not None:
            return k not in self.stateful_metrics
        return k in self.stateless_metrics

    def update_lazy(self, current, logs):
        """`update` for logs of tensors: converts them only if a line will be drawn now."""
        if not self._dynamic_display or self.verbose != 1 or \
                time.time() - self._last_update < self.interval:
            self._note_step(current)
            self._seen_so_far = current
            return
        self.update(current, list(pythonify_logs(logs).items()) if logs else None,
                    finalize=False)

    def _note_step(self, current):
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = time.time()

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        values = values or []
        for k, v in values:
            if k not in self._order_of_keys:
                self._order_of_keys.append(k)
            if self._is_stateless(k) and not finalize:
                base = max(current - self._seen_so_far, 1)
                if k not in self._averages:
                    self._averages[k] = [v * base, base]
                else:
                    self._averages[k][0] += v * base
                    self._averages[k][1] += base
            else:
                self._averages[k] = [v, 1]
        self._seen_so_far = current
        now = time.time()
        time_per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if not finalize and (now - self._last_update < self.interval or
                                 not self._dynamic_display):
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            nd = int(math.log10(self.target)) + 1
            info = f"%{nd}d/%d" % (current, self.target)
            info += f" - {now - self._start:.0f}s -{self._format_time(time_per_unit)}"
            info += self._averages_text()
            print_msg(info)
        self._last_update = now

    def _averages_text(self):
        info = ""
        for k in self._order_of_keys:
            info += f" - {k}:"
            val = self._averages[k]
            if isinstance(val, list):
                total, count = val
                if isinstance(total, (list, tuple, np.ndarray)):
                    total = float(np.mean(total))
                try:
                    avg = total / max(1, count)
                except TypeError:
                    info += f" {total}"
                    continue
                info += f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}"
            else:
                info += f" {val}"
        return info

    def _draw(self, current, now, time_per_unit, finalize):
        color = self._dynamic_display
        bold = (lambda s: f"\x1b[1m{s}\x1b[0m") if color else (lambda s: s)
        msg = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else ""
        special = 0
        if self.target is not None and self.target > 0:
            nd = int(math.log10(self.target)) + 1
            count = f"%{nd}d/%d" % (current, self.target)
            prog_width = int(self.width * min(current, self.target) / self.target)
            if color:
                bar = f"\x1b[1m{count}\x1b[0m "
                special += 8
                if prog_width > 0:
                    bar += f"\x1b[32m{'━' * prog_width}\x1b[0m"
                    special += 9
                bar += f"\x1b[37m{'━' * (self.width - prog_width)}\x1b[0m"
                special += 9
            else:
                bar = f"{count} " + "━" * prog_width + "─" * (self.width - prog_width)
        else:
            bar = "%7d/Unknown" % current
        if self.target is not None and self.target > 0 and not finalize:
            eta = time_per_unit * (self.target - current)
            if eta > 3600:
                eta_s = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_s = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_s = "%ds" % eta
            info = " " + bold(eta_s)
        else:
            info = " " + bold(f"{now - self._start:.0f}s")
        if color:
            special += 8
        info += self._format_time(time_per_unit)
        info += self._averages_text()
        total_width = len(bar) + len(info) - special
        if self._prev_total_width > total_width:
            info += " " * (self._prev_total_width - total_width)
        msg += bar + info
        if finalize:
            msg += "\n"
        print_msg(msg, line_break=False)
        self._prev_total_width = total_width

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _format_time(self, t):
        u = self.unit_name
        if t >= 1 or t == 0:
            return f" {t:.0f}s/{u}"
        if t >= 1e-3:
            return f" {t * 1e3:.0f}ms/{u}"
        return f" {t * 1e6:.0f}us/{u}"

    def _step_duration(self, current, now):
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per
