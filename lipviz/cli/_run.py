"""``lipviz run NAME [--preset smoke|full] [--out DIR] [--device DEVICE] [--set KEY=VALUE ...]``:
one registered experiment into a run folder. Runs resume from ``DIR/checkpoint.pt``.
Data-parallel on several processes with ``torchrun --standalone --nproc_per_node=N -m lipviz
run ...``.

The exit status is 0 for a finished run (its summary on stdout), 2 for bad input, 1 for a run
that diverged or produced a NaN. Bad input is an unknown experiment, preset or config field, a
``--set`` item that is not ``KEY=VALUE``, a value of the wrong type or out of range, a device
this machine does not have, or a run folder whose checkpoint this run cannot resume. Every error
is one line on stderr, and nothing is written to the run folder before the input is checked.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import typing
from pathlib import Path

from ..config import DATASET_SHAPES
from ..experiments import EXPERIMENTS, get_experiment
from ..locks import FolderBusyError
from ..train import CheckpointError

__all__ = ["main"]

PROG = "lipviz"


class _UsageError(Exception):
    """A bad command line, reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises its errors (one line each) instead of exiting."""

    def error(self, message):
        raise _UsageError(message)


def _value(text: str):
    """A ``--set`` value: a Python literal (``3``, ``0.5``, ``(0.0, 0.3)``, ``True``), else the
    text itself (``mnist``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _overrides(items, experiment: str) -> dict:
    """The ``--set KEY=VALUE`` items as a dict, or a _UsageError naming the bad item."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            msg = f"--set expects KEY=VALUE, got {item!r}"
            raise _UsageError(msg)
        if key in out:
            msg = f"--set gives {key} twice"
            raise _UsageError(msg)
        out[key] = _value(text.strip())
    cls = EXPERIMENTS[experiment].config if experiment in EXPERIMENTS else None
    hints = typing.get_type_hints(cls) if cls is not None else {}
    for key, value in out.items():  # resolve() skips None: refuse it where it is no value
        if value is None and key in hints and type(None) not in typing.get_args(hints[key]):
            msg = f"{cls.__name__}.{key} cannot be None (leave it out to keep the preset's)"
            raise _UsageError(msg)
    return out


def _device(text: str | None) -> str | None:
    """``text`` if this machine has that device, else a _UsageError."""
    if text is None:
        return None
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        msg = f"--device expects cpu, cuda or cuda:N, got {text!r}"
        raise _UsageError(msg) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            msg = f"--device {text}: this machine has {count} CUDA device(s)"
            raise _UsageError(msg)
    elif device.type != "cpu":
        msg = f"--device expects cpu, cuda or cuda:N, got {text!r}"
        raise _UsageError(msg)
    return text


def _preflight(name: str, cfg) -> None:
    """Build the run's model once and call the experiment's own preflight (LMT's objective), so
    that a bad model or activation name is reported before any data is loaded or file written."""
    experiment = EXPERIMENTS[name]
    try:
        if experiment.build_model is not None:
            experiment.build_model(cfg, DATASET_SHAPES[cfg.dataset])
        if experiment.preflight is not None:
            experiment.preflight(cfg)
    except TypeError as err:  # a builder that does not take a setting of this config
        msg = f"{type(cfg).__name__} does not build a model: {err}"
        raise ValueError(msg) from None


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run an experiment into a run folder")
    run.add_argument("name", help=f"the experiment: {', '.join(sorted(EXPERIMENTS))}")
    run.add_argument("--preset", default="smoke", help="smoke (CPU, default), full, or another")
    run.add_argument("--out", default=None, help="run folder (default runs/<name>-<preset>)")
    run.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if any)")
    run.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    return parser


def _fail(err: BaseException, status: int, prog: str = PROG) -> int:
    text = " ".join(str(err).split()) or type(err).__name__
    sys.stderr.write(f"{prog} run: error: {text}\n")
    return status


def main(argv=None, prog: str = PROG) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``), e.g. ``["run", "lmt", "--set", "epochs=1"]``.
    prog : str
        The command's name in messages.

    Returns
    -------
    int
        The exit status: 0 for a finished run, 2 for bad input, 1 for a run that diverged or
        produced a NaN (each error one line on stderr).

    Examples
    --------
    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     status = main(["run", "lmt", "--set", "n_test=0"])
    >>> status, err.getvalue()
    (2, 'lipviz run: error: LMTConfig.n_test must be >= 1, got 0\\n')
    """
    try:
        args = _parser(prog).parse_args(argv)
        cfg = get_experiment(args.name).resolve(args.preset, **_overrides(args.set, args.name))
        device = _device(args.device)
        out = Path(args.out or f"runs/{args.name}-{args.preset}")
        if out.exists() and not out.is_dir():
            msg = f"--out {out} is a file, not a run folder"
            raise _UsageError(msg)
        _preflight(args.name, cfg)
    except (_UsageError, ValueError) as err:
        return _fail(err, 2, prog)
    try:
        result = EXPERIMENTS[args.name].run(cfg, out, device=device)
    except (CheckpointError, FolderBusyError) as err:  # another run's folder, or in use
        return _fail(err, 2, prog)
    except FloatingPointError as err:  # diverged, or a NaN result: nothing published
        return _fail(err, 1, prog)
    if result.summary is not None:  # under torchrun: rank 0
        sys.stdout.write(json.dumps(result.summary, indent=2) + "\n")
    from torch import distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # the other ranks wait for rank 0's certificate, then all leave together
        dist.destroy_process_group()
    return 0
