"""Several replicas in one process: one thread per replica, synchronised in-process.

`strategy.run(fn)` with M local replicas runs `fn` once per replica, each in its own thread
holding that replica's `ReplicaContext`, as TensorFlow's MirroredStrategy does
(`mirrored_run.py`): the threads take turns - each runs until it reaches a synchronisation
point (`ReplicaContext.all_reduce`, `merge_call`, the optimizer's gradient aggregation) or
returns, then the next one runs. When every replica waits at the same point, the calling
thread does the cross-replica work once (the in-process reduction, then the cross-process one
over MPI when there are several workers, or `merge_fn`) and hands each replica its part.

Why turns rather than free-running threads: the replicas of a process share one variable
object per variable (tenfold keeps no per-device copies), so two replicas updating a metric or
a moving statistic at once would race; and inside `tf.function` the replicas record into one
graph, which records one thread at a time. Turns give the same program and the same numbers
on every run.

Failure: when a replica raises, every replica still waiting gets an `AbortedError` naming the
failed replica (raised at its synchronisation point, so it unwinds), and `run` raises the
original error. Replicas that disagree (one returns while another waits in `all_reduce`, or
they wait at different kinds of point) get an error naming both, instead of a deadlock.
"""
import threading

from tenfold.framework.state import STATE as _STATE


def _Abort(msg):
    """The AbortedError a waiting replica raises when another one failed."""
    from tenfold.framework import errors
    e = errors.AbortedError(None, None, msg)
    e._replica_aborted = True
    return e


def _is_abort(e):
    return getattr(e, "_replica_aborted", False)


class _ReplicaThread(threading.Thread):
    def __init__(self, runner, index, body):
        super().__init__(name=f"tf.distribute replica {index}", daemon=True)
        self.runner = runner
        self.index = index
        self.body = body
        self.turn = threading.Event()
        self.paused = threading.Event()
        self.request = None     # (kind, payload) while waiting at a synchronisation point
        self.reply = None
        self.reply_error = None
        self.result = None
        self.error = None
        self.done = False

    def run(self):
        self.turn.wait()
        self.turn.clear()
        try:
            self.result = self.body(self)
        except BaseException as e:  # handed to the calling thread
            self.error = e
        finally:
            self.done = True
            self.request = None
            self.paused.set()

    def sync(self, kind, payload):
        """Called in this replica's thread: waits until every replica is here and the calling
        thread has combined their payloads; returns this replica's part."""
        self.request = (kind, payload)
        self.paused.set()
        self.turn.wait()
        self.turn.clear()
        self.request = None
        if self.reply_error is not None:
            e, self.reply_error = self.reply_error, None
            raise e
        r, self.reply = self.reply, None
        return r


def _snapshot_state():
    """What a replica thread inherits from the caller's thread: the tracers recording a
    tf.function (so the replicas record into the same graph), the Python-value guard and
    variable hooks that go with them, name and device scopes."""
    from tenfold.graph.tracer import Tracer
    s = _STATE
    return {"tracers": list(s.tracers),
            "observers": [o for o in s.observers if isinstance(o, Tracer)],
            "concrete_guard": s.concrete_guard, "variable_hook": s.variable_hook,
            "name_stack": list(s.name_stack), "device_stack": list(s.device_stack),
            "backend": s.backend, "device_policy": s.device_policy}


def _install_state(snap):
    s = _STATE
    s.tracers[:] = snap["tracers"]
    s.observers[:] = snap["observers"]
    s.concrete_guard = snap["concrete_guard"]
    s.variable_hook = snap["variable_hook"]
    s.name_stack[:] = snap["name_stack"]
    s.device_stack[:] = snap["device_stack"]
    s.backend = snap["backend"]
    s.device_policy = snap["device_policy"]


def _record_from(tracers, ident):
    # A tracer records the ops of one thread (graph/tracer.py); the thread whose turn it is
    # records now. Only one thread runs at a time, so the graph is built as by one thread.
    for tr in tracers:
        if not hasattr(tr, "_thread"):  # the coupling to graph/tracer.py, checked loudly
            raise RuntimeError("tf.distribute: graph/tracer.py's Tracer no longer keeps the "
                               "`_thread` it records; update distribute/replicas.py.")
        tr._thread = ident


class ReplicaRunner:
    """Runs one function per local replica in threads, in turns (see the module docstring).
    `combine(kind, payloads) -> replies` does the cross-replica work in the calling thread."""

    def __init__(self, num_replicas, combine):
        self.n = num_replicas
        self.combine = combine

    def run(self, bodies):
        """`bodies[i](thread)` runs in replica i's thread; returns their results in order."""
        snap = _snapshot_state()
        tracers = snap["tracers"]
        me = threading.get_ident()
        threads = [_ReplicaThread(self, i, self._wrap(b, snap)) for i, b in enumerate(bodies)]
        for t in threads:
            t.start()
        failure = None  # (replica index, exception) of the first replica that raised
        try:
            while True:
                for t in threads:
                    if t.done:
                        continue
                    _record_from(tracers, t.ident)
                    try:
                        t.turn.set()
                        t.paused.wait()
                        t.paused.clear()
                    finally:
                        _record_from(tracers, me)
                if all(t.done for t in threads):
                    break
                if failure is None:
                    for t in threads:
                        if t.error is not None and not _is_abort(t.error):
                            failure = (t.index, t.error)
                            break
                waiting = [t for t in threads if not t.done]
                if failure is not None:
                    i, e = failure
                    for t in waiting:
                        t.reply_error = _Abort(
                            f"tf.distribute: replica {i} raised {type(e).__name__}: {e}; "
                            f"replica {t.index} stops at its "
                            f"{t.request[0] if t.request else 'next'} step.")
                    continue
                self._exchange(threads, waiting)
        except BaseException:
            for t in threads:  # never leave a replica thread waiting forever
                if not t.done:
                    t.reply_error = _Abort("tf.distribute: strategy.run was interrupted.")
                    t.turn.set()
            raise
        for t in threads:
            t.join()
        if failure is None:
            for t in threads:
                if t.error is not None:
                    failure = (t.index, t.error)
                    break
        if failure is not None:
            raise failure[1]
        return [t.result for t in threads]

    def _exchange(self, threads, waiting):
        if len(waiting) != len(threads):
            done = [t.index for t in threads if t.done]
            for t in waiting:
                t.reply_error = _Abort(
                    f"tf.distribute: replica {t.index} waits in {t.request[0]} but replica"
                    f"{'s' if len(done) > 1 else ''} {', '.join(map(str, done))} returned "
                    "without calling it: every replica must make the same collective calls in "
                    "the same order.")
            return
        kinds = [t.request[0] for t in threads]
        if len(set(kinds)) > 1:
            shown = ", ".join(f"replica {t.index} in {k}" for t, k in zip(threads, kinds))
            for t in threads:
                t.reply_error = _Abort(f"tf.distribute: the replicas reached different "
                                       f"collective calls ({shown}): every replica must make "
                                       "the same calls in the same order.")
            return
        try:
            replies = self.combine(kinds[0], [t.request[1] for t in threads])
        except BaseException as e:
            for t in threads:  # every replica gets the combining error
                t.reply_error = e
            return
        for t, r in zip(threads, replies):
            t.reply = r

    @staticmethod
    def _wrap(body, snap):
        def run(thread):
            _install_state(snap)
            return body(thread)
        return run
