"""Cost of the training-time Lipschitz estimate (PowerIterationBound, walked by the same walker as
the sound bound), side by side with the training step it is part of.

On the LMT MNIST model and a batch of 128 random images: one SGD step with cross-entropy, one
with the LMT objective (pairwise form: ``lip.prefix()`` and ``lip()``), and one ``lip()`` call.
"""

import time

import torch

import lipviz
from lipviz.train import LMT, CrossEntropy, PowerIterationBound


def _per_call(fn, n=40, warm=5):
    for _ in range(warm):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main():
    torch.manual_seed(0)
    model = lipviz.create_model("lmt-mnist")
    lip = PowerIterationBound(model, (1, 28, 28))
    x, y = torch.rand(128, 1, 28, 28), torch.randint(0, 10, (128,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(objective):
        def run():
            loss, _ = objective(model, x, y, lip, 0.0)
            opt.zero_grad()
            loss.backward()
            opt.step()

        return run

    t_ce = _per_call(step(CrossEntropy()))
    t_lmt = _per_call(step(LMT(c=0.1)))
    t_lip = _per_call(lambda: lip())
    note = f"{1e3 * t_lmt:.1f} vs {1e3 * t_ce:.1f} ms"
    print(f"RESULT lmt_step_over_ce_step {t_lmt / t_ce:.2f} x {note}")
    print(f"RESULT lip_call_over_ce_step {t_lip / t_ce:.3f} x one lip() = {1e3 * t_lip:.2f} ms")


if __name__ == "__main__":
    main()
