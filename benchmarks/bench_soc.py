"""SOC layer against its floor of K plain convolutions, side by side (CPU).

At (B, C, H) in {(64, 32, 32), (64, 64, 16), (64, 128, 8)}, 3x3 kernels: the SOC forward +
backward in training (5 terms) against 5 plain same-size convolutions forward + backward, and the
SOC forward in eval (12 terms) against 12 plain convolutions.
"""

import time

import torch
from torch.nn import functional as F  # noqa: N812

from lipviz.layers import SOC


def best_of(fn, repeats=7):
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    torch.manual_seed(0)
    for b, c, h in ((64, 32, 32), (64, 64, 16), (64, 128, 8)):
        x = torch.randn(b, c, h, h)
        soc = SOC(c, c, 3, train_terms=5, eval_terms=12)
        w = torch.randn(c, c, 3, 3, requires_grad=True)

        def soc_train(soc=soc, x=x):
            soc.train()
            soc(x.requires_grad_(True)).sum().backward()

        def floor_train(x=x, w=w, k=5):
            z = x.requires_grad_(True)
            for _ in range(k):
                z = F.conv2d(z, w, padding=1)
            z.sum().backward()

        def soc_eval(soc=soc, x=x):
            soc.eval()
            with torch.no_grad():
                soc(x)

        def floor_eval(x=x, w=w, k=12):
            with torch.no_grad():
                z = x
                for _ in range(k):
                    z = F.conv2d(z, w, padding=1)

        tag = f"B{b}_C{c}_H{h}"
        ratio_train = best_of(soc_train) / best_of(floor_train)
        ratio_eval = best_of(soc_eval) / best_of(floor_eval)
        print(f"RESULT {tag}.train_fwd_bwd_over_floor {ratio_train:.3f} x target <= 1.15 (5 terms)")
        print(f"RESULT {tag}.eval_fwd_over_floor {ratio_eval:.3f} x target <= 1.15 (12 terms)")


if __name__ == "__main__":
    main()
