#!/usr/bin/env python3
"""The same Fashion-MNIST MLP in PyTorch, for comparison with mlp_bench.

Flatten, Linear(784,128), ReLU, Linear(128,10), cross-entropy, Adam 1e-3, on
the real data, each figure the faster of 1 and 2 intra-op threads (its
setting is printed), OpenBLAS single-threaded, denormals flushed. Batches are sliced from one tensor (no
DataLoader overhead). Prints `key: value` lines like the C++ benchmarks.
"""
import gzip
import os
import struct
import sys
import time

# First: it sets OpenBLAS' thread count before numpy or torch loads OpenBLAS.
from torch_threads import report
import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = os.environ.get("SEQUENT_DATA", "/usr/share/datasets/fashion-mnist")


def read_idx(name):
    path = os.path.join(DATA, name)
    opener = gzip.open if os.path.exists(path) else open
    if not os.path.exists(path):
        path = path[:-3]
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def model():
    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128),
                               torch.nn.ReLU(), torch.nn.Linear(128, 10))


def train_images_per_second(x, y, batch, epochs):
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    best = float("inf")
    n = x.shape[0]
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            xb = x[idx].float().div_(255.0)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), y[idx])
            loss.backward()
            opt.step()
        best = min(best, time.perf_counter() - start)
    return n / best


def single_image_microseconds(x):
    net = model().eval()
    one = x[:1].float().div(255.0)
    times = []
    with torch.no_grad():
        for _ in range(200):
            net(one)
        for _ in range(31):
            start = time.perf_counter()
            for i in range(500):
                img = x[i:i + 1].float().div_(255.0)
                torch.softmax(net(img), 1).argmax(1)
            times.append((time.perf_counter() - start) / 500 * 1e6)
    return sorted(times)[len(times) // 2]


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_flush_denormal(True)
    x = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").copy())
    y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").copy())
    print(f"torch_version: {torch.__version__}")
    report("torch_mlp_train_bs32_img_s",
           lambda: train_images_per_second(x, y, 32, epochs), True, ".0f")
    report("torch_mlp_train_bs128_img_s",
           lambda: train_images_per_second(x, y, 128, epochs), True, ".0f")
    report("torch_mlp_infer_bs1_us", lambda: single_image_microseconds(xt),
           False, ".2f")


if __name__ == "__main__":
    main()
