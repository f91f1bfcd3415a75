"""Experiments: each is one function, shared by its book chapter and the command line
(``python -m lipviz.experiments run lmt --preset full --out runs/lmt-full``)."""

from .lmt import LMTResult, run_lmt
from .margins2d import Margins2DResult, run_margins2d
from .results import load_run, runs_table
from .runs import run_folder
from .soc import run_soc

__all__ = [
    "LMTResult",
    "Margins2DResult",
    "load_run",
    "run_lmt",
    "run_folder",
    "run_margins2d",
    "run_soc",
    "runs_table",
]
