"""The same workloads in PyTorch, written the way a PyTorch user writes them.

    python bench/peers/torch_bench.py TASK [--epochs N] [--samples N]

TASK: mlp (784-512-10, RMSprop(lr=1e-3, alpha=0.9, eps=1e-7), batch 128, shuffled),
convnet (keras.io's MNIST convnet, Adam), inference (forward of one sample and of 1000 under
no_grad), seed (the MLP program with 1 epoch and a test evaluation, for peak memory).
Prints one JSON line; the first epoch is not counted.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn

MNIST = os.environ.get("BENCH_MNIST") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "datasets",
    "mnist.npz")


def load():
    with np.load(MNIST) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


def mlp_model():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))


def conv_model():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
                         nn.Linear(1600, 10))


def train(model, opt, x, y, epochs):
    loss_fn = nn.CrossEntropyLoss()
    times = []
    n = len(x)
    for _ in range(epochs):
        t = time.perf_counter()
        perm = torch.randperm(n)
        correct = 0
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == yb).sum().item()
        times.append(time.perf_counter() - t)
    return times, float(loss), correct / n


def mlp(epochs, samples):
    torch.manual_seed(0)
    (x, y), _ = load()
    x = torch.from_numpy(x.reshape(-1, 784).astype(np.float32) / 255)[:samples]
    y = torch.from_numpy(y.astype(np.int64))[:samples]
    model = mlp_model()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    times, loss, acc = train(model, opt, x, y, epochs)
    t = float(np.median(times[1:]))
    return {"samples_per_s": len(x) / t, "epoch_s": t, "epoch_times": times,
            "final_loss": loss, "final_accuracy": acc}


def convnet(epochs, samples):
    torch.manual_seed(0)
    (x, y), _ = load()
    x = torch.from_numpy(x.astype(np.float32)[:, None] / 255)[:samples]
    y = torch.from_numpy(y.astype(np.int64))[:samples]
    model = conv_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    times, loss, acc = train(model, opt, x, y, epochs)
    t = float(np.median(times[1:]))
    return {"samples_per_s": len(x) / t, "epoch_s": t, "epoch_times": times, "final_loss": loss}


def _median_ms(fn, repeats):
    fn()
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def inference(repeats):
    torch.manual_seed(0)
    (x, _), _ = load()
    x = torch.from_numpy(x.reshape(-1, 784).astype(np.float32) / 255)
    model = nn.Sequential(mlp_model(), nn.Softmax(dim=1)).eval()
    one, batch = x[:1], x[:1000]

    def fwd(t):
        with torch.no_grad():
            return model(t).numpy()
    return {"predict_one_ms": _median_ms(lambda: fwd(one), repeats),
            "call_one_ms": _median_ms(lambda: fwd(one), repeats * 5),
            "predict_1000_ms": _median_ms(lambda: fwd(batch), repeats)}


def seed():
    torch.manual_seed(0)
    (x, y), (xt, yt) = load()
    x = torch.from_numpy(x.reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(y.astype(np.int64))
    model = mlp_model()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    train(model, opt, x, y, 1)
    with torch.no_grad():
        out = model(torch.from_numpy(xt.reshape(-1, 784).astype(np.float32) / 255))
        acc = (out.argmax(1).numpy() == yt).mean()
    return {"test_accuracy": float(acc)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=["mlp", "convnet", "inference", "seed"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--repeats", type=int, default=50)
    a = ap.parse_args()
    out = {"mlp": lambda: mlp(a.epochs, a.samples),
           "convnet": lambda: convnet(a.epochs, a.samples),
           "inference": lambda: inference(a.repeats), "seed": seed}[a.task]()
    out["framework"] = "torch"
    out["version"] = torch.__version__
    out["threads"] = torch.get_num_threads()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
