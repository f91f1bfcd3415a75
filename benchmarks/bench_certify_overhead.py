"""Sound certification (bound computed once) against a plain forward pass, side by side.

Model: a ReLU MLP with Normalize inside, on the 1000 mnist5k test images (embedded, offline).
Prints RESULT lines for benchmarks/run.py.
"""

import time

import torch
from torch import nn

import lipviz


def best_of(fn, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    x = lipviz.load_dataset("mnist5k", "test").x
    model = nn.Sequential(
        lipviz.Normalize(lipviz.data.MNIST_MEAN, lipviz.data.MNIST_STD),
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    ).eval()
    bound_time = best_of(lambda: lipviz.lipschitz_bound(model, (1, 28, 28)), repeats=3)
    bound = lipviz.lipschitz_bound(model, (1, 28, 28))

    def forward():
        with torch.no_grad():
            model(x)

    def certify():
        lipviz.certified_radius(model, x, bound=bound)

    forward()
    certify()
    t_fwd, t_cert = best_of(forward), best_of(certify)
    print(f"RESULT forward_ms {1e3 * t_fwd:.2f} ms 1000 images")
    print(f"RESULT certify_ms {1e3 * t_cert:.2f} ms same images, bound reused")
    print(f"RESULT certify_over_forward {t_cert / t_fwd:.3f} x target <= 1.2")
    print(f"RESULT sound_bound_ms {1e3 * bound_time:.2f} ms exact SVD of 3 layers, once")


if __name__ == "__main__":
    main()
