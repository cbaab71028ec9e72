"""Background threads: `prefetch` (a producer thread and a bounded queue) and parallel `map`
(a thread pool with a bounded window of pending calls). NumPy releases the GIL in its copies
and kernels, so the producer overlaps with the training step.

Both stop their threads when the consuming iterator is closed or garbage-collected, and both
re-raise an error from the producer in the consumer, at the element where it happened.
"""
import collections
import concurrent.futures as cf
import queue
import threading

_POLL = 0.1
_ITEM, _END, _ERROR = 0, 1, 2


def prefetch(make_iter, buffer_size):
    """Runs `make_iter()` in a daemon thread, keeping up to `buffer_size` elements ready."""
    q = queue.Queue(maxsize=buffer_size)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def worker():
        try:
            it = make_iter()
            try:
                for e in it:
                    if not put((_ITEM, e)):
                        return
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((_ERROR, exc))

    thread = threading.Thread(target=worker, name="tenfold.data.prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == _ITEM:
                yield value
            elif kind == _END:
                return
            else:
                raise value
    finally:
        stop.set()


def parallel_map(source, fn, num_threads, deterministic):
    """`fn(element, index)` over `source` in a pool of `num_threads`; in order unless
    `deterministic` is False (then as soon as each result is ready)."""
    pool = cf.ThreadPoolExecutor(max_workers=num_threads,
                                 thread_name_prefix="tenfold.data.map")
    window = max(2 * num_threads, 2)
    pending = collections.deque()
    try:
        it = enumerate(source)
        if deterministic:
            for i, e in it:
                pending.append(pool.submit(fn, e, i))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        else:
            running = set()
            exhausted = False
            while True:
                while not exhausted and len(running) < window:
                    try:
                        i, e = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    running.add(pool.submit(fn, e, i))
                if not running:
                    return
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for f in done:
                    yield f.result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
