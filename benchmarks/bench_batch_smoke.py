"""The ``smoke`` batch (every chapter's smoke run) on a dask LocalCluster of 2 workers against
the same jobs one after the other (1 worker), side by side in one run (issue target: at least
1.5x faster on 2 cores).

Each worker's notebook kernel gets ``cores // workers`` torch threads: 1 each with 2 workers,
2 for the single worker. The parallel batch runs first, so the sequential one is not slowed by
cold caches. Set ``LIPVIZ_BENCH_JOBS`` (comma-separated job ids) to time a subset, and
``LIPVIZ_BENCH_KEEP`` to a folder to keep the parallel batch there (it is a temporary folder
otherwise).
"""

import os
import tempfile
import time

from lipviz.batch import load_batch, run_batch


def _timed(spec, out, workers, only):
    start = time.perf_counter()
    status = run_batch(spec, out, workers=workers, only=only, progress=False)
    elapsed = time.perf_counter() - start
    if only:
        status = status[status.job.isin(only)]
    failed = status[status.state != "done"]
    if len(failed):
        raise RuntimeError(f"jobs did not finish: {failed.to_dict('records')}")
    return elapsed


def main():
    spec = load_batch("smoke")
    only = os.environ.get("LIPVIZ_BENCH_JOBS")
    only = only.split(",") if only else None
    n = len(only) if only else len(spec.jobs)
    keep = os.environ.get("LIPVIZ_BENCH_KEEP")
    if keep and os.path.exists(keep) and os.listdir(keep):
        raise SystemExit(
            f"LIPVIZ_BENCH_KEEP={keep} must be a new folder: finished jobs are skipped"
        )
    with tempfile.TemporaryDirectory() as tmp:
        t_par = _timed(spec, keep or f"{tmp}/parallel", 2, only)
        t_seq = _timed(spec, f"{tmp}/sequential", 1, only)
    cores = os.cpu_count()
    note = (
        f"{t_seq:.0f} s one after the other vs {t_par:.0f} s on 2 workers, {n} jobs, {cores} cores"
    )
    print(f"RESULT smoke_batch_speedup_2_workers {t_seq / t_par:.2f} x {note}")


if __name__ == "__main__":
    main()
