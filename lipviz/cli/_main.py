"""The ``lipviz`` command line (also ``python -m lipviz``).

``lipviz batch run NAME_OR_FILE --out DIR [--workers N | --scheduler ADDRESS] [--jobs ID ...]``
executes a batch of chapter notebooks (resumable: rerun the same command after an interruption),
``lipviz batch status DIR`` shows each job's state, ``lipviz batch report DIR`` sets the results
against the papers (``report.csv``, ``report.md``, ``report.png``), ``lipviz batch list`` names
the shipped batches. ``lipviz run NAME [--preset P] [--out DIR] [--set KEY=VALUE ...]`` runs one
registered experiment into a run folder (``torchrun ... -m lipviz run ...`` for several
processes).
``lipviz data status`` shows the data folder and which registered files are present;
``lipviz data fetch NAME`` downloads a dataset's files (hash-checked) into it.
``lipviz certify RUN`` re-certifies a finished run folder's model on its test images and sets
the result against its ``summary.json``; ``lipviz audit RUN`` attacks the certified ones inside
their radii. ``lipviz --version`` prints the version.

Bad input to ``lipviz batch`` (an unknown option or value, a malformed or missing batch file, an
unknown job id, an output folder that cannot be one) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from ._run import main as run_experiment

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
    from .. import __version__

    parser = _Parser(prog="lipviz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"lipviz {__version__}")
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
    run.add_argument(
        "--book", default=None, metavar="DIR", help="the book's folder (default: the checkout's)"
    )
    for name, text in (("status", "each job's state"), ("report", "results against the papers")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("out", help="the batch's output folder")
    sub.add_parser("list", help="the shipped batch files")
    data = top.add_parser("data", help="the data folder: status, fetch")
    dsub = data.add_subparsers(dest="action", required=True)
    dsub.add_parser("status", help="the data folder and which registered files are present")
    fetch = dsub.add_parser("fetch", help="download a dataset's files (hash-checked)")
    fetch.add_argument("dataset", help="a dataset name (lipviz data status lists the files)")
    for name, text in (
        ("certify", "re-certify a run folder's model and compare with its summary"),
        ("audit", "attack a run folder's certified test images inside their radii"),
    ):
        cmd = top.add_parser(name, help=text)
        cmd.add_argument("run", help="a finished run folder (summary.json, config.json, model.pt)")
        cmd.add_argument(
            "--n", type=_positive, default=None, help="first N test images (default: the run's)"
        )
        cmd.add_argument(
            "--dataset",
            default=None,
            help="another dataset's test split of the same input shape (e.g. "
            "cifar10-exact-subset for a run trained on cifar10-jpeg; default: the run's)",
        )
        if name == "audit":
            cmd.add_argument("--steps", type=_positive, default=50, help="PGD steps (default 50)")
            cmd.add_argument("--restarts", type=_positive, default=2, help="PGD restarts")
    top.add_parser(
        "run",
        help="one experiment into a run folder: lipviz run NAME --preset P --out DIR",
        add_help=False,
        prefix_chars="\0",
    )
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
        return run_experiment(argv)
    try:
        args = _parser().parse_args(argv)
    except _UsageError as err:
        sys.stderr.write(f"{err}\n")
        return 2
    if args.command == "data":
        return _data(args)
    if args.command in ("certify", "audit"):
        return _run_folder(args)
    from filelock import Timeout

    from .. import batch as b

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
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        sys.stdout.write(_readable(table).to_string(index=False) + "\n")
    return 1 if args.action == "run" and (table.state == "failed").any() else 0


def _readable(table):
    """A table for a terminal: numbers to 4 significant digits (times to whole seconds), empty
    cells as "-" (never NaN or None), long labels cut at 40 characters."""
    import math

    def cell(value, column: str) -> str:
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if isinstance(value, float):
            return f"{value:.0f}" if column.endswith("_s") else f"{value:.4g}"
        text = " ".join(str(value).split())
        return text if len(text) <= 40 else text[:39] + "…"

    return table.astype(object).apply(lambda col: [cell(v, col.name) for v in col])


def _data(args) -> int:
    """Run the ``lipviz data`` action; the exit status."""
    from .. import data

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


def _load_for_check(args):
    """The run folder's model and its first test images, or a one-line error (exit 2)."""
    from .. import data
    from ..experiments import load_run

    try:
        run = load_run(args.run)
    except (FileNotFoundError, ValueError) as err:
        raise _UsageError(" ".join(str(err).split())) from err
    if run.model is None or run.config is None:
        msg = f"{args.run} has no model.pt to check (a summary alone cannot be re-certified)"
        raise _UsageError(msg)
    name = args.dataset or run.config.dataset
    if name not in data.available_datasets():
        msg = f"unknown dataset {name!r} (known: {', '.join(data.available_datasets())})"
        raise _UsageError(msg)
    if name != run.config.dataset and _shape(name) != _shape(run.config.dataset):
        msg = (
            f"{name} has inputs of shape {_shape(name)}, the run's model takes "
            f"{_shape(run.config.dataset)} ({run.config.dataset})"
        )
        raise _UsageError(msg)
    missing = data.missing_data(name)
    if missing:
        raise _UsageError(missing)
    n = args.n or (run.config.n_test if name == run.config.dataset else None)
    test = data.load_dataset(name, "test")
    return run, test if n is None else test.subset(n)


