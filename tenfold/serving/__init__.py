"""`tenfold.serving`: serve a Keras model over TensorFlow Serving's REST API.

    from tenfold import serving
    serving.serve("model.keras", model_name="digits", port=8501)   # blocks; Ctrl-C stops

    # or, from a shell:  python -m tenfold.serving --model model.keras --port 8501

Clients written for TensorFlow Serving work unchanged:

    POST http://127.0.0.1:8501/v1/models/digits:predict   {"instances": [[...], ...]}
    -> {"predictions": [[...], ...]}

Standard library only (http.server); models load in safe mode (no code from the file runs);
binds to 127.0.0.1 unless told otherwise. There is no authentication or TLS: put a reverse
proxy in front before exposing it to a network.
"""
import sys

from tenfold.serving._http import ModelServer, is_loopback
from tenfold.serving._servable import Servable, load_servable

__all__ = ["serve", "ModelServer", "Servable", "load_servable"]


def serve(model_or_path, model_name="model", host="127.0.0.1", port=8501, version=1, *,
          block=True, stop_after=None, max_body_bytes=64 << 20, log_requests=False,
          memory_budget_bytes=1 << 30):
    """Serves a model over TensorFlow Serving's REST API.

    Args:
      model_or_path: a Keras model, a `.keras` file, or a directory in TF Serving's layout
        (`<base>/<version>/model.keras`: the highest version is served, under its number).
      model_name: the `{name}` in `/v1/models/{name}`.
      host, port: where to listen (port 0 picks a free port: read `server.port`).
      version: the version number reported and accepted in `/versions/{v}`.
      block: serve in this thread until Ctrl-C (True), or start a background thread and
        return the `ModelServer` at once (False; call `.stop()` when done).
      stop_after: stop by itself after this many seconds (None: never).
      max_body_bytes: the largest request body accepted (413 above).
      memory_budget_bytes: memory that requests being parsed may hold together (about 7x
        their bodies); a request beyond what is free gets 503 (retry), one that could never
        fit gets 413.
      log_requests: print one line per request to stderr.

    Returns:
      The `ModelServer` (stopped when `block=True` returns).
    """
    servable = load_servable(model_or_path, model_name, version)
    server = ModelServer([servable], host=host, port=port, max_body_bytes=max_body_bytes,
                         log_requests=log_requests, memory_budget_bytes=memory_budget_bytes)
    if not is_loopback(host):
        print(f"tenfold.serving: listening on {host}, reachable from the network, with no "
              "authentication or TLS.", file=sys.stderr)
    if not block:
        return server.start(stop_after=stop_after)
    print(f"tenfold.serving: model \"{servable.name}\" version {servable.version} at "
          f"{server.url}/v1/models/{servable.name} (Ctrl-C to stop)", flush=True)
    server.serve_forever(stop_after=stop_after)
    return server
