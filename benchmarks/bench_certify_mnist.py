"""Sound certification of the 10k MNIST test images against a plain forward pass, side by side.

Model: ``lmt-mnist`` (Normalize inside). The sound bound is computed once (timed separately);
certification is then one forward pass plus the pairwise radius. Uses the real MNIST test set
when LIPVIZ_DATA_DIR has it, else the embedded mnist5k test images tiled to 10k (and says so).
"""

import time

import torch

import lipviz
from lipviz.certify import Certifier


def best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    try:
        x = lipviz.load_dataset("mnist", "test").x
        source = "MNIST test (10k)"
    except (FileNotFoundError, OSError):
        x = lipviz.load_dataset("mnist5k", "test").x.repeat(10, 1, 1, 1)
        source = "mnist5k test tiled to 10k (no MNIST files)"
    model = lipviz.models.create("lmt-mnist").eval()

    start = time.perf_counter()
    certifier = Certifier(model, (1, 28, 28))
    bound_s = time.perf_counter() - start

    def forward():
        with torch.no_grad():
            torch.cat([model(xb) for xb in x.split(4096)])

    def certify():
        certifier(x, batch_size=4096)

    forward()
    certify()
    t_fwd, t_cert = best_of(forward), best_of(certify)
    print(f"RESULT forward_ms {1e3 * t_fwd:.1f} ms {source}")
    print(
        f"RESULT certify_ms {1e3 * t_cert:.1f} ms same images, {certifier.form} form, bound reused"
    )
    print(f"RESULT certify_over_forward {t_cert / t_fwd:.3f} x target <= 1.2")
    print(f"RESULT sound_bound_once_ms {1e3 * bound_s:.1f} ms FFT/SVD bounds of all layers, once")


if __name__ == "__main__":
    main()
