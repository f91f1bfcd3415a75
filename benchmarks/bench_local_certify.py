"""What local certificates cost, side by side with a plain forward pass of the same inputs.

4C3F with clipped ReLUs (Local-Lip's layout, untrained) on 64 mnist5k test images at the
paper's MNIST radius 1.58: the sound local bound (exact masked SVDs and channel-restricted FFT
bounds, per input), the same sound bound computed again for the same weights (the convolutions'
factors then come from a cache keyed by the kernel's digest), the power-iteration estimate, and
the global sound bound.
"""

import time

import torch

import lipviz


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    model = lipviz.create_model("4c3f", activation="clipped-relu", normalize=None).eval()
    x = lipviz.load_dataset("mnist5k", "test").x[:64]
    with torch.no_grad():
        _, t_fwd = _timed(lambda: model(x))
    sound, t_sound = _timed(lambda: lipviz.local_lipschitz_bound(model, x, 1.58))
    # again, same weights: the convolutions' sound factors come from the cache this time
    _, t_sound_again = _timed(lambda: lipviz.local_lipschitz_bound(model, x, 1.58))
    est, t_est = _timed(lambda: lipviz.local_lipschitz_bound(model, x, 1.58, "estimate", n_iter=50))
    glob, t_glob = _timed(lambda: lipviz.lipschitz_bound(model, (1, 28, 28)).value)
    per = 1e3 * t_sound / len(x)
    print(f"RESULT local_sound_ms_per_input {per:.0f} ms 4c3f clipped-relu, eps 1.58, 64 inputs")
    print(f"RESULT local_sound_over_forward {t_sound / t_fwd:.0f} x forward = {1e3 * t_fwd:.1f} ms")
    print(
        f"RESULT local_sound_repeat_over_first {t_sound_again / t_sound:.2f} x same weights "
        "and inputs: conv factors cached"
    )
    print(f"RESULT local_estimate_over_sound {t_est / t_sound:.2f} x power iteration, 50 steps")
    ratio = float(sound.values.mean()) / glob
    print(f"RESULT local_over_global_bound {ratio:.3f} x untrained model, mean over inputs")
    print(f"RESULT global_bound_ms {1e3 * t_glob:.0f} ms once per model")


if __name__ == "__main__":
    main()
