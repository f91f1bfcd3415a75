"""Sound local certification of the whole MNIST test set (10,000 images) against a plain
forward pass of the same images, side by side in one run.

The model is 4C3F with clipped ReLUs (Local-Lip's layout). Pass a Local-Lip run folder to
certify its trained weights (``python benchmarks/bench_local_certify_mnist.py runs/locallip-full``);
without one the weights are the untrained initialisation. ε = 1.58, batches of 256; needs the
MNIST files (``LIPVIZ_DATA_DIR``). On untrained weights no neuron is fixed, every input has the
same masks and each masked norm is computed once per batch: the fast case. A trained model has
a mask per input (about 40 ms per input on the smoke-trained 4C3F).
"""

import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

import lipviz


def main():
    model = lipviz.create_model("4c3f", activation="clipped-relu", normalize=None)
    label = "untrained"
    if len(sys.argv) > 1 and (Path(sys.argv[1]) / "checkpoint.pt").exists():
        state = torch.load(Path(sys.argv[1]) / "checkpoint.pt", weights_only=False)
        model.load_state_dict(state["best"]["state"] or state["model"])
        label = f"trained ({sys.argv[1]})"
    model.eval()
    test = lipviz.load_dataset("mnist", "test")
    x, y = test.x, test.y
    start = time.perf_counter()
    with torch.no_grad():
        correct = torch.cat([model(b).argmax(1) for b in x.split(256)]) == y
    t_fwd = time.perf_counter() - start
    start = time.perf_counter()
    ok = torch.cat([lipviz.local_certified(model, b, 1.58) for b in tqdm(x.split(256))])
    t_local = time.perf_counter() - start
    note = f"4c3f clipped-relu {label}, {len(x)} images, eps 1.58"
    print(f"RESULT local_certify_mnist_test_s {t_local:.0f} s {note}")
    print(f"RESULT local_certify_over_forward {t_local / t_fwd:.0f} x forward = {t_fwd:.2f} s")
    print(f"RESULT local_certified_accuracy {float((ok & correct).double().mean()):.4f} {note}")


if __name__ == "__main__":
    main()
