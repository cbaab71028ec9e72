"""`python -m tenfold.serving --model model.keras [--model_name NAME] [--port 8501]`.

Flag names follow TensorFlow Serving's `tensorflow_model_server` where they overlap
(`--model_name`, `--model_base_path`, `--rest_api_port`)."""
import argparse
import sys


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m tenfold.serving",
        description="Serve a Keras model over TensorFlow Serving's REST API.")
    p.add_argument("--model", "--model_base_path", dest="model", required=True,
                   help="a .keras file, or a directory <base>/<version>/model.keras")
    p.add_argument("--model_name", default="model", help="name in /v1/models/{name}")
    p.add_argument("--port", "--rest_api_port", dest="port", type=int, default=8501,
                   help="port (0: any free port; default 8501)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the server)")
    p.add_argument("--version", type=int, default=1, help="model version (default 1)")
    p.add_argument("--max_body_mb", type=float, default=64.0,
                   help="largest request body accepted, in MiB (default 64)")
    p.add_argument("--memory_budget_mb", type=float, default=1024.0,
                   help="memory requests being parsed may hold together, in MiB (default "
                        "1024); beyond it: 503, retry")
    p.add_argument("--stop_after", type=float, default=None,
                   help="stop by itself after this many seconds")
    p.add_argument("--log_requests", action="store_true", help="log each request to stderr")
    args = p.parse_args(argv)
    from tenfold.serving import serve
    try:
        serve(args.model, model_name=args.model_name, host=args.host, port=args.port,
              version=args.version, stop_after=args.stop_after,
              max_body_bytes=int(args.max_body_mb * (1 << 20)),
              memory_budget_bytes=int(args.memory_budget_mb * (1 << 20)),
              log_requests=args.log_requests)
    except (OSError, ValueError, TypeError) as e:
        print(f"tenfold.serving: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
