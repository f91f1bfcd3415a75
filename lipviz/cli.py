"""The ``lipviz`` command line (also ``python -m lipviz``).

``lipviz batch run NAME_OR_FILE --out DIR [--workers N | --scheduler ADDRESS] [--jobs ID ...]``
executes a batch of chapter notebooks (resumable: rerun the same command after an interruption),
``lipviz batch status DIR`` shows each job's state, ``lipviz batch report DIR`` sets the results
against the papers (``report.csv``, ``report.md``, ``report.png``), ``lipviz batch list`` names
the shipped batches. ``lipviz run NAME ...`` is ``python -m lipviz.experiments run NAME ...``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipviz", description=__doc__.split("\n\n")[0])
    top = parser.add_subparsers(dest="command", required=True)
    batch = top.add_parser("batch", help="batches of chapter notebooks (papermill on dask)")
    sub = batch.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a batch's unfinished jobs into DIR")
    run.add_argument("batch", help="a shipped batch (smoke, papers) or a YAML file")
    run.add_argument("--out", required=True, help="output folder (rerun to continue)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="local dask workers (default 2)")
    where.add_argument("--scheduler", default=None, help="address of an existing dask scheduler")
    run.add_argument("--jobs", nargs="+", default=None, metavar="ID", help="run only these jobs")
    run.add_argument("--no-progress", action="store_true")
    for name, text in (("status", "each job's state"), ("report", "results against the papers")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("out", help="the batch's output folder")
    sub.add_parser("list", help="the shipped batch files")
    top.add_parser("run", help="one experiment: python -m lipviz.experiments run ...",
                   add_help=False, prefix_chars="\0")  # fmt: skip
    return parser


def main(argv=None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0, 1 when a batch has failed jobs, 2 for bad input.
    """
    import pandas as pd

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:
        from .experiments.__main__ import main as experiments_main

        return experiments_main(argv)
    args = _parser().parse_args(argv)
    from . import batch as b

    try:
        if args.action == "list":
            for name in b.shipped_batches():
                spec = b.load_batch(name)
                sys.stdout.write(f"{name}: {len(spec.jobs)} jobs. {spec.description}\n")
            return 0
        if args.action == "run":
            if args.workers < 1:
                msg = f"--workers must be at least 1, got {args.workers}"
                raise b.BatchError(msg)
            table = b.run_batch(args.batch, args.out, workers=args.workers,
                                scheduler=args.scheduler, only=args.jobs,
                                progress=not args.no_progress)  # fmt: skip
        elif args.action == "status":
            table = b.batch_status(args.out)
        else:
            table = b.batch_report(args.out)
            table = table[["job", "state", "dataset", "method", "eps", "clean", "certified",
                           "pgd", "paper", "verdict"]]  # fmt: skip
    except (b.BatchError, FileNotFoundError, KeyError) as err:
        sys.stderr.write(f"lipviz: {err.args[0] if err.args else err}\n")
        return 2
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 60):  # fmt: skip
        sys.stdout.write(table.to_string(index=False) + "\n")
    return 1 if args.action == "run" and (table.state == "failed").any() else 0


if __name__ == "__main__":
    sys.exit(main())
