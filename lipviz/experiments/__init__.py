"""Experiments: each is one function ``run(cfg, out_dir=None, *, device=None, progress=True)``,
shared by its book chapter and the command line
(``python -m lipviz.experiments run lmt --preset full --out runs/lmt-full``).

:data:`RUNNERS` maps each experiment's name (as in :func:`lipviz.resolve`) to its runner.
"""

from . import lmt, locallip, soc
from .cache import cached_run, code_fingerprint, prune_cache, run_key
from .lmt import run_lmt
from .locallip import run_locallip
from .margins2d import Margins2DResult, run_margins2d
from .results import LoadedRun, load_run, runs_table
from .runs import RunResult, run_folder, write_json
from .soc import run_soc

RUNNERS = {"lmt": run_lmt, "locallip": run_locallip, "margins2d": run_margins2d, "soc": run_soc}
"""Every runner, by experiment name: one signature, so the command line needs no special case."""

MODEL_BUILDERS = {"lmt": lmt.build_model, "locallip": locallip.build_model, "soc": soc.build_model}
"""Each trained experiment's ``build_model(cfg, input_shape)``, for :func:`load_run`."""

__all__ = [
    "MODEL_BUILDERS",
    "RUNNERS",
    "LoadedRun",
    "Margins2DResult",
    "RunResult",
    "cached_run",
    "code_fingerprint",
    "load_run",
    "prune_cache",
    "run_folder",
    "run_key",
    "run_lmt",
    "run_locallip",
    "run_margins2d",
    "run_soc",
    "runs_table",
    "write_json",
]
