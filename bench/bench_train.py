"""Training, inference and memory benchmarks: tenfold side by side with TensorFlow, Keras 3
on JAX and PyTorch, each framework in its own process (and venv: .venvs/{tf,jax,torch}).

    python bench/bench_train.py [--quick] [--only mlp,convnet,inference,loop,memory]
                                [--json PATH]

Workloads (the same Keras code for tenfold, tf.keras and Keras-on-JAX; PyTorch written the
PyTorch way, see bench/peers/):
  mlp        fit of the seed's MNIST MLP (784-512-10, RMSprop, batch 128, real MNIST)
  convnet    fit of keras.io's simple MNIST convnet (Adam, batch 128) on 12,800 images
  inference  predict() of one sample, model(x) of one sample, predict() of 1000 samples
  loop       the seed's TensorFlow-style loop (08_mnist_tensorflow.py: tf.data + eager
             GradientTape per batch) against fit on the same network
  memory     peak RSS of the seed's MNIST program (07, one epoch) in a fresh process
A framework whose venv is missing is skipped and reported "not installed". The machine is
shared: each figure is a median, frameworks alternate, compare ratios within one run.
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / "peers"
VENVS = ROOT / ".venvs"

FRAMEWORKS = {
    "tenfold": (sys.executable, "keras"),
    "tf": (str(VENVS / "tf" / "bin" / "python"), "keras"),
    "jax": (str(VENVS / "jax" / "bin" / "python"), "keras"),
    "torch": (str(VENVS / "torch" / "bin" / "python"), "torch"),
}
LABELS = {"tenfold": "tenfold", "tf": "tf.keras (TF 2.21)", "jax": "Keras 3 on JAX",
          "torch": "PyTorch (hand loop)"}
MLP_FLOP_PER_SAMPLE = 2 * (784 * 512 + 512 * 10) * 3 - 2 * 784 * 512  # fwd + bwd, no dX


def available(fw):
    python = FRAMEWORKS[fw][0]
    return os.path.exists(python)


def run_child(fw, script, args, timeout=900):
    """Runs a peer script; returns (parsed JSON or {"error": ...}, None)."""
    python = FRAMEWORKS[fw][0]
    env = dict(os.environ)
    env.setdefault("TENFOLD_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    cmd = [python, str(PEERS / script)] + args
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         cwd=str(ROOT))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return {"error": f"timed out after {timeout}s"}, None
    if p.returncode != 0:
        tail = (err or b"").decode(errors="replace").strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {p.returncode}"}, None
    lines = [l for l in out.decode().splitlines() if l.startswith("{")]
    if not lines:
        return {"error": "no result printed"}, None
    res = json.loads(lines[-1])
    res["wall_s"] = time.time() - t0
    return res, None


def run_child_memory(fw, script, args, timeout=900):
    """Like run_child, but measures the child's own peak RSS with os.wait4."""
    python = FRAMEWORKS[fw][0]
    env = dict(os.environ)
    env.setdefault("TENFOLD_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    out_path = ROOT / "bench" / "results" / f".mem_{fw}.out"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "wb") as fout:
        p = subprocess.Popen([python, str(PEERS / script)] + args, stdout=fout,
                             stderr=subprocess.DEVNULL, env=env, cwd=str(ROOT))
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    out_path.unlink()
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}"}, None
    lines = [l for l in text.splitlines() if l.startswith("{")]
    res = json.loads(lines[-1]) if lines else {}
    return res, usage.ru_maxrss / 1024.0


def script_for(fw):
    return "torch_bench.py" if fw == "torch" else "keras_bench.py"


def fw_args(fw):
    return [] if fw == "torch" else [fw]


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_start": os.getloadavg()}


def fmt(x, unit=""):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if x >= 1000:
        return f"{x:,.0f}{unit}"
    if x >= 10:
        return f"{x:.1f}{unit}"
    return f"{x:.3g}{unit}"


