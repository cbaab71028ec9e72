"""The HTTP side: a ThreadingHTTPServer whose handler passes requests to `_rest.handle`.

Memory is budgeted: each request reserves about `PARSE_FACTOR` (7) times its body size (the
body, its translated copy, index arrays, the parsed float64 array) from `memory_budget_bytes`
before its body is read. A request that could never fit gets 413; one that does not fit now,
because other large requests are being served, gets 503 with `Retry-After` (clients retry); a
MemoryError while serving gets 503 too. None of them gets a 500 or takes the server down."""
import http.server
import ipaddress
import socket
import sys
import threading
import time

from tenfold.serving import _parse, _rest

PARSE_FACTOR = 7      # measured ~6.6x: body, translated copy, index arrays, float64, predict
JSON_FACTOR = 12      # json.loads: a Python float and a list slot per number, then an array
_SMALL_BODY = 1 << 20
_BASE_RESERVATION = 1 << 20


class MemoryBudget:
    """Bytes that in-flight requests may hold, reserved without waiting."""

    def __init__(self, total):
        self.total = int(total)
        self.used = 0
        self.peak_requests = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def need(self, length):
        return PARSE_FACTOR * int(length) + _BASE_RESERVATION

    def try_acquire(self, nbytes):
        with self._lock:
            if self.used + nbytes > self.total:
                return False
            self.used += nbytes
            self._in_flight += 1
            self.peak_requests = max(self.peak_requests, self._in_flight)
            return True

    def release(self, nbytes):
        with self._lock:
            self.used -= nbytes
            self._in_flight -= 1

    def release_count(self):
        """Undoes the request count of a second reservation by the same request."""
        with self._lock:
            self._in_flight -= 1


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tenfold-serving"
    timeout = 60  # seconds a connection may sit idle or stall mid-request

    def _send(self, status, body):
        data = _rest.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status == 503:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method, body=b""):
        try:
            status, out = _rest.handle(self.server.registry, method, self.path, body)
        except MemoryError:
            status, out = 503, _rest.error_body(
                "The server ran out of memory for this request; retry later or send a smaller "
                "batch.")
        except Exception as e:  # a bug or an unexpected model failure: report, keep serving
            status, out = 500, _rest.error_body(f"Internal error: {type(e).__name__}: {e}")
        self._send(status, out)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return self._send(411, _rest.error_body(
                "Chunked request bodies are not supported: send a Content-Length."))
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return self._send(400, _rest.error_body("Invalid Content-Length header."))
        if length > self.server.max_body_bytes:
            self.close_connection = True
            return self._send(413, _rest.error_body(
                f"The request body ({length} bytes) is larger than the server's limit of "
                f"{self.server.max_body_bytes} bytes (--max_body_mb)."))
        budget = self.server.budget
        need = budget.need(length)
        if need > budget.total:
            self._drain(length)
            self.close_connection = True
            return self._send(413, _rest.error_body(
                f"The request body ({length} bytes) needs about {need >> 20} MiB to parse, "
                f"more than the server's memory budget of {budget.total >> 20} MiB "
                "(--memory_budget_mb): send smaller batches."))
        if not budget.try_acquire(need):
            self._drain(length)
            self.close_connection = True
            return self._send(503, _rest.error_body(
                "The server is busy with other large requests (its memory budget is in use); "
                "retry in a moment."))
        try:
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                self.close_connection = True
                return
            if length > _SMALL_BODY and not _parse.fits_fast_path(body):
                # json.loads builds a Python object per number: ~10x the body, not 4x
                more = (JSON_FACTOR - PARSE_FACTOR) * length
                if not budget.try_acquire(more):
                    self.close_connection = True
                    return self._send(503, _rest.error_body(
                        "The server is busy with other large requests (its memory budget is "
                        "in use); retry in a moment. (Plain numeric 'instances'/'inputs' "
                        "bodies need less memory than bodies with named inputs or strings.)"))
                need += more
                budget.release_count()
            self._route("POST", body)
        except MemoryError:
            self.close_connection = True
            self._send(503, _rest.error_body("The server ran out of memory for this request; "
                                             "retry later or send a smaller batch."))
        finally:
            body = None
            budget.release(need)

    def _drain(self, length):
        """Reads and drops a refused body in small chunks (so the client, still sending,
        gets the answer instead of a broken pipe) without holding it in memory."""
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)

    def _other(self):
        self.close_connection = True
        self._send(405, _rest.error_body(f"Method {self.command} is not supported: use GET for "
                                         "status and metadata, POST for predict."))

    do_PUT = do_DELETE = do_PATCH = _other

    def log_message(self, format, *args):
        if self.server.log_requests:
            sys.stderr.write(f"{self.address_string()} - - [{self.log_date_time_string()}] "
                             f"{format % args}\n")


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, registry, max_body_bytes, log_requests,
                 memory_budget_bytes=1 << 30):
        host = address[0]
        try:
            if ipaddress.ip_address(host).version == 6:
                self.address_family = socket.AF_INET6
        except ValueError:
            pass
        self.registry = registry
        self.max_body_bytes = int(max_body_bytes)
        self.log_requests = bool(log_requests)
        self.budget = MemoryBudget(memory_budget_bytes)
        super().__init__(address, _Handler)


