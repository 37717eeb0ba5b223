"""PyTorch at its fastest thread setting here, shared by the torch_*.py
benchmarks: OpenBLAS single-threaded (set before torch is imported), and each
figure measured at every intra-op thread count in THREADS, the best kept.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402

# Intra-op thread counts tried; each figure is the fastest (TORCH_THREADS=n
# pins one).
THREADS = ([int(os.environ["TORCH_THREADS"])] if "TORCH_THREADS" in os.environ
           else [1, 2])


def fastest(measure, higher_is_better):
    """The best figure over THREADS, and the thread count that gave it."""
    results = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        results.append((measure(), threads))
    return (max if higher_is_better else min)(results)


def report(key, measure, higher_is_better, fmt):
    """Prints `key: value` and `key_threads: n` for the fastest setting."""
    value, threads = fastest(measure, higher_is_better)
    print(f"{key}: {value:{fmt}}")
    print(f"{key}_threads: {threads}")