def table(title, rows, columns, better="higher"):
    print(f"\n### {title}\n")
    print("| | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, vals in rows:
        print(f"| {name} | " + " | ".join(vals) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer epochs and repeats")
    ap.add_argument("--only", default="mlp,convnet,inference,loop,memory")
    ap.add_argument("--frameworks", default="tenfold,tf,jax,torch")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "train.json"))
    ap.add_argument("--rounds", type=int, default=None,
                    help="how many times each framework runs each timing task (median)")
    a = ap.parse_args()
    tasks = a.only.split(",")
    fws = [f for f in a.frameworks.split(",") if f in FRAMEWORKS]
    missing = [f for f in fws if not available(f)]
    fws = [f for f in fws if available(f)]
    info = machine()
    print(f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, load "
          f"average at start {info['load_start'][0]:.2f}")
    for f in missing:
        print(f"{LABELS[f]}: not installed ({FRAMEWORKS[f][0]} missing), skipped")
    results = {"machine": info, "missing": missing}
    rounds = a.rounds or (1 if a.quick else 2)
    epochs = "2" if a.quick else "3"

    def timed(task, extra):
        per = {f: [] for f in fws}
        for r in range(rounds):
            order = fws if r % 2 == 0 else list(reversed(fws))
            for f in order:
                res, _ = run_child(f, script_for(f), fw_args(f) + [task] + extra)
                per[f].append(res)
        return per

    if "mlp" in tasks:
        per = timed("mlp", ["--epochs", epochs])
        results["mlp"] = per
        rows = []
        for f in fws:
            ok = [r for r in per[f] if "samples_per_s" in r]
            if not ok:
                rows.append((LABELS[f], [per[f][0].get("error", "failed"), "", "", ""]))
                continue
            sps = sorted(r["samples_per_s"] for r in ok)[len(ok) // 2]
            gflops = sps * MLP_FLOP_PER_SAMPLE / 1e9
            rows.append((LABELS[f], [fmt(sps), fmt(gflops), f"{ok[-1]['final_loss']:.4f}",
                                     f"{ok[-1]['final_accuracy']:.4f}"]))
        table("fit, MNIST MLP 784-512-10, RMSprop, batch 128 (samples/s, higher is better)",
              rows, ["samples/s", "GFLOP/s", "last loss", "last accuracy"])
    if "convnet" in tasks:
        per = timed("convnet", ["--epochs", epochs, "--samples", "12800"])
        results["convnet"] = per
        rows = []
        for f in fws:
            ok = [r for r in per[f] if "samples_per_s" in r]
            if not ok:
                rows.append((LABELS[f], [per[f][0].get("error", "failed"), ""]))
                continue
            sps = sorted(r["samples_per_s"] for r in ok)[len(ok) // 2]
            rows.append((LABELS[f], [fmt(sps), f"{ok[-1]['final_loss']:.4f}"]))
        table("fit, keras.io simple MNIST convnet, Adam, batch 128, 12,800 images "
              "(samples/s)", rows, ["samples/s", "last loss"])
    if "inference" in tasks:
        per = timed("inference", ["--repeats", "30" if a.quick else "100"])
        results["inference"] = per
        rows = []
        for f in fws:
            ok = [r for r in per[f] if "predict_one_ms" in r]
            if not ok:
                rows.append((LABELS[f], [per[f][0].get("error", "failed"), "", ""]))
                continue

            def med(k):
                return sorted(r[k] for r in ok)[len(ok) // 2]
            p1000 = med("predict_1000_ms")
            gflops = 1000 * 2 * (784 * 512 + 512 * 10) / (p1000 / 1e3) / 1e9
            rows.append((LABELS[f], [fmt(med("predict_one_ms"), " ms"),
                                     fmt(med("call_one_ms"), " ms"),
                                     f"{fmt(p1000, ' ms')} ({gflops:.0f} GFLOP/s)"]))
        table("Inference, MNIST MLP (median ms, lower is better)", rows,
              ["predict(1 sample)", "model(1 sample)", "predict(1000)"])
    if "loop" in tasks:
        loop = {}
        for f in [x for x in ("tenfold", "tf") if x in fws]:
            loop[f] = run_child(f, "tf_loop.py", [f, "--epochs", "2"])[0]
        results["loop"] = loop
        mlp_t = results.get("mlp", {}).get("tenfold")
        fit_epoch = None
        if mlp_t:
            ok = [r for r in mlp_t if "epoch_s" in r]
            fit_epoch = sorted(r["epoch_s"] for r in ok)[len(ok) // 2] if ok else None
        rows = []
        for f, r in loop.items():
            if "epoch_s" not in r:
                rows.append((LABELS[f], [r.get("error", "failed"), ""]))
                continue
            ratio = f"{r['epoch_s'] / fit_epoch:.2f}x" if f == "tenfold" and fit_epoch else "-"
            rows.append((LABELS[f], [fmt(r["epoch_s"], " s"), ratio]))
        table("The seed's TensorFlow-style loop (08: tf.data + eager GradientTape), per epoch",
              rows, ["epoch time", "vs tenfold fit epoch"])
    if "memory" in tasks:
        mem = {}
        for f in fws:
            res, rss = run_child_memory(f, script_for(f), fw_args(f) + ["seed"])
            mem[f] = {"peak_rss_mb": rss, **res}
        results["memory"] = mem
        rows = []
        tf_rss = mem.get("tf", {}).get("peak_rss_mb")
        for f in fws:
            rss = mem[f].get("peak_rss_mb")
            ratio = f"{rss / tf_rss:.2f}" if rss and tf_rss else "-"
            rows.append((LABELS[f], [fmt(rss, " MB") if rss else mem[f].get("error", "failed"),
                                     ratio, f"{mem[f].get('test_accuracy', 0):.4f}"]))
        table("Peak memory of the seed's MNIST program (07, 1 epoch), max RSS", rows,
              ["peak RSS", "vs TensorFlow", "test accuracy"])
    info["load_end"] = os.getloadavg()
    print(f"\nLoad average at end: {info['load_end'][0]:.2f}")
    path = pathlib.Path(a.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"Raw results: {path}")


if __name__ == "__main__":
    main()
