"""Experiments: each is one :class:`Experiment` record (config class, runner, model builder,
chapter), registered once by its own module; the book's chapters and the command line
(``lipviz run lmt --preset full --out runs/lmt-full``) share it.

Every runner has one signature, ``run(cfg, out_dir=None, *, device=None, progress=True)``.
:data:`EXPERIMENTS` holds every registered experiment by name, and :func:`resolve` turns a name
and a preset into a config.
"""

from . import lmt, locallip, margins2d, soc
from .cache import cached_result, cached_run, code_fingerprint, prune_cache, run_key
from .lmt import run_lmt
from .locallip import run_locallip
from .margins2d import Margins2DResult, run_margins2d
from .registry import (
    EXPERIMENTS,
    Experiment,
    experiment_of,
    get_experiment,
    register_experiment,
    resolve,
)
from .results import LoadedRun, load_run, runs_table
from .runs import RunResult, run_folder, write_json
from .soc import run_soc

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "LoadedRun",
    "Margins2DResult",
    "RunResult",
    "cached_result",
    "cached_run",
    "code_fingerprint",
    "experiment_of",
    "get_experiment",
    "load_run",
    "lmt",
    "locallip",
    "margins2d",
    "prune_cache",
    "register_experiment",
    "resolve",
    "run_folder",
    "run_key",
    "run_lmt",
    "run_locallip",
    "run_margins2d",
    "run_soc",
    "runs_table",
    "soc",
    "write_json",
]
