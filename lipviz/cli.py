"""The ``lipviz`` command line (also ``python -m lipviz``).

``lipviz batch run NAME_OR_FILE --out DIR [--workers N | --scheduler ADDRESS] [--jobs ID ...]``
executes a batch of chapter notebooks (resumable: rerun the same command after an interruption),
``lipviz batch status DIR`` shows each job's state, ``lipviz batch report DIR`` sets the results
against the papers (``report.csv``, ``report.md``, ``report.png``), ``lipviz batch list`` names
the shipped batches. ``lipviz run NAME ...`` is ``python -m lipviz.experiments run NAME ...``.
``lipviz data status`` shows the data folder and which registered files are present;
``lipviz data fetch NAME`` downloads a dataset's files (hash-checked) into it.

Bad input to ``lipviz batch`` (an unknown option or value, a malformed or missing batch file, an
unknown job id, an output folder that cannot be one) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings

__all__ = ["main"]


class _UsageError(Exception):
    """A command line argparse refuses (raised instead of its usage text and exit)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        msg = f"{self.prog}: {message} (see {self.prog} --help)"
        raise _UsageError(msg)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"must be a whole number of at least 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(f"lipviz: warning: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lipviz", description=__doc__.split("\n\n")[0])
    top = parser.add_subparsers(dest="command", required=True)
    batch = top.add_parser("batch", help="batches of chapter notebooks (papermill on dask)")
    sub = batch.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a batch's unfinished jobs into DIR")
    run.add_argument("batch", help="a shipped batch (smoke, papers) or a YAML file")
    run.add_argument("--out", required=True, help="output folder (rerun to continue)")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_positive, default=None, help="local dask workers (default 2)"
    )
    where.add_argument("--scheduler", default=None, help="address of an existing dask scheduler")
    run.add_argument("--jobs", nargs="+", default=None, metavar="ID", help="run only these jobs")
    run.add_argument("--no-progress", action="store_true")
    for name, text in (("status", "each job's state"), ("report", "results against the papers")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("out", help="the batch's output folder")
    sub.add_parser("list", help="the shipped batch files")
    data = top.add_parser("data", help="the data folder: status, fetch")
    dsub = data.add_subparsers(dest="action", required=True)
    dsub.add_parser("status", help="the data folder and which registered files are present")
    fetch = dsub.add_parser("fetch", help="download a dataset's files (hash-checked)")
    fetch.add_argument("dataset", help="a dataset name (lipviz data status lists the files)")
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

        return experiments_main(argv, prog="lipviz")
    try:
        args = _parser().parse_args(argv)
    except _UsageError as err:
        sys.stderr.write(f"{err}\n")
        return 2
    if args.command == "data":
        return _data(args)
    from filelock import Timeout

    from . import batch as b

    with warnings.catch_warnings():  # a corrupt result record: one line on stderr
        warnings.simplefilter("default", b.CorruptResultWarning)
        warnings.showwarning = _one_line_warning
        try:
            table = _batch(b, args)
        except (b.BatchError, KeyError, OSError, Timeout) as err:
            text = err.args[0] if isinstance(err, KeyError) and err.args else err
            sys.stderr.write(f"lipviz: {' '.join(str(text).split())}\n")
            return 2
    if table is None:
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 60):  # fmt: skip
        sys.stdout.write(table.to_string(index=False) + "\n")
    return 1 if args.action == "run" and (table.state == "failed").any() else 0


def _data(args) -> int:
    """Run the ``lipviz data`` action; the exit status."""
    from . import data

    if args.action == "status":
        sys.stdout.write(f"data folder: {data.data_dir()}\n")
        sys.stdout.write(data.file_status().to_string(index=False) + "\n")
        return 0
    if args.dataset not in data.available_datasets():
        names = ", ".join(data.available_datasets())
        sys.stderr.write(f"lipviz: unknown dataset {args.dataset!r}; known: {names}\n")
        return 2
    try:
        paths = data.fetch_dataset(args.dataset)
    except (data.DataFileMissingError, data.DataHashError) as err:
        sys.stderr.write(f"lipviz: {' '.join(str(err).split())}\n")
        return 1
    for path in paths:
        sys.stdout.write(f"{path}\n")
    if not paths:
        sys.stdout.write(f"{args.dataset} is embedded in an installed package: nothing to fetch\n")
    return 0


def _batch(b, args):
    """Run the ``lipviz batch`` action; the table to show (None when it wrote its own text)."""
    if args.action == "list":
        for name in b.shipped_batches():
            spec = b.load_batch(name)
            sys.stdout.write(f"{name}: {len(spec.jobs)} jobs. {spec.description}\n")
        return None
    if args.action == "run":
        return b.run_batch(
            args.batch,
            args.out,
            workers=2 if args.workers is None else args.workers,
            scheduler=args.scheduler,
            only=args.jobs,
            progress=not args.no_progress,
        )
    if args.action == "status":
        return b.batch_status(args.out)
    table = b.batch_report(args.out)
    columns = [
        "job",
        "state",
        "dataset",
        "method",
        "preset",
        "eps",
        "clean",
        "certified",
        "pgd",
        "paper",
        "verdict",
    ]
    return table[columns]


if __name__ == "__main__":
    sys.exit(main())
