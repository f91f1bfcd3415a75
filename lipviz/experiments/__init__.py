"""Experiments: each is one function, shared by its book chapter and by plain Python scripts."""

from .margins2d import Margins2DResult, run_margins2d

__all__ = ["Margins2DResult", "run_margins2d"]
