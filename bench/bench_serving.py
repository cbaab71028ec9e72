"""Load test of tenfold's REST server (tenfold.serving), loopback only, bounded in time.

    python bench/bench_serving.py [--seconds 10] [--clients 16] [--big 8] [--max_body_mb 64]

Starts `python -m tenfold.serving` on 127.0.0.1 with a random free port, in its own process,
serving an MLP (784 -> 128 -> 10) from a temporary .keras file, then:

1. throughput: `--clients` threads, each with its own keep-alive connection, POST one
   784-float instance (the row format) as fast as they can for `--seconds`: requests/s,
   p50/p99 latency, status codes;
2. memory: `--big` clients at once each POST a body of about `--max_body_mb` MiB (the
   server's limit; plain numeric instances): the status codes (200, or 503 when the memory
   budget is in use, 413 when a body can never fit) and the server's peak resident memory
   (VmHWM), before and after.

Nothing leaves the machine: the server binds 127.0.0.1 and the clients connect there only.
Timings depend on the machine's load: check `uptime` and compare within one run.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"


def _model_file(folder):
    sys.path.insert(0, ROOT)
    from tenfold import keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,), name="x"),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    path = os.path.join(folder, "mlp.keras")
    model.save(path)
    return path


def _start_server(model_path, max_body_mb, budget_mb, seconds):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenfold.serving", "--model", model_path, "--model_name", "mlp",
         "--host", HOST, "--port", "0", "--max_body_mb", str(max_body_mb),
         "--memory_budget_mb", str(budget_mb), "--stop_after", str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if m is None:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line}{proc.stderr.read()}")
    return proc, int(m.group(1))


def _peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _post(conn, body):
    conn.request("POST", "/v1/models/mlp:predict", body=body,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def throughput(port, clients, seconds):
    body = json.dumps({"instances": np.random.default_rng(0).random((1, 784)).round(4)
                       .tolist()}).encode()
    latencies, codes, lock = [], {}, threading.Lock()
    stop = time.monotonic() + seconds

    def client():
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        mine, my_codes = [], {}
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                status = _post(conn, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
                status = "error"
            mine.append(time.perf_counter() - t0)
            my_codes[status] = my_codes.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in my_codes.items():
                codes[k] = codes.get(k, 0) + v
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    lat = sorted(latencies)
    return {"requests": len(lat), "req_per_s": len(lat) / elapsed,
            "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], "codes": codes}


def big_requests(port, pid, n, max_body_mb):
    x = np.random.default_rng(1).random((64, 784)).round(6)
    per_row = len(json.dumps(x.tolist())) / 64
    rows = int(max_body_mb * (1 << 20) * 0.98 / per_row)
    x = np.random.default_rng(1).random((rows, 784)).round(6)
    body = json.dumps({"instances": x.tolist()}).encode()
    before = _peak_rss_mb(pid)
    codes, times, lock = [], [], threading.Lock()

    def client():
        conn = http.client.HTTPConnection(HOST, port, timeout=300)
        t0 = time.perf_counter()
        try:
            status = _post(conn, body)
        except (OSError, http.client.HTTPException) as e:
            status = f"error {type(e).__name__}"
        with lock:
            codes.append(status)
            times.append(time.perf_counter() - t0)
        conn.close()
    threads = [threading.Thread(target=client) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"body_mb": len(body) / (1 << 20), "rows": rows, "codes": sorted(map(str, codes)),
            "peak_rss_before_mb": before, "peak_rss_after_mb": _peak_rss_mb(pid),
            "slowest_s": max(times)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--big", type=int, default=8)
    ap.add_argument("--max_body_mb", type=float, default=64.0)
    ap.add_argument("--memory_budget_mb", type=float, default=1024.0)
    a = ap.parse_args()
    print(f"# tenfold.serving load test ({time.strftime('%Y-%m-%d %H:%M')}), load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        model_path = _model_file(folder)
        proc, port = _start_server(model_path, a.max_body_mb, a.memory_budget_mb,
                                   a.seconds * 3 + 600)
        try:
            result = throughput(port, a.clients, a.seconds)
            print(f"throughput, {a.clients} clients, 1 instance per request: "
                  f"{result['req_per_s']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
                  f"p99 {result['p99_ms']:.1f} ms ({result['requests']} requests, status "
                  f"{result['codes']})", flush=True)
            big = big_requests(port, proc.pid, a.big, a.max_body_mb)
            print(f"memory, {a.big} concurrent bodies of {big['body_mb']:.1f} MiB "
                  f"({big['rows']} rows each): status {big['codes']}; server peak RSS "
                  f"{big['peak_rss_before_mb']:.0f} MiB before, {big['peak_rss_after_mb']:.0f} "
                  f"MiB after (budget {a.memory_budget_mb:.0f} MiB); slowest "
                  f"{big['slowest_s']:.1f} s", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
