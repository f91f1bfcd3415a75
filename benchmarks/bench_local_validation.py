"""A Local-Lip training run's validation, with and without the exact convolution norms.

``python benchmarks/bench_local_validation.py [RUN] [--n N]`` (default: the published
``book/results/locallip-mnist-24ep`` on the first 100 validation images of MNIST-5k, which is
embedded: no data folder needed). Each epoch a run certifies ``n_val_eval`` validation images
locally at ``select_eps`` with new weights, so every bound is computed anew: the caches of the
conv factors are cleared before each timing, as a new epoch's weights would miss them. Side by
side: ``local_certified`` with the exact norms (one Gram eigenproblem per convolution and
channel set, what certificates use) and with the channel-masked FFT bound alone
(``exact_convs=False``, what validation uses since issue 29); both are sound.
"""

import argparse
import time
from pathlib import Path

import lipviz
from lipviz.bounds.local import _norms
from lipviz.experiments import load_run


def _fresh():
    _norms._GRAM_NORMS.clear()
    _norms._FFT_NORMS.clear()


def main():
    parser = argparse.ArgumentParser()
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("run", nargs="?", default=str(root / "book/results/locallip-mnist-24ep"))
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    run = load_run(args.run)
    model, cfg = run.model, run.config
    val = lipviz.load_dataset("mnist5k", "val", seed=cfg.seed).subset(args.n)
    times, certified = {}, {}
    for exact in (True, False):
        _fresh()
        start = time.perf_counter()
        ok = lipviz.local_certified(model, val.x, cfg.select_eps, exact_convs=exact)
        times[exact] = time.perf_counter() - start
        certified[exact] = float(ok.double().mean())
    note = f"{Path(args.run).name}, {len(val.y)} MNIST-5k validation images, eps {cfg.select_eps}"
    print(f"RESULT validation_exact_convs_s {times[True]:.1f} s {note}")
    print(f"RESULT validation_fft_convs_s {times[False]:.1f} s the same, FFT bound alone")
    print(f"RESULT validation_speedup {times[True] / times[False]:.1f} x")
    print(f"RESULT certified_exact_convs {certified[True]:.3f} fraction (predicted class)")
    print(f"RESULT certified_fft_convs {certified[False]:.3f} fraction, never above the exact")


if __name__ == "__main__":
    main()
