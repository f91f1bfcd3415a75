"""The sound convolution bound against power iteration: time and tightness, side by side.

For each convolution of lmt-mnist and 4c3f at its real input size: the sound bound (FFT of the
circular convolution on the padded grid, polyphase for strides), power iteration with 20 steps
(an estimate, the usual training-time budget) and with 1000 steps (the reference lower bound:
the true norm lies between it and the sound bound).
"""

import time

import torch
from torch import nn

import lipviz
from lipviz.bounds import layer_bound


def timed(fn, repeats=3):
    """(value, best time of ``repeats`` calls after one warm-up call)."""
    value = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return value, best


def main():
    torch.manual_seed(0)
    for name in ("lmt-mnist", "4c3f"):
        model = lipviz.models.create(name)
        x = torch.zeros(1, 1, 28, 28)
        k = 0
        for module in model:
            if isinstance(module, nn.Conv2d):
                shape = tuple(x.shape[1:])
                sound, t_sound = timed(lambda m=module, s=shape: layer_bound(m, s, "sound").value)
                pi20, t_pi20 = timed(
                    lambda m=module, s=shape: layer_bound(m, s, "estimate", n_iter=20).value
                )
                ref = layer_bound(module, shape, "estimate", n_iter=1000).value
                tag = f"{name}.conv{k}"
                print(f"RESULT {tag}.sound_over_pi1000 {sound / ref:.4f} x tightness (>= 1)")
                print(f"RESULT {tag}.pi20_over_pi1000 {pi20 / ref:.4f} x estimate (<= 1)")
                note = f"{1e3 * t_sound:.1f} ms vs {1e3 * t_pi20:.1f} ms"
                print(f"RESULT {tag}.sound_time_over_pi20 {t_sound / t_pi20:.3f} x {note}")
                k += 1
            with torch.no_grad():
                x = module(x)


if __name__ == "__main__":
    main()
