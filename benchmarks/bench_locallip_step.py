"""A Local-Lip training step against a plain cross-entropy step, side by side (issue target:
at most 4x), on 4C3F with clipped ReLUs and an MNIST-sized batch of 256.

The Local-Lip step walks the model once more (box, ball and masks with gradients) and runs
power iteration on every masked layer (``n_iter`` 2, fresh vectors per batch: memory O(batch)).
"""

import time

import torch

import lipviz
from lipviz.train import CrossEntropy, LocalLip


def _per_step(model, objective, x, y, n=5):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss, _ = objective(model, x, y, None, 10.0)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def main():
    model = lipviz.create_model("4c3f", activation="clipped-relu", normalize=None)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(256, 1, 28, 28, generator=gen), torch.randint(0, 10, (256,), generator=gen)
    t_ce = _per_step(model, CrossEntropy(), x, y)
    t_local = _per_step(model, LocalLip(eps=1.75, rampup_epochs=1.0, n_iter=2), x, y)
    note = f"{1e3 * t_local:.0f} vs {1e3 * t_ce:.0f} ms, 4c3f clipped-relu, batch 256"
    print(f"RESULT locallip_step_over_ce_step {t_local / t_ce:.2f} x {note}")


if __name__ == "__main__":
    main()
