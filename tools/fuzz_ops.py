"""Fuzz every public op of `import tenfold as tf` and print counts per outcome class.

    python3 tools/fuzz_ops.py --examples 50            # all ops, 50 examples each
    python3 tools/fuzz_ops.py --examples 200 --ops range,eye --show 20

Outcome classes: ok / clear (a tenfold error naming the op) / foreign (a leaked Python or NumPy
error) / wrong (an oracle rejected the result) / warns (a NumPy RuntimeWarning reached the user)
/ crash (the process died) / timeout (no answer
within --timeout seconds: a hang). Cases run in a worker subprocess with a capped address space
and tenfold's tensor-size limit lowered, so a missed size check can't eat the machine; the parent
restarts the worker after a crash or a hang. See tenfold/testing/op_fuzz.py.
"""
import argparse
import collections
import json
import os
import resource
import select
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("ok", "clear", "foreign", "wrong", "warns", "crash", "timeout")


def _limit_memory(extra_bytes):
    try:
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    except (OSError, StopIteration):
        return
    soft = vm + extra_bytes
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def worker(args):
    """Runs ops[start:] and writes one JSON line per event to fd args.fd."""
    sys.path.insert(0, ROOT)
    import warnings
    warnings.simplefilter("ignore")
    import random
    import zlib
    from hypothesis import given, seed, settings, Phase, HealthCheck
    from tenfold.testing import op_fuzz

    out = os.fdopen(args.fd, "w", buffering=1)
    ops = _select(op_fuzz.public_ops(), args.ops)
    _limit_memory(args.memory_gb << 30)
    for qual, fn in ops[args.start:]:
        out.write(json.dumps({"op": qual, "event": "begin"}) + "\n")

        @seed(zlib.crc32(qual.encode()) if not args.random else random.getrandbits(32))
        @settings(max_examples=args.examples, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(op_fuzz.call_args(fn))
        def one(call):
            a, kw = call
            out.write(json.dumps({"op": qual, "event": "case",
                                  "args": op_fuzz.describe(a, kw)}) + "\n")
            cls, detail = op_fuzz.run_case(qual, fn, a, kw)
            out.write(json.dumps({"op": qual, "event": "result", "class": cls,
                                  "detail": detail}) + "\n")
        try:
            one()
        except Exception as e:  # a strategy that could not draw: report, go on
            out.write(json.dumps({"op": qual, "event": "result", "class": "foreign",
                                  "detail": f"fuzzer: {type(e).__name__}: {e}"[:300]}) + "\n")
        out.write(json.dumps({"op": qual, "event": "end"}) + "\n")
    out.write(json.dumps({"event": "done"}) + "\n")


def _select(ops, names):
    if not names:
        return ops
    want = set(names.split(","))
    return [(q, f) for q, f in ops if q in want or q.rsplit(".", 1)[-1] in want]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--examples", type=int, default=30, help="examples per op")
    p.add_argument("--ops", default="", help="comma-separated op names (default: all)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds before a case is a hang")
    p.add_argument("--memory-gb", type=int, default=3, help="address space the worker may add")
    p.add_argument("--show", type=int, default=5, help="sample details shown per op and class")
    p.add_argument("--json", help="write every non-ok outcome to this file")
    p.add_argument("--random", action="store_true", help="new random examples (not derandomized)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               TENFOLD_MAX_TENSOR_BYTES=str(1 << 28), PYTHONWARNINGS="ignore")
    counts = collections.Counter()
    per_op = collections.defaultdict(collections.Counter)
    samples = collections.defaultdict(list)
    start, order, t0 = 0, None, time.time()
    sys.path.insert(0, ROOT)
    from tenfold.testing import op_fuzz
    order = [q for q, _ in _select(op_fuzz.public_ops(), args.ops)]
    while start < len(order):
        r, w = os.pipe()
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--fd", str(w),
               "--examples", str(args.examples), "--start", str(start),
               "--memory-gb", str(args.memory_gb)]
        if args.ops:
            cmd += ["--ops", args.ops]
        if args.random:
            cmd += ["--random"]
        proc = subprocess.Popen(cmd, pass_fds=(w,), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=ROOT)
        os.close(w)
        buf, current, last_case, finished = b"", None, None, False
        while True:
            ready, _, _ = select.select([r], [], [], args.timeout)
            if not ready:
                proc.kill()
                proc.wait()
                counts["timeout"] += 1
                per_op[current]["timeout"] += 1
                samples[(current, "timeout")].append(f"no answer in {args.timeout}s: "
                                                     f"{last_case}")
                break
            chunk = os.read(r, 1 << 16)
            if not chunk:
                proc.wait()
                if not finished:
                    counts["crash"] += 1
                    per_op[current]["crash"] += 1
                    samples[(current, "crash")].append(f"exit {proc.returncode}: {last_case}")
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                ev = json.loads(line)
                if ev["event"] == "begin":
                    current = ev["op"]
                elif ev["event"] == "case":
                    last_case = ev["args"]
                elif ev["event"] == "result":
                    counts[ev["class"]] += 1
                    per_op[current][ev["class"]] += 1
                    if ev["class"] != "ok":
                        samples[(current, ev["class"])].append(
                            f"{ev['detail']}  <- ({last_case})")
                elif ev["event"] == "end":
                    start = order.index(ev["op"]) + 1
                elif ev["event"] == "done":
                    finished = True
                    start = len(order)
        os.close(r)
        if current is not None and start <= order.index(current):
            start = order.index(current) + 1  # skip the rest of the op that hung or crashed

    print(f"fuzzed {len(order)} ops, {sum(counts.values())} cases, "
          f"{args.examples} examples per op, {time.time() - t0:.0f} s")
    for op in order:
        c = per_op.get(op, {})
        bad = {k: v for k, v in c.items() if k not in ("ok", "clear")}
        if bad:
            print(f"  {op}: " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())))
            for cls in ("foreign", "wrong", "warns", "crash", "timeout"):
                for s in list(dict.fromkeys(samples[(op, cls)]))[:args.show]:
                    print(f"      {cls}: {s[:400]}")
    ops_bad = {cls: sum(1 for op in order if per_op[op].get(cls)) for cls in CLASSES}
    print("counts per outcome class (cases; ops with at least one):")
    for cls in CLASSES:
        print(f"  {cls:8s} {counts.get(cls, 0):7d}   ops {ops_bad[cls]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"counts": dict(counts), "per_op": {k: dict(v) for k, v in per_op.items()},
                       "samples": {f"{k[0]}|{k[1]}": v[:50] for k, v in samples.items()}}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