def is_loopback(host):
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ModelServer:
    """A running REST server for one or more Servables (see `tenfold.serving.serve`)."""

    def __init__(self, servables, host="127.0.0.1", port=8501, max_body_bytes=64 << 20,
                 log_requests=False, memory_budget_bytes=1 << 30):
        registry = {}
        for s in servables:
            registry.setdefault(s.name, {})[s.version] = s
        self.registry = registry
        self._httpd = _HTTPServer((host, int(port)), registry, max_body_bytes, log_requests,
                                  memory_budget_bytes)
        self.host = host
        self._thread = None
        self._timer = None
        self._stopped = threading.Event()
        self._serving = threading.Event()
        self._serving_ident = None

    @property
    def port(self):
        """The bound port (useful with port=0, which picks a free one)."""
        return self._httpd.server_address[1]

    @property
    def url(self):
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def serve_forever(self, stop_after=None):
        """Serves in this thread until `stop()` (from another thread), Ctrl-C, or
        `stop_after` seconds."""
        if self._stopped.is_set():
            raise RuntimeError("The server was stopped; start a new one.")
        self._serving_ident = threading.get_ident()
        if stop_after is not None:
            self._arm_timer(stop_after)
        self._serving.set()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def start(self, stop_after=None):
        """Serves from a background (daemon) thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("The server is already running.")
        self._thread = threading.Thread(target=self.serve_forever, args=(stop_after,),
                                        name="tenfold-serving", daemon=True)
        self._thread.start()
        self._serving.wait(10)
        return self

    def _arm_timer(self, seconds):
        self._timer = threading.Timer(float(seconds), self.stop)
        self._timer.daemon = True
        self._timer.start()

    def stop(self, timeout=10.0):
        """Stops serving and closes the socket (safe to call more than once, from any
        thread)."""
        if self._timer is not None and threading.current_thread() is not self._timer:
            self._timer.cancel()
        if self._stopped.is_set():
            return
        if not self._serving.is_set():
            self._close()
        elif threading.get_ident() == self._serving_ident:
            # inside the serving thread (a request handler): shutdown() would wait for itself
            threading.Thread(target=self._httpd.shutdown, daemon=True).start()
        else:
            self._httpd.shutdown()  # returns once serve_forever has left its loop
            if self._thread is not None:
                self._thread.join(timeout)
            self.wait(timeout)

    def _close(self):
        if not self._stopped.is_set():
            self._httpd.server_close()
            self._stopped.set()

    def wait(self, timeout=None):
        """Blocks until the server has stopped (or `timeout` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopped.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._stopped.wait(0.2 if left is None else min(left, 0.2))
        return True

    @property
    def running(self):
        return not self._stopped.is_set()

    def __enter__(self):
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
