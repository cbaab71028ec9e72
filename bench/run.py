"""Every benchmark, side by side with TensorFlow, Keras 3 on JAX and PyTorch: one command.

    python bench/run.py [--quick] [--skip ops,conv,data,train]

Runs, each in its own process:
  bench/bench_ops.py    single ops (core engineer's)
  bench/bench_conv.py   convolution / pooling kernels and the convnet step (conv engineer's)
  bench/bench_data.py   input pipelines (data engineer's)
  bench/bench_train.py  fit, inference, the TensorFlow-style loop and peak memory
A script that is not there yet is reported as missing; a framework whose venv
(.venvs/tf, .venvs/jax, .venvs/torch) is missing is skipped and reported "not installed".
Check `uptime` first: the machine is shared and timings are only comparable within a run.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = [("ops", "bench_ops.py"), ("conv", "bench_conv.py"), ("data", "bench_data.py"),
           ("train", "bench_train.py")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    print(f"# tenfold benchmarks ({time.strftime('%Y-%m-%d %H:%M')}), load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n", flush=True)
    status = 0
    for key, name in SCRIPTS:
        if key in skip:
            continue
        path = ROOT / "bench" / name
        print(f"\n## {name}\n", flush=True)
        if not path.exists():
            print(f"{name}: missing (not written yet), skipped", flush=True)
            continue
        cmd = [sys.executable, str(path)]
        if a.quick and key == "train":
            cmd.append("--quick")
        t = time.time()
        r = subprocess.run(cmd, cwd=str(ROOT))
        print(f"\n({name}: {time.time() - t:.0f} s, exit {r.returncode})", flush=True)
        status = status or r.returncode
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
