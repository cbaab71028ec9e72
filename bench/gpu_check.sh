#!/usr/bin/env bash
# The GPU check, prepared to run on the device machine in ONE call (about 8 minutes):
#   run(command="bash bench/gpu_check.sh", timeout_s=560)   # carry=[".gpu_vendor"] if made
# 1. the machine, CuPy and what tenfold sees; 1b. tools/nccl_smoke.py (tenfold's NCCL engine
# on the real cupy.cuda.nccl, one rank); 2. `pytest -m gpu tests/gpu` (the GPU tests,
# the op table last, each stage with its own time limit); 3. bench/bench_gpu.py: tenfold on CuPy vs PyTorch CUDA eager vs Keras 3 on JAX, seed MLP and
#    simple convnet, batch 128 (samples/s, GPU memory peak). Everything goes to
#    $OUT/gpu_log.txt (and $OUT/bench_gpu.json); each stage has its own time limit so a hang
#    in one leaves the others' output.
# The image has CuPy 14.2 (CUDA 13), PyTorch and JAX, no network. Missing pure-Python test
# tools can be carried: `pip install --target .gpu_vendor pytest` here, then carry it.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
LOG="$OUT/gpu_log.txt"
if [ -d .gpu_vendor ]; then export PYTHONPATH="$PWD:$PWD/.gpu_vendor${PYTHONPATH:+:$PYTHONPATH}"
else export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"; fi
export XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}
{
  echo "=== gpu_check $(date -u) on $(hostname)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -5
  $PY - <<'PYEOF' 2>&1
import importlib, sys
print("python", sys.version.split()[0])
for m in ("numpy", "cupy", "torch", "jax", "keras", "pytest", "scipy", "h5py", "ml_dtypes"):
    try:
        mod = importlib.import_module(m)
        print(f"{m:10s} {getattr(mod, '__version__', '?')}")
    except Exception as e:
        print(f"{m:10s} MISSING ({type(e).__name__}: {e})")
import time
t0 = time.perf_counter()
import tenfold as tf
print(f"import tenfold: {time.perf_counter() - t0:.2f} s")
from tenfold.backend import gpu
print("GPUs:", tf.config.list_physical_devices("GPU"), "| why none:", gpu.why_no_gpu())
print("default device:", tf.constant(1.0).device)
PYEOF
  echo "=== NCCL smoke test (tools/nccl_smoke.py: real cupy.cuda.nccl, one rank per GPU)"
  timeout 40 $PY tools/nccl_smoke.py 2>&1 | tail -40
  echo "=== pytest -m gpu (all but the op table)"
  timeout 150 $PY -m pytest -m gpu -q -rfEsx -p no:cacheprovider tests/gpu -k "not op_table" \
    2>&1 | tail -80
  echo "=== bench_gpu"
  timeout 180 $PY bench/bench_gpu.py --steps 150 --timeout 55 --json "$OUT/bench_gpu.json" 2>&1
  echo "=== pytest -m gpu: the op table on CuPy (values + gradients; the slowest stage, last)"
  timeout 170 $PY -m pytest -m gpu -q -rfEx -p no:cacheprovider tests/gpu -k op_table \
    2>&1 | tail -80
  echo "=== done $(date -u)"
} > "$LOG" 2>&1
tail -60 "$LOG"
