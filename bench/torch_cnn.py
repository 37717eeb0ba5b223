#!/usr/bin/env python3
"""The CNNs of cnn_bench.cpp in PyTorch, same shapes, batches and optimisers.

LeNet (conv 3->6 5x5, pool, conv 6->16 5x5, pool, 120-84-10; SGD lr 1e-3
momentum 0.9) at batch 4 and 64; the VGG-like network (three blocks of two 3x3
conv + BatchNorm + ReLU, max-pool, Dropout 0.25; Dense 128, Dropout 0.5,
Dense 10; Adam) at batch 64; inference at batch 1 and 64. Random 32x32x3
inputs; each figure the faster of 1 and 2 intra-op threads (its setting is
printed), OpenBLAS single-threaded, denormals flushed. Prints
`key: value` lines.
"""
import sys
import time

# First: it sets OpenBLAS' thread count before torch loads OpenBLAS.
from torch_threads import report
import torch  # noqa: E402
from torch import nn  # noqa: E402


def lenet():
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                         nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def vgg():
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2),
                nn.Dropout(0.25)]
    return nn.Sequential(*block(3, 32), *block(32, 64), *block(64, 128),
                         nn.Flatten(), nn.Linear(2048, 128), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(128, 10))


def train_rate(make, opt_fn, n, batch, epochs):
    torch.manual_seed(1)
    net = make()
    opt = opt_fn(net.parameters())
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    y = torch.randint(0, 10, (n,))
    loss_fn = nn.CrossEntropyLoss()
    best = float("inf")
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            xb = x[idx].float().div_(255.0)
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), y[idx]).backward()
            opt.step()
        best = min(best, time.perf_counter() - start)
    return n / best


def predict_seconds(make, count, rounds):
    torch.manual_seed(1)
    net = make().eval()
    x = torch.randint(0, 256, (count * 4, 3, 32, 32), dtype=torch.uint8)
    times = []
    with torch.no_grad():
        for r in range(rounds + 3):
            xb = x[(r % 4) * count:(r % 4 + 1) * count]
            start = time.perf_counter()
            torch.softmax(net(xb.float().div_(255.0)), 1).argmax(1)
            if r >= 3:
                times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    torch.set_flush_denormal(True)
    sgd = lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9)  # noqa: E731
    adam = lambda p: torch.optim.Adam(p, lr=1e-3)  # noqa: E731
    n_small, n_vgg = int(4000 * scale), int(1280 * scale)
    report("torch_lenet_train_bs4_img_s",
           lambda: train_rate(lenet, sgd, n_small, 4, 2), True, ".0f")
    report("torch_lenet_train_bs64_img_s",
           lambda: train_rate(lenet, sgd, n_small, 64, 3), True, ".0f")
    report("torch_lenet_infer_bs1_us",
           lambda: predict_seconds(lenet, 1, 2001) * 1e6, False, ".2f")
    report("torch_vgg_train_bs64_img_s",
           lambda: train_rate(vgg, adam, n_vgg, 64, 3), True, ".0f")
    report("torch_vgg_infer_bs64_img_s",
           lambda: 64 / predict_seconds(vgg, 64, 21), True, ".0f")
    report("torch_vgg_infer_bs1_us",
           lambda: predict_seconds(vgg, 1, 201) * 1e6, False, ".1f")


if __name__ == "__main__":
    main()
