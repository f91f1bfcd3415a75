"""Sound local certification of MNIST test images with a published Local-Lip model, by part.

``python benchmarks/bench_local_certify_mnist.py [RUN] [--n N]`` (default: the published
``book/results/locallip-mnist-24ep``, all 10,000 test images; needs the MNIST files,
``LIPVIZ_DATA_DIR``). It times what a run's certification does, one part after another:

- the sound local certified accuracy at the run's radii (``certified_accuracy(...,
  method="local")``), which includes the conv layers' exact Gram bounds, computed once per
  model (timed apart on a first batch of 8);
- the power-iteration estimate (not a certificate) with the run's ``estimate_n_iter``;
- the global certificate; PGD at the run's radii (50 steps).

To compare two commits, run it at each on the same machine, one after the other (a git
worktree of the older one first on ``PYTHONPATH``), and divide.
"""

import argparse
import time
from pathlib import Path

import lipviz
from lipviz.experiments import load_run
from lipviz.experiments.runs import pgd_accuracy


def main():
    parser = argparse.ArgumentParser()
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("run", nargs="?", default=str(root / "book/results/locallip-mnist-24ep"))
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--sound-only", action="store_true", help="time the sound part only")
    args = parser.parse_args()
    run = load_run(args.run)
    model, cfg = run.model, run.config
    test = lipviz.load_dataset(cfg.dataset, "test").subset(args.n)
    x, y = test.x, test.y
    note = f"{Path(args.run).name}, {len(x)} images, eps {tuple(cfg.eps)}"
    start = time.perf_counter()
    lipviz.local_certified(model, x[:8], max(cfg.eps))
    first = time.perf_counter() - start
    start = time.perf_counter()
    sound = lipviz.certified_accuracy(model, x, y, cfg.eps, method="local")
    t_sound = time.perf_counter() - start
    print(f"RESULT first_batch_s {first:.1f} s 8 images at the largest eps (+ Gram bounds), {note}")
    print(f"RESULT sound_local_s {t_sound:.1f} s {note}")
    print(f"RESULT sound_local_ms_per_image {1000 * t_sound / len(x):.1f} ms {note}")
    print(f"RESULT sound_local_with_gram_s {first + t_sound:.1f} s {note}")
    for e, acc in zip(sound.eps, sound.certified_accuracy, strict=True):
        print(f"RESULT sound_local_certified_at_{e:g} {acc:.4f} fraction {note}")
    if args.sound_only:
        return
    start = time.perf_counter()
    lipviz.certified_accuracy(
        model, x, y, cfg.eps, method="local", mode="estimate", n_iter=cfg.estimate_n_iter
    )
    t_estimate = time.perf_counter() - start
    start = time.perf_counter()
    lipviz.certified_accuracy(model, x, y, cfg.eps)
    t_global = time.perf_counter() - start
    start = time.perf_counter()
    pgd_accuracy(model, x, y, cfg.eps)
    t_pgd = time.perf_counter() - start
    print(f"RESULT estimate_s {t_estimate:.1f} s n_iter {cfg.estimate_n_iter}, {note}")
    print(f"RESULT global_s {t_global:.1f} s {note}")
    print(f"RESULT pgd_s {t_pgd:.1f} s 50 steps, {note}")
    total = first + t_sound + t_estimate + t_global + t_pgd
    print(f"RESULT all_parts_s {total:.1f} s {note}")


if __name__ == "__main__":
    main()