def _shape(dataset: str):
    from ..config import DATASET_SHAPES

    return DATASET_SHAPES[dataset]


def _run_folder(args) -> int:
    """``lipviz certify RUN`` and ``lipviz audit RUN``; the exit status.

    certify: 0 when every committed number is reproduced (or, on fewer images than the run
    certified, printed for comparison), 1 when one differs. audit: 0 when no attack succeeds
    inside a certified radius, 1 otherwise.
    """
    import pandas as pd

    from .. import certified_accuracy
    from ..certify import Certifier

    try:
        run, test = _load_for_check(args)
    except _UsageError as err:
        sys.stderr.write(f"lipviz: {err}\n")
        return 2
    local = str(run.summary.get("certificate", "")).startswith("local")
    eps = [float(e) for e in run.config.eps]
    shape = tuple(test.x.shape[1:])
    if args.command == "certify":
        if local:
            table = certified_accuracy(run.model, test.x, test.y, eps, method="local")
        else:
            certifier = Certifier(run.model, shape, mode="sound")
            table = certified_accuracy(run.model, test.x, test.y, eps, certifier=certifier)
        same_data = test.name == run.config.dataset
        committed = run.summary["certified_accuracy"] if same_data else {}
        table["committed"] = [committed.get(str(e)) for e in table.eps]
        whole = same_data and len(test.y) == run.config.n_test
        table["same"] = [
            (c is not None and abs(ours - c) <= 1e-6) if whole else "n/a"
            for ours, c in zip(table.certified_accuracy, table.committed, strict=True)
        ]
        head = f"{args.run}: {run.summary.get('method')} on {len(test.y)} images of {test.label}"
        sys.stdout.write(f"{head}, {table.kind.iloc[-1]}\n")
        with pd.option_context("display.width", 120):
            sys.stdout.write(table.to_string(index=False) + "\n")
        return 0 if not whole or all(table.same) else 1
    return _audit(run, test, eps, local, args)


def _audit(run, test, eps, local: bool, args) -> int:
    """Attack every certified test image inside its certified radius; the exit status."""
    import torch

    from .. import audit, local_certified, pgd_l2

    if not local:
        report = audit(run.model, test.x, test.y, restarts=args.restarts, steps=args.steps)
        sys.stdout.write(f"{args.run}:\n{report.to_frame().to_string()}\n")
        return 0 if report.passed else 1
    with torch.no_grad():
        correct = run.model(test.x).argmax(1) == test.y
    broken = 0
    for e in (e for e in eps if e > 0):
        idx = (local_certified(run.model, test.x, e) & correct).nonzero().flatten()
        if len(idx):
            x, y = test.x[idx], test.y[idx]
            attack = pgd_l2(run.model, x, y, e, steps=args.steps, restarts=args.restarts)
            n = int(attack.success.sum())
        else:
            n = 0
        broken += n
        sys.stdout.write(f"eps {e:g}: {len(idx)} locally certified, {n} broken by PGD\n")
    return 0 if broken == 0 else 1


def _batch(b, args):
    """Run the ``lipviz batch`` action; the table to show (None when it wrote its own text)."""
    if args.action == "list":
        for name in b.shipped_batches():
            spec = b.load_batch(name)
            sys.stdout.write(f"{name}: {len(spec.jobs)} jobs. {spec.description}\n")
        return None
    if args.action == "run":
        if args.book is not None:  # the chapters of an installed lipviz (no checkout)
            os.environ[b.BOOK_ENV] = str(Path(args.book).resolve())
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
